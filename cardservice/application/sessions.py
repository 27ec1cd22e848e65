"""Holder sessions: the bearer token a phone holds for one card, and how it ends.

Only the redemption of an activation code starts a session (`Activations.activate`); it
ends the card's earlier session in the same save, so a lost phone's token is refused the
moment the holder activates a new one. The holder can end it too ("remove from this
phone"). Tokens are never recorded: the card's events keep a keyed hash (checked here in
constant time) and a plain SHA-256 for the read side's session view.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from uuid import UUID

from cardservice.application.base import retrying
from cardservice.application.cards import CardLifecycle
from cardservice.domain.actors import Actor
from cardservice.domain.cards import SESSION_REMOVED, Card
from cardservice.security import HolderTokens, token_hash


def holder_actor(card: Card) -> Actor:
    return Actor(kind="holder", id=str(card.id), role="holder", region=card.region)


class HolderSessions(CardLifecycle):
    """Which phone holds a card now, by the hash of its token."""

    def _prepare(self) -> None:
        super()._prepare()
        self.holder_tokens = HolderTokens(
            self.settings.derived_key("holder-session-token"),
            self.settings.derived_key("holder-session-token-hash"),
        )

    def _start_session(self, card: Card, serial: int, at: datetime) -> str:
        """Start the session of code `serial`'s redemption (pending, saved with the card)."""
        session_id = uuid.uuid4()
        token = self.holder_tokens.for_session(session_id)
        card.start_session(
            session_id=session_id,
            serial=serial,
            token_hash=self.holder_tokens.hash(token),
            token_sha256=token_hash(token),
            actor=holder_actor(card).as_dict(),
            at=at,
        )
        return token

    def session_token(self, card: Card, serial: int) -> str | None:
        """The token of the session code `serial` started, derived again (a replay)."""
        session_id = card.session_by_serial.get(serial)
        return self.holder_tokens.for_session(session_id) if session_id else None

    def session_card(self, card_id: UUID, token: str | None) -> Card | None:
        """The card, if `token` opens its live session; None for anything else."""
        if token is None or not HolderTokens.plausible(token):
            return None
        card = self._get_or_none(card_id)
        if not isinstance(card, Card) or not card.holds_session(self.holder_tokens.hash(token)):
            return None
        return card

    def end_session(self, card_id: UUID, token: str) -> bool:
        """ "Remove from this phone": the session `token` opens ends. False if none did."""

        def command() -> bool:
            card = self.session_card(card_id, token)
            if card is None:
                return False
            card.end_session(
                reason=SESSION_REMOVED, actor=holder_actor(card).as_dict(), at=self.now()
            )
            self.save(card)
            return True

        return retrying(command)
