"""Key custody: the issuer keyring, rotation, compromise and the signing-key lookups.

Two uses, one active key each: `card` keys sign cards, `bundle` keys sign offline bundles
(`cardservice.bundles`); a key signs only for its own use. Private keys are sealed with a
key derived from the master secret before they are recorded; the unsealed keys stay in
this process's memory only (the write side: the read side holds none).
"""

from __future__ import annotations

import base64
from time import monotonic

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cardservice import credentials
from cardservice.application.base import MAX_ISSUE_ATTEMPTS, ServiceApplication, retrying
from cardservice.domain.actors import Actor
from cardservice.domain.errors import InvalidTransition
from cardservice.domain.keys import BUNDLE, CARD, KEYRING_ID, IssuerKeyring
from cardservice.security import Sealer, b64u

KID_CACHE_SECONDS = 1.0


class IssuerKeys(ServiceApplication):
    """The issuer keyring: one active Ed25519 key per use, retired ones that keep verifying."""

    def _prepare(self) -> None:
        super()._prepare()
        self._issuer_kek = Sealer(self.settings.derived_key("issuer-key-wrapping"))
        self._private_keys: dict[str, tuple[str, Ed25519PrivateKey]] = {}
        """Unsealed keys by kid, each with its use."""
        self._kid_cache: tuple[str, float] | None = None

    def keyring(self) -> IssuerKeyring:
        ring = self._get_or_none(KEYRING_ID)
        if ring is None:
            self.rotate_key(Actor.system("bootstrap"))
            ring = self.repository.get(KEYRING_ID)
        assert isinstance(ring, IssuerKeyring)
        return ring

    def rotate_key(self, actor: Actor, use: str = CARD) -> str:
        """A new active Ed25519 key for `use`; the previous one of that use retires but
        keeps verifying."""
        private = Ed25519PrivateKey.generate()
        raw_public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        raw_private = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        kid = b64u(credentials.kid_for(raw_public))
        sealed = self._issuer_kek.seal(raw_private, kid.encode())
        self._kid_cache = None

        def command() -> str:
            ring = self._get_or_none(KEYRING_ID) or IssuerKeyring(at=self.now())
            ring.rotate(
                kid=kid,
                public_key=b64u(raw_public),
                sealed_private_key=base64.b64encode(sealed).decode(),
                actor=actor.as_dict(),
                at=self.now(),
                use=use,
            )
            self.save(ring)
            self._private_keys[kid] = (use, private)
            return kid

        return retrying(command, attempts=MAX_ISSUE_ATTEMPTS, busy="the keyring is busy; try again")

    def compromise_key(self, kid: str, reason: str, actor: Actor) -> None:
        """Everything the key signed verifies as key_compromised; a new key takes over."""

        def command() -> str | None:
            ring = self.keyring()
            use = str(ring.key(kid).get("use", CARD))
            was_active = ring.active_for(use) == kid
            ring.compromise(kid, reason, actor.as_dict(), self.now())
            self.save(ring)
            return use if was_active else None

        replaced = retrying(command)
        self._kid_cache = None
        self._private_keys.pop(kid, None)
        if replaced is not None:
            self.rotate_key(actor, replaced)

    def _signing_key(self, kid: str, use: str = CARD) -> Ed25519PrivateKey:
        """The private key `kid`, refused unless it is a key for `use`."""
        found = self._private_keys.get(kid)
        if found is None:
            entry = self.keyring().key(kid)
            raw = self._issuer_kek.unseal(
                base64.b64decode(entry["sealed_private_key"]), kid.encode()
            )
            found = (str(entry.get("use", CARD)), Ed25519PrivateKey.from_private_bytes(raw))
            self._private_keys[kid] = found
        if found[0] != use:
            raise InvalidTransition(f"key {kid} is a {found[0]} key, not a {use} key")
        return found[1]

    def recent_active_kid(self) -> str:
        """The active kid, re-read at most once a second: for bulk batches, where the
        keyring read would otherwise be a round trip per batch. A rotation or compromise in
        this process clears it at once, in another within a second; a card signed by a key
        compromised since is re-signed when its holder next opens it (`refresh_signature`)."""
        cached, now = self._kid_cache, monotonic()
        if cached is not None and now - cached[1] < KID_CACHE_SECONDS:
            return cached[0]
        kid = self.active_kid()
        self._kid_cache = (kid, now)
        return kid

    def active_kid(self, use: str = CARD) -> str:
        """The active key of `use`, created when there is none (a fresh keyring, a database
        from before bundle keys, or right after a compromise)."""
        ring = self.keyring()
        kid = ring.active_for(use)
        if kid is None:
            return self.rotate_key(Actor.system("no-active-key"), use)
        return kid

    def bundle_signing_key(self) -> tuple[str, Ed25519PrivateKey]:
        """The active bundle key (created when none is active) and its private key."""
        kid = self.active_kid(BUNDLE)
        return kid, self._signing_key(kid, BUNDLE)
