"""Secrets handling: sealing with AES-GCM, token hashing and constant-time checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cardservice.domain.activation import code_from_bits


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sealer:
    """AES-256-GCM with a random nonce; `context` binds a ciphertext to what it belongs to."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @staticmethod
    def new_key() -> bytes:
        return AESGCM.generate_key(256)

    def seal(self, plaintext: bytes, context: bytes = b"") -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext, context)

    def unseal(self, sealed: bytes, context: bytes = b"") -> bytes:
        if len(sealed) < 12 + 16:
            raise ValueError("sealed data too short")
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], context)
        except InvalidTag:
            raise ValueError("sealed data failed authentication") from None


def new_secret_token(prefix: str) -> str:
    """A bearer secret with a readable prefix (so a leaked one is easy to recognise)."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    """Tokens are 256-bit random, so a plain SHA-256 is a safe at-rest form."""
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


HOLDER_TOKEN_PREFIX = "ht_"  # noqa: S105 - a prefix, not a secret
MAX_HOLDER_TOKEN = 200


class HolderTokens:
    """Holder tokens: one per session, which only the redemption of an activation code
    starts.

    A token is derived from the session id under a server key (256 pseudo-random bits),
    so an idempotent replay of the activation can answer the same session again, while
    only hashes are recorded: a keyed hash the write side checks in constant time, and a
    plain SHA-256 for the read side's session view (which holds no key; a plain hash of a
    256-bit random value reveals nothing).
    """

    def __init__(self, derive_key: bytes, hash_key: bytes) -> None:
        self._derive_key = derive_key
        self._hash_key = hash_key

    def for_session(self, session_id: UUID) -> str:
        digest = hmac.new(self._derive_key, session_id.bytes, hashlib.sha256).digest()
        return HOLDER_TOKEN_PREFIX + b64u(digest)

    def hash(self, token: str) -> str:
        """The keyed form the card's events keep and the write side compares."""
        return keyed_digest(self._hash_key, token)

    @staticmethod
    def plausible(token: str | None) -> bool:
        """Shaped like a holder token (cheap, before any hashing or lookup)."""
        return (
            token is not None
            and len(token) <= MAX_HOLDER_TOKEN
            and token.startswith(HOLDER_TOKEN_PREFIX)
        )


class ActivationCodes:
    """One-time activation codes derived from the card id and the code's serial.

    Deriving (rather than drawing) a code lets an idempotent replay of an issuance answer
    the very code it made the first time, although only the code's hash is recorded. The
    hash is keyed too: a 50-bit code under a plain hash could be found by brute force from a
    copy of the event store.
    """

    def __init__(self, derive_key: bytes, hash_key: bytes) -> None:
        self._derive_key = derive_key
        self._hash_key = hash_key

    def code_for(self, card_id: UUID, serial: int) -> str:
        message = card_id.bytes + serial.to_bytes(8, "big")
        digest = hmac.new(self._derive_key, message, hashlib.sha256).digest()
        return code_from_bits(int.from_bytes(digest[:8], "big"))

    def hash(self, code: str) -> str:
        """The recorded form of a normalized code."""
        return keyed_digest(self._hash_key, code)


def keyed_digest(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
