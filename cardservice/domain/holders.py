"""The Holder aggregate: one person, identified by a keyed hash of the ID number.

The id is derived from the ID number, so two concurrent first issues for one person create
the same aggregate and one of them loses on the version: the one-card-per-category rule is
enforced by the event store, not by a check-then-act. Personal data is sealed with the
holder's own data key (held outside the event store); erasing destroys that key.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from cardservice.domain.errors import Conflict, InvalidTransition

HOLDER_NAMESPACE = uuid.UUID("6f1c2a4e-7d0b-4c59-9a3e-1b2f5d8e9c70")


def holder_id_for(id_number_digest: str) -> UUID:
    return uuid.uuid5(HOLDER_NAMESPACE, id_number_digest)


class Holder(Aggregate):
    @staticmethod
    def create_id(id_number_digest: str) -> UUID:
        return holder_id_for(id_number_digest)

    @event("Registered")
    def __init__(
        self,
        id_number_digest: str,
        sealed_personal: str,
        actor: dict[str, Any],
        at: datetime,
        first_card: dict[str, str] | None = None,
    ) -> None:
        """Registered with the card being issued, so a first issue is one holder event."""
        self.id_number_digest = id_number_digest
        self.sealed_personal = sealed_personal
        self.cards: dict[str, dict[str, str]] = {}
        if first_card is not None:
            self.cards[first_card["category"]] = {
                "card_id": first_card["card_id"],
                "expires_on": first_card["expires_on"],
            }
        self.erased = False
        self.sealed_photo: str | None = None
        self.photo_type: str | None = None

    def current_card(self, category: str, today: date) -> str | None:
        """The card that blocks a new one in this category: held, not released, not expired."""
        held = self.cards.get(category)
        if held is None or date.fromisoformat(held["expires_on"]) < today:
            return None
        return held["card_id"]

    def assign_card(
        self, category: str, card_id: UUID, expires_on: str, today: date, at: datetime
    ) -> None:
        if self.erased:
            raise InvalidTransition("the holder's personal data was erased")
        existing = self.current_card(category, today)
        if existing is not None:
            raise Conflict(f"the holder already has a {category} card: {existing}")
        self._card_assigned(category=category, card_id=str(card_id), expires_on=expires_on, at=at)

    def release_card(self, category: str, card_id: UUID, reason: str, at: datetime) -> None:
        held = self.cards.get(category)
        if held is not None and held["card_id"] == str(card_id):
            self._card_released(category=category, card_id=str(card_id), reason=reason, at=at)

    def erase(self, reason: str, actor: dict[str, Any], at: datetime) -> None:
        if self.erased:
            raise InvalidTransition("the holder is already erased")
        self._erased(reason=reason, actor=actor, at=at)

    def set_photo(
        self, sealed_photo: str, content_type: str, size: int, actor: dict[str, Any], at: datetime
    ) -> None:
        """A new photo (sealed with the holder's data key) replaces the previous one."""
        if self.erased:
            raise InvalidTransition("the holder's personal data was erased")
        self._photo_set(
            sealed_photo=sealed_photo, content_type=content_type, size=size, actor=actor, at=at
        )

    @event("PhotoSet")
    def _photo_set(
        self, sealed_photo: str, content_type: str, size: int, actor: dict[str, Any], at: datetime
    ) -> None:
        self.sealed_photo = sealed_photo
        self.photo_type = content_type

    @event("CardAssigned")
    def _card_assigned(self, category: str, card_id: str, expires_on: str, at: datetime) -> None:
        self.cards[category] = {"card_id": card_id, "expires_on": expires_on}

    @event("CardReleased")
    def _card_released(self, category: str, card_id: str, reason: str, at: datetime) -> None:
        self.cards.pop(category, None)

    @event("Erased")
    def _erased(self, reason: str, actor: dict[str, Any], at: datetime) -> None:
        self.erased = True
