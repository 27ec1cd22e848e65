"""Unbind: a holder who gives up the phone gets the card back without a device key.

A reissue without `cnf`: the phone's live codes verify as `superseded`, and the card can
be printed (`card.pdf`) or activated on another phone. The phone's session ends in the
same save, so the given-up phone's token is refused from then on (it can neither show the
new static QR nor bind its key again).
"""

from __future__ import annotations

from uuid import UUID

from cardservice.application.base import retrying
from cardservice.application.cards import CardLifecycle
from cardservice.domain.actors import Actor
from cardservice.domain.card_status import UNBOUND, clean_reason
from cardservice.domain.cards import SESSION_UNBOUND, Card
from cardservice.domain.errors import InvalidTransition


class Unbinding(CardLifecycle):
    def unbind(self, card_id: UUID, reason: str, actor: Actor, command_id: str = "") -> Card:
        text = clean_reason(reason, required=False)

        def command() -> Card:
            card = self.card_for(card_id, actor, "cards")
            if card.device_key is None:
                last = list(self.events.get(card_id))[-1]
                if command_id and getattr(last, "reason", "").startswith(UNBOUND):
                    return card  # a retried unbind after a lost answer
                raise InvalidTransition("the card is not bound to a phone")
            now = self.now()
            if card.session_id is not None:
                card.end_session(reason=SESSION_UNBOUND, actor=actor.as_dict(), at=now)
            card.reissue(
                reason=f"{UNBOUND}: {text}" if text else UNBOUND,
                status_index=self.db.allocate("status_index"),
                kid=self.active_kid(),
                device_key=None,
                actor=actor.as_dict(),
                at=now,
            )
            self.save(card)
            return card

        return retrying(command)
