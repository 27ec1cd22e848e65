"""Merchants and scenic sites that verify cards, each with a hashed API key."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from cardservice.domain.errors import InvalidTransition

KINDS: tuple[str, ...] = ("merchant", "scenic_site")
EDITABLE: tuple[str, ...] = ("name", "categories", "a_level", "require_device_binding")


class Merchant(Aggregate):
    @staticmethod
    def create_id(merchant_id: UUID) -> UUID:
        return merchant_id

    @event("Registered")
    def __init__(
        self,
        merchant_id: UUID,
        name: str,
        region: str,
        kind: str,
        categories: list[str],
        a_level: int | None,
        require_device_binding: bool,
        key_hash: str,
        actor: dict[str, Any],
        at: datetime,
        command_id: str,
        request_digest: str,
    ) -> None:
        self.name = name
        self.region = region
        self.kind = kind
        self.categories = categories
        self.a_level = a_level
        self.require_device_binding = require_device_binding
        self.key_hash = key_hash
        self.active = True
        self.command_id = command_id
        self.request_digest = request_digest

    def rotate_key(self, key_hash: str, actor: dict[str, Any], at: datetime) -> None:
        if not self.active:
            raise InvalidTransition("the merchant is deactivated")
        self._key_rotated(key_hash=key_hash, previous_hash=self.key_hash, actor=actor, at=at)

    def deactivate(self, reason: str, actor: dict[str, Any], at: datetime) -> None:
        if not self.active:
            raise InvalidTransition("the merchant is already deactivated")
        self._deactivated(reason=reason, actor=actor, at=at)

    def update(self, changes: dict[str, Any], actor: dict[str, Any], at: datetime) -> None:
        """Change what the console edits (`EDITABLE`); only fields that differ are recorded."""
        if not self.active:
            raise InvalidTransition("the merchant is deactivated")
        changed = {k: v for k, v in changes.items() if k in EDITABLE and getattr(self, k) != v}
        if changed:
            self._updated(changes=changed, actor=actor, at=at)

    @event("Updated")
    def _updated(self, changes: dict[str, Any], actor: dict[str, Any], at: datetime) -> None:
        for key, value in changes.items():
            setattr(self, key, value)

    @event("ApiKeyRotated")
    def _key_rotated(
        self, key_hash: str, previous_hash: str, actor: dict[str, Any], at: datetime
    ) -> None:
        self.key_hash = key_hash

    @event("Deactivated")
    def _deactivated(self, reason: str, actor: dict[str, Any], at: datetime) -> None:
        self.active = False
