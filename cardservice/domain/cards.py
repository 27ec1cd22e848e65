"""The Card aggregate: one preferential-treatment card and its life cycle.

active ⇄ suspended; any non-revoked → revoked (terminal); expiry is by date, derived, so no
clock has to run to expire a card. A reissue keeps the card id and number and raises the
card version (a new status index), so earlier QR codes verify as superseded.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from cardservice.domain.errors import InvalidInput, InvalidTransition

ACTIVE = "active"
SUSPENDED = "suspended"
REVOKED = "revoked"
EXPIRED = "expired"

MAX_REASON = 500


def clean_reason(reason: str, *, required: bool) -> str:
    text = (reason or "").strip()
    if required and not text:
        raise InvalidInput("a reason is required")
    if len(text) > MAX_REASON:
        raise InvalidInput(f"reason longer than {MAX_REASON} characters")
    return text


class Card(Aggregate):
    @staticmethod
    def create_id(card_id: UUID) -> UUID:
        """The id is chosen by the caller, deterministically for idempotent commands."""
        return card_id

    @event("Issued")
    def __init__(
        self,
        card_id: UUID,
        holder_id: UUID,
        card_number: str,
        category: str,
        region: str,
        masked_name: str,
        issued_at: datetime,
        expires_on: str,
        status_index: int,
        kid: str,
        actor: dict[str, Any],
        command_id: str,
        request_digest: str,
    ) -> None:
        self.holder_id = holder_id
        self.card_number = card_number
        self.category = category
        self.region = region
        self.masked_name = masked_name
        self.issued_at = issued_at
        self.version_issued_at = issued_at
        self.expires_on = expires_on
        self.status_index = status_index
        self.kid = kid
        self.card_version = 1
        self.device_key: dict[str, str] | None = None
        self.status = ACTIVE
        self.command_id = command_id
        self.request_digest = request_digest

    # -- derived state -------------------------------------------------------------------
    def status_on(self, today: date) -> str:
        """Status as a verifier sees it on a calendar day: revoked > suspended > expired."""
        if self.status in (REVOKED, SUSPENDED):
            return self.status
        if today > date.fromisoformat(self.expires_on):
            return EXPIRED
        return ACTIVE

    # -- commands ------------------------------------------------------------------------
    def suspend(
        self, reason: str, actor: dict[str, Any], at: datetime, command_id: str = ""
    ) -> None:
        if self.status != ACTIVE:
            raise InvalidTransition(f"only an active card can be suspended; it is {self.status}")
        self._suspended(
            reason=clean_reason(reason, required=True), actor=actor, at=at, command_id=command_id
        )

    def reinstate(
        self, reason: str, actor: dict[str, Any], at: datetime, command_id: str = ""
    ) -> None:
        if self.status != SUSPENDED:
            raise InvalidTransition(f"only a suspended card can be reinstated; it is {self.status}")
        self._reinstated(
            reason=clean_reason(reason, required=False), actor=actor, at=at, command_id=command_id
        )

    def revoke(
        self, reason: str, actor: dict[str, Any], at: datetime, command_id: str = ""
    ) -> None:
        if self.status == REVOKED:
            raise InvalidTransition("the card is already revoked")
        self._revoked(
            reason=clean_reason(reason, required=True), actor=actor, at=at, command_id=command_id
        )

    def reissue(
        self,
        *,
        reason: str,
        status_index: int,
        kid: str,
        device_key: dict[str, str] | None,
        actor: dict[str, Any],
        at: datetime,
    ) -> None:
        """A new version of the same card (new device key or new signing key)."""
        if self.status == REVOKED:
            raise InvalidTransition("a revoked card cannot be reissued")
        self._reissued(
            reason=reason,
            card_version=self.card_version + 1,
            status_index=status_index,
            kid=kid,
            device_key=device_key,
            actor=actor,
            at=at,
        )

    # -- events --------------------------------------------------------------------------
    @event("Suspended")
    def _suspended(self, reason: str, actor: dict[str, Any], at: datetime, command_id: str) -> None:
        self.status = SUSPENDED

    @event("Reinstated")
    def _reinstated(
        self, reason: str, actor: dict[str, Any], at: datetime, command_id: str
    ) -> None:
        self.status = ACTIVE

    @event("Revoked")
    def _revoked(self, reason: str, actor: dict[str, Any], at: datetime, command_id: str) -> None:
        self.status = REVOKED

    @event("Reissued")
    def _reissued(
        self,
        reason: str,
        card_version: int,
        status_index: int,
        kid: str,
        device_key: dict[str, str] | None,
        actor: dict[str, Any],
        at: datetime,
    ) -> None:
        self.card_version = card_version
        self.status_index = status_index
        self.kid = kid
        self.device_key = device_key
        self.version_issued_at = at
