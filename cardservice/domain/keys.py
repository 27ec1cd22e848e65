"""The issuer keyring: the Ed25519 keys that sign cards and offline bundles, and their states.

Each key has a `use`: `card` keys sign cards, `bundle` keys sign offline bundles, and a key
is never trusted for the other use. One aggregate holds every key so that "exactly one key
of each use is active" is a single-aggregate invariant: a rotation activates the new key
and retires the old one of the same use in one event. Keys recorded before uses existed
are `card` keys (their events carry no `use`, and the default reads them so).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from cardservice.domain.errors import InvalidTransition, NotFound

KEYRING_ID = uuid.UUID("0b7a8f7e-59a4-4a8e-8f39-6a5b0f6f1d11")

ACTIVE = "active"
RETIRED = "retired"
COMPROMISED = "compromised"

CARD = "card"
BUNDLE = "bundle"
USES = (CARD, BUNDLE)


class IssuerKeyring(Aggregate):
    @staticmethod
    def create_id() -> UUID:
        return KEYRING_ID

    @event("Created")
    def __init__(self, at: datetime) -> None:
        self.keys: dict[str, dict[str, Any]] = {}
        self.active_kid: str | None = None
        """The active card key."""
        self.active_bundle_kid: str | None = None

    def active_for(self, use: str) -> str | None:
        return self.active_bundle_kid if use == BUNDLE else self.active_kid

    def key(self, kid: str) -> dict[str, Any]:
        try:
            return self.keys[kid]
        except KeyError:
            raise NotFound(f"no issuer key {kid}") from None

    def rotate(
        self,
        *,
        kid: str,
        public_key: str,
        sealed_private_key: str,
        actor: dict[str, Any],
        at: datetime,
        use: str = CARD,
    ) -> None:
        """Add a key and make it the active one of its use; the old active key of that use
        retires but still verifies."""
        if use not in USES:
            raise InvalidTransition(f"a key's use is one of {', '.join(USES)}, not {use}")
        if kid in self.keys:
            raise InvalidTransition(f"key {kid} already exists")
        self._rotated(
            kid=kid,
            public_key=public_key,
            sealed_private_key=sealed_private_key,
            retired_kid=self.active_for(use),
            actor=actor,
            at=at,
            use=use,
        )

    def compromise(self, kid: str, reason: str, actor: dict[str, Any], at: datetime) -> None:
        key = self.key(kid)
        if key["status"] == COMPROMISED:
            raise InvalidTransition(f"key {kid} is already compromised")
        self._compromised(kid=kid, reason=reason, actor=actor, at=at)

    @event("Rotated")
    def _rotated(
        self,
        kid: str,
        public_key: str,
        sealed_private_key: str,
        retired_kid: str | None,
        actor: dict[str, Any],
        at: datetime,
        use: str = CARD,
    ) -> None:
        if retired_kid is not None and retired_kid in self.keys:
            self.keys[retired_kid]["status"] = RETIRED
            self.keys[retired_kid]["not_after"] = at.isoformat()
        self.keys[kid] = {
            "kid": kid,
            "public_key": public_key,
            "sealed_private_key": sealed_private_key,
            "status": ACTIVE,
            "created_at": at.isoformat(),
            "not_after": None,
            "use": use,
        }
        if use == BUNDLE:
            self.active_bundle_kid = kid
        else:
            self.active_kid = kid

    @event("Compromised")
    def _compromised(self, kid: str, reason: str, actor: dict[str, Any], at: datetime) -> None:
        self.keys[kid]["status"] = COMPROMISED
        self.keys[kid]["not_after"] = self.keys[kid]["not_after"] or at.isoformat()
        if self.active_kid == kid:
            self.active_kid = None
        if self.active_bundle_kid == kid:
            self.active_bundle_kid = None
