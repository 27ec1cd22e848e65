"""A holder's photo follows them to a new card: when a holder who has a photo copy in
`photo_view` is assigned another card, the copy is made for that card too (plain SQL over
the write side's own copy, so no key is needed here). Setting and erasing photos is done
by the write side's commands (`cardservice.application.photos`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from uuid import UUID

from cardservice.domain.holders import Holder
from cardservice.storage import Row, Tx
from projections.view import Event, View, event_name, topics_of

CardsOfHolder = tuple[str, ...]


def photo_ddl(blob: str) -> list[str]:
    """The gate's copy of each card's photo (plain: the read side serves it)."""
    return [
        f"""CREATE TABLE IF NOT EXISTS photo_view (
            card_id TEXT PRIMARY KEY,
            holder_id TEXT NOT NULL,
            content_type TEXT NOT NULL,
            image {blob} NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS photo_view_holder ON photo_view (holder_id)",
    ]


def apply_assignment(state: CardsOfHolder | None, event: Event) -> CardsOfHolder | None:
    if event_name(event) != "Holder.CardAssigned":
        return state
    return (*(state or ()), str(event.card_id))


class PhotoCardsView(View[CardsOfHolder]):
    name = "photo_cards"
    source = "CardLedger"
    topics = topics_of(Holder, ("CardAssigned",))
    tables = ()  # photo_view holds the commands' copies: never cleared here

    def ddl(self, dialect: str) -> list[str]:
        return photo_ddl("BYTEA" if dialect == "postgres" else "BLOB")

    def apply(self, state: CardsOfHolder | None, event: Event) -> CardsOfHolder | None:
        return apply_assignment(state, event)

    def load(self, tx: Tx, ids: Sequence[UUID]) -> dict[UUID, CardsOfHolder]:
        return {}  # each window's assignments are copied on their own

    def store(
        self, tx: Tx, changes: Mapping[UUID, tuple[CardsOfHolder | None, CardsOfHolder | None]]
    ) -> None:
        for holder_id, (_, cards) in changes.items():
            for card_id in cards or ():
                tx.execute(
                    "INSERT INTO photo_view (card_id, holder_id, content_type, image, "
                    "updated_at) SELECT ?, holder_id, content_type, image, updated_at "
                    "FROM photo_view WHERE holder_id = ? ORDER BY updated_at DESC LIMIT 1 "
                    "ON CONFLICT (card_id) DO NOTHING",
                    (card_id, str(holder_id)),
                )

    def snapshot(self, tx: Tx) -> list[Row]:
        return []
