"""The Appeal aggregate: a holder's complaint about a check (or about anything), answered once
by a bureau of either side (the card's issuing region or the checking merchant's region).

The holder's text is personal: it is sealed with the holder's data key before it reaches
the event, so erasing the holder erases it. The verdict it is about is stored as it was
decided (replayed at filing time with the catalog as of that moment), so the bureau reads
what the gate saw even after the catalog changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from cardservice.domain.errors import Conflict, InvalidInput

OPEN = "open"
ANSWERED = "answered"
OUTCOMES = ("upheld", "rejected")
MAX_TEXT = 1000


class AlreadyAnswered(Conflict):
    code = "already_answered"


def clean_text(text: str, what: str) -> str:
    value = (text or "").strip()
    if not 1 <= len(value) <= MAX_TEXT:
        raise InvalidInput(f"{what} must be 1 to {MAX_TEXT} characters")
    return value


class Appeal(Aggregate):
    @staticmethod
    def create_id(appeal_id: UUID) -> UUID:
        """Chosen by the caller (deterministic for a retried command)."""
        return appeal_id

    @event("Filed")
    def __init__(
        self,
        appeal_id: UUID,
        card_id: str,
        card_region: str,
        holder_id: str,
        sealed_text: str,
        verification_id: str | None,
        merchant_region: str | None,
        verification: dict[str, Any] | None,
        filed_at: datetime,
        command_id: str,
    ) -> None:
        self.card_id = card_id
        self.card_region = card_region
        self.holder_id = holder_id
        self.sealed_text = sealed_text
        self.verification_id = verification_id
        self.merchant_region = merchant_region
        self.verification = verification
        self.filed_at = filed_at
        self.command_id = command_id
        self.status = OPEN
        self.outcome: str | None = None
        self.reply: str | None = None
        self.answered_at: datetime | None = None

    def answer(self, outcome: str, reply: str, actor: dict[str, Any], at: datetime) -> None:
        """Once: a second answer is a conflict (409)."""
        if outcome not in OUTCOMES:
            raise InvalidInput(f"outcome must be one of {', '.join(OUTCOMES)}")
        text = clean_text(reply, "reply")
        if self.status != OPEN:
            raise AlreadyAnswered("this appeal has already been answered")
        self._answered(card_id=self.card_id, outcome=outcome, reply=text, actor=actor, at=at)

    @event("Answered")
    def _answered(
        self, card_id: str, outcome: str, reply: str, actor: dict[str, Any], at: datetime
    ) -> None:
        self.status = ANSWERED
        self.outcome = outcome
        self.reply = reply
        self.answered_at = at
