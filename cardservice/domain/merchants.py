"""Merchants and scenic sites that verify cards, each with a hashed API key."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from cardservice.domain.errors import InvalidTransition

KINDS: tuple[str, ...] = ("merchant", "scenic_site")


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

    @event("ApiKeyRotated")
    def _key_rotated(
        self, key_hash: str, previous_hash: str, actor: dict[str, Any], at: datetime
    ) -> None:
        self.key_hash = key_hash

    @event("Deactivated")
    def _deactivated(self, reason: str, actor: dict[str, Any], at: datetime) -> None:
        self.active = False
