"""Appeals: a holder files one (about a check of the card, or on its own); a bureau of either
side answers it once, and the answer becomes a notice in the holder's inbox.

The Appeal lives in the card ledger's store, so its answer reaches the notices view from
the same notification log as the card's own events. Text is sealed with the holder's
data key; the verdict it is about is replayed by the caller (with the catalog as of the
check) and stored as decided.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from cardservice.application.base import IdempotencyMismatch, retrying
from cardservice.application.cards import CardLifecycle
from cardservice.application.personal import HolderData
from cardservice.domain import regions as region_table
from cardservice.domain.actors import Actor
from cardservice.domain.appeals import Appeal, clean_text
from cardservice.domain.errors import Conflict, Forbidden, NotFound
from cardservice.security import Sealer

APPEAL_NAMESPACE = uuid.UUID("d3a1f0b2-6c4e-4f7a-9b8d-2e1c5a7f3b90")
ANSWERING_ROLES = frozenset({"admin", "issuer", "catalog_manager"})


def may_see(actor: Actor, appeal: Appeal) -> bool:
    """The bureau of the card's region or of the checking merchant's region (any role)."""
    within = region_table.regions().is_within
    if within(appeal.card_region, actor.region):
        return True
    return bool(appeal.merchant_region) and within(str(appeal.merchant_region), actor.region)


class Appeals(CardLifecycle, HolderData):
    """File, read and answer appeals."""

    def file_appeal(
        self,
        card_id: UUID,
        text: str,
        *,
        verification: dict[str, Any] | None = None,
        command_id: str | None = None,
    ) -> tuple[Appeal, bool]:
        """(the appeal, replayed?): a retried command (same key) answers the first appeal."""
        card = self.card(card_id)
        clean = clean_text(text, "text")
        if command_id:
            appeal_id = uuid.uuid5(APPEAL_NAMESPACE, f"{card_id}:{command_id}")
            existing = self._get_or_none(appeal_id)
            if isinstance(existing, Appeal):
                same = self.appeal_text(existing) == clean and existing.verification_id == (
                    (verification or {}).get("verification_id")
                )
                if not same:
                    raise IdempotencyMismatch("Idempotency-Key already used for a different appeal")
                return existing, True
        else:
            appeal_id = uuid.uuid4()
        key = self._holder_data_key(card.holder_id, create=False)
        if key is None:
            raise Conflict("the holder's personal data was erased")
        sealed = Sealer(key).seal(clean.encode(), appeal_id.bytes)
        appeal = Appeal(
            appeal_id=appeal_id,
            card_id=str(card_id),
            card_region=card.region,
            holder_id=str(card.holder_id),
            sealed_text=base64.b64encode(sealed).decode(),
            verification_id=(verification or {}).get("verification_id"),
            merchant_region=(verification or {}).get("merchant_region"),
            verification=verification,
            filed_at=self.now(),
            command_id=command_id or "",
        )
        try:
            self.save(appeal)
        except IntegrityError:
            if command_id:  # a concurrent retry of the same command won
                return self.appeal(appeal_id), True
            raise
        return appeal, False

    def appeal(self, appeal_id: UUID) -> Appeal:
        found = self._get_or_none(appeal_id)
        if not isinstance(found, Appeal):
            raise NotFound(f"no appeal {appeal_id}")
        return found

    def appeal_for(self, appeal_id: UUID, actor: Actor) -> Appeal:
        appeal = self.appeal(appeal_id)
        if not may_see(actor, appeal):
            raise Forbidden("the appeal is outside the caller's region on both sides")
        return appeal

    def appeal_text(self, appeal: Appeal) -> str | None:
        """The holder's words, or None once the holder was erased."""
        key = self._holder_data_key(UUID(appeal.holder_id), create=False)
        if key is None:
            return None
        plain = Sealer(key).unseal(base64.b64decode(appeal.sealed_text), appeal.id.bytes)
        return plain.decode()

    def answer_appeal(self, appeal_id: UUID, outcome: str, reply: str, actor: Actor) -> Appeal:
        def command() -> Appeal:
            appeal = self.appeal(appeal_id)
            if actor.role not in ANSWERING_ROLES:
                raise Forbidden(f"role {actor.role} may not answer appeals")
            if not may_see(actor, appeal):
                raise Forbidden("the appeal is outside the caller's region on both sides")
            appeal.answer(outcome, reply, actor.as_dict(), self.now())
            self.save(appeal)
            return appeal

        return retrying(command)
