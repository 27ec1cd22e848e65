"""One-time activation codes: minting (with issuance or on request) and redemption.

A code is derived from the card id and a serial under a derived key, so the code an
issuance made can be shown again on a retried request without being stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from cardservice.application.base import MAX_ISSUE_ATTEMPTS, IdempotencyMismatch, retrying
from cardservice.application.sessions import HolderSessions
from cardservice.domain.activation import (
    ISSUANCE,
    VALID_FOR,
    ActivationCode,
    CodeUsed,
    UnknownCode,
    activation_code_id,
    display_code,
    normalize_code,
)
from cardservice.domain.actors import Actor
from cardservice.domain.cards import Card
from cardservice.domain.errors import Conflict
from cardservice.security import ActivationCodes


@dataclass(frozen=True)
class ActivationGrant:
    """A one-time activation code as handed to the holder (shown once, derivable again)."""

    card_id: UUID
    code: str  # normalized: 10 characters
    serial: int
    expires_at: datetime

    @property
    def display(self) -> str:
        return display_code(self.code)

    @property
    def url(self) -> str:
        """The holder page's link; the code is in the fragment, so no server log sees it."""
        return f"/holder#activate={self.code}"


@dataclass(frozen=True)
class NewActivation:
    grant: ActivationGrant
    replayed: bool


@dataclass(frozen=True)
class Activation:
    card: Card
    replayed: bool
    holder_token: str
    """The new session's bearer token (the same one again for a replay)."""


class Activations(HolderSessions):
    """Codes that bring a card onto a phone: the newest one works, once, for 7 days."""

    def _prepare(self) -> None:
        super()._prepare()
        self.activation_codes = ActivationCodes(
            self.settings.derived_key("activation-code"),
            self.settings.derived_key("activation-code-hash"),
        )

    def _grant(self, card_id: UUID, serial: int, expires_at: datetime) -> ActivationGrant:
        code = self.activation_codes.code_for(card_id, serial)
        return ActivationGrant(card_id=card_id, code=code, serial=serial, expires_at=expires_at)

    def pending_activation(self, card: Card) -> ActivationGrant | None:
        """The card's newest code, derived again, while it still works (else None)."""
        if card.activation_state(self.now()) != "pending" or card.activation_expires_at is None:
            return None
        return self._grant(card.id, card.activation_serial, card.activation_expires_at)

    def _mint_activation(
        self,
        card: Card,
        *,
        reason: str,
        actor: Actor,
        at: datetime,
        command_id: str = "",
        probe: bool = True,
    ) -> tuple[ActivationCode, ActivationGrant]:
        """The card's next code (pending, for the caller to save with the card).

        The next serial whose code no other card holds: the `ActivationCode` id derives
        from the code's hash, so a clash cannot be saved either way.
        """
        serial = card.activation_serial + 1
        for _ in range(MAX_ISSUE_ATTEMPTS):
            code = self.activation_codes.code_for(card.id, serial)
            code_hash = self.activation_codes.hash(code)
            if not probe or self._get_or_none(activation_code_id(code_hash)) is None:
                break
            serial += 1
        else:
            raise Conflict("could not make a fresh activation code; try again")
        expires_at = at + VALID_FOR
        card.issue_activation_code(
            code_hash=code_hash,
            serial=serial,
            expires_at=expires_at,
            reason=reason,
            actor=actor.as_dict(),
            at=at,
            command_id=command_id,
        )
        pointer = ActivationCode(code_hash=code_hash, card_id=card.id, serial=serial, at=at)
        return pointer, ActivationGrant(card.id, code, serial, expires_at)

    def _issuance_grant(self, card_id: UUID) -> ActivationGrant | None:
        """The code an issuance made (recorded right after `Issued`), derived again."""
        for ev in self.events.get(card_id, gt=1, lte=2):
            serial, expires_at = getattr(ev, "serial", None), getattr(ev, "expires_at", None)
            if getattr(ev, "reason", None) == ISSUANCE and isinstance(serial, int):
                assert isinstance(expires_at, datetime)
                return self._grant(card_id, serial, expires_at)
        return None

    def new_activation_code(
        self, card_id: UUID, actor: Actor, reason: str = "", command_id: str | None = None
    ) -> NewActivation:
        """A fresh one-time code for a card (a new or lost phone); earlier unused codes
        stop working. A retried command (same Idempotency-Key, same caller) answers the
        code it made the first time."""
        key = f"{actor.id}:{command_id}" if command_id else ""
        why = (reason or "").strip() or "new code requested"

        def command() -> NewActivation:
            card = self.card_for(card_id, actor, "cards")
            if key:
                for ev in self.events.get(card_id):
                    serial = getattr(ev, "serial", None)
                    if getattr(ev, "command_id", None) != key or not hasattr(ev, "code_hash"):
                        continue
                    if getattr(ev, "reason", None) != why:
                        raise IdempotencyMismatch(
                            "Idempotency-Key reused with a different request body"
                        )
                    expires_at = getattr(ev, "expires_at", None)
                    assert isinstance(serial, int) and isinstance(expires_at, datetime)
                    return NewActivation(self._grant(card_id, serial, expires_at), True)
            pointer, grant = self._mint_activation(
                card, reason=why, actor=actor, at=self.now(), command_id=key
            )
            self.save(card, pointer)
            return NewActivation(grant, False)

        return retrying(command)

    def activate(
        self, code_text: str, *, device_hint: str = "", command_id: str | None = None
    ) -> Activation:
        """Redeem a one-time code: the first redemption wins, every later one is refused.

        The redemption starts the phone's session and ends the card's earlier one (one
        phone at a time), in the same save.

        Two phones redeeming one code at once both read the card and both decide yes; the
        event store takes only one `Activated` at that card version, the other save fails
        and, run again by `retrying`, reads the code as used. A retry of the same request
        (same Idempotency-Key, within 24 h) answers again instead (a lost answer).
        """
        code = normalize_code(code_text)
        code_hash = self.activation_codes.hash(code)
        digest = self.activation_codes.hash(f"{code}:{command_id}") if command_id else ""

        def command() -> Activation:
            pointer = self._get_or_none(activation_code_id(code_hash))
            if not isinstance(pointer, ActivationCode):
                raise UnknownCode("no such activation code; check it and type it again")
            card = self.card(pointer.card_id)
            now = self.now()
            made = card.activate(
                code_hash=code_hash,
                serial=pointer.serial,
                at=now,
                device_hint=device_hint,
                command_digest=digest,
            )
            if made:
                token = self._start_session(card, pointer.serial, now)
                self.save(card)
                return Activation(card=card, replayed=False, holder_token=token)
            again = self.session_token(card, pointer.serial)
            if again is None:  # redeemed before sessions existed: no session to answer
                raise CodeUsed("this activation code has already been used; ask for a new one")
            return Activation(card=card, replayed=True, holder_token=again)

        return retrying(command)
