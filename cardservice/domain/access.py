"""Administrator tokens: a role bound to a region subtree.

A token's aggregate id is derived from the hash of the token, so authenticating is one
keyed read by id (read-your-writes, no view lag) and the token itself is never stored.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from cardservice.domain.errors import InvalidTransition

TOKEN_NAMESPACE = uuid.UUID("a2d4c6e8-1f3b-4d5a-8c7e-9b0a1c2d3e4f")

DEFAULT_TOKEN_DAYS = 365
MAX_TOKEN_DAYS = 3650

ROLES: tuple[str, ...] = ("admin", "issuer", "catalog_manager", "auditor")

# What each role may do; every role acts only inside its own region subtree.
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"read", "cards", "catalog", "merchants", "tokens", "keys", "holders"}),
    "issuer": frozenset({"read", "cards"}),
    "catalog_manager": frozenset({"read", "catalog", "merchants"}),
    "auditor": frozenset({"read"}),
}


def token_id_for(token_hash: str) -> UUID:
    return uuid.uuid5(TOKEN_NAMESPACE, token_hash)


class AdminToken(Aggregate):
    @staticmethod
    def create_id(token_hash: str) -> UUID:
        return token_id_for(token_hash)

    @event("Minted")
    def __init__(
        self,
        token_hash: str,
        role: str,
        region: str,
        actor: dict[str, Any],
        at: datetime,
        expires_at: datetime | None = None,
    ) -> None:
        """`expires_at` is never after the minter's; tokens minted before expiry existed
        last the default term from their minting."""
        self.token_hash = token_hash
        self.role = role
        self.region = region
        self.minted_by = actor
        self.minted_at = at
        self.expires_at = expires_at or at + timedelta(days=DEFAULT_TOKEN_DAYS)
        self.revoked = False

    @property
    def minter_id(self) -> str:
        """The id of the token that minted this one (`bootstrap` for the env token)."""
        return str(self.minted_by.get("id", ""))

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def revoke(self, reason: str, actor: dict[str, Any], at: datetime) -> None:
        if self.revoked:
            raise InvalidTransition("the token is already revoked")
        self._revoked(reason=reason, actor=actor, at=at)

    @event("Revoked")
    def _revoked(self, reason: str, actor: dict[str, Any], at: datetime) -> None:
        self.revoked = True
