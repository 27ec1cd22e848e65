"""Merchants and scenic sites: registration, deactivation and API-key rotation."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from cardservice.application.base import (
    IdempotencyMismatch,
    ServiceApplication,
    command_uuid,
    require_region,
    require_scope,
    retrying,
)
from cardservice.domain.actors import Actor
from cardservice.domain.errors import Conflict, InvalidInput, NotFound
from cardservice.domain.merchants import KINDS, Merchant
from cardservice.security import new_secret_token, token_hash


@dataclass(frozen=True)
class RegisteredMerchant:
    merchant: Merchant
    api_key: str | None


class Merchants(ServiceApplication):
    """A merchant's API key is shown once; only its hash is recorded."""

    def register_merchant(
        self,
        *,
        name: str,
        region: str,
        kind: str,
        categories: list[str],
        a_level: int | None,
        require_device_binding: bool,
        actor: Actor,
        command_id: str | None = None,
        request_digest: str = "",
    ) -> RegisteredMerchant:
        """Register a merchant; its API key is returned once and only its hash is kept."""
        name = name.strip()
        if not 1 <= len(name) <= 100:
            raise InvalidInput("name must be 1 to 100 characters")
        if kind not in KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(KINDS)}")
        if a_level is not None and not 1 <= a_level <= 5:
            raise InvalidInput("a_level must be 1 to 5")
        if len(categories) > 20 or any(not c or len(c) > 40 for c in categories):
            raise InvalidInput("categories: at most 20, each 1 to 40 characters")
        require_region(region)
        require_scope(actor, region, "merchants")
        merchant_id = command_uuid(actor, command_id, "merchant") if command_id else uuid.uuid4()
        if command_id:
            existing = self._get_or_none(merchant_id, version=1)
            if existing is not None:
                if existing.request_digest != request_digest:
                    raise IdempotencyMismatch(
                        "Idempotency-Key reused with a different request body"
                    )
                return RegisteredMerchant(merchant=existing, api_key=None)
        api_key = new_secret_token("mk")
        merchant = Merchant(
            merchant_id=merchant_id,
            name=name,
            region=region,
            kind=kind,
            categories=sorted(set(categories)),
            a_level=a_level,
            require_device_binding=require_device_binding,
            key_hash=token_hash(api_key),
            actor=actor.as_dict(),
            at=self.now(),
            command_id=command_id or "",
            request_digest=request_digest,
        )
        try:
            self.save(merchant)
        except IntegrityError:
            raise Conflict("a concurrent request registered this merchant") from None
        return RegisteredMerchant(merchant=merchant, api_key=api_key)

    def merchant(self, merchant_id: UUID) -> Merchant:
        merchant = self._get_or_none(merchant_id)
        if not isinstance(merchant, Merchant):
            raise NotFound(f"no merchant {merchant_id}")
        return merchant

    def update_merchant(
        self,
        merchant_id: UUID,
        changes: dict[str, Any],
        actor: Actor,
        *,
        command_id: str | None = None,
        request_digest: str = "",
    ) -> Merchant:
        """Edit name, categories, A-level or device binding (an `Updated` event); a keyed
        replay answers the merchant as the first edit left it."""
        if "name" in changes:
            changes["name"] = str(changes["name"]).strip()
            if not 1 <= len(changes["name"]) <= 100 or not changes["name"].isprintable():
                raise InvalidInput("name must be 1 to 100 printable characters")
        if "categories" in changes:
            if any(not c.isprintable() or c != c.strip() for c in changes["categories"]):
                raise InvalidInput("categories must be printable, without surrounding spaces")
            changes["categories"] = sorted(set(changes["categories"]))
        a_level = changes.get("a_level")
        if a_level is not None and not 1 <= a_level <= 5:
            raise InvalidInput("a_level must be 1 to 5")

        def command(merchant: Merchant) -> None:
            merchant.update(changes, actor.as_dict(), self.now())

        return self._merchant_command(merchant_id, actor, command, command_id, request_digest)[0]

    def deactivate_merchant(
        self,
        merchant_id: UUID,
        reason: str,
        actor: Actor,
        *,
        command_id: str | None = None,
        request_digest: str = "",
    ) -> Merchant:
        def command(merchant: Merchant) -> None:
            merchant.deactivate(reason, actor.as_dict(), self.now())

        return self._merchant_command(merchant_id, actor, command, command_id, request_digest)[0]

    def rotate_merchant_key(
        self,
        merchant_id: UUID,
        actor: Actor,
        *,
        command_id: str | None = None,
        request_digest: str = "",
    ) -> str | None:
        """A new API key, shown once (None for a keyed replay: the key is not stored)."""
        api_key = new_secret_token("mk")

        def command(merchant: Merchant) -> None:
            merchant.rotate_key(token_hash(api_key), actor.as_dict(), self.now())

        _, replayed = self._merchant_command(
            merchant_id, actor, command, command_id, request_digest
        )
        return None if replayed else api_key

    def _merchant_command(
        self,
        merchant_id: UUID,
        actor: Actor,
        change: Callable[[Merchant], None],
        command_id: str | None,
        request_digest: str,
    ) -> tuple[Merchant, bool]:
        """(merchant, replayed): load, check the scope, change and save, with its replay
        record when keyed; a replay answers the merchant at the version the first left."""

        def command() -> tuple[Merchant, bool]:
            first = self._replayed(actor, command_id, request_digest)
            if isinstance(first, Merchant):
                return first, True
            merchant = self.merchant(merchant_id)
            require_scope(actor, merchant.region, "merchants")
            change(merchant)
            self.save(merchant, *self._answered(actor, command_id, request_digest, merchant))
            return merchant, False

        return retrying(command)
