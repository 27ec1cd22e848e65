"""Card status history: every change of a card's status or credential version, with the
time it took effect (the event's `at`, the service clock's, not the store's timestamp).

`view_cards` keeps only the card as it stands now; a redemption granted offline is judged
as of its `redeemed_at` (DESIGN §3), so the merchant API looks up here which status and
which credential version were in effect at that moment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from cardservice.dialect import Insert
from cardservice.domain.cards import Card
from cardservice.storage import Row, Tx
from projections.view import (
    Event,
    ProjectionError,
    View,
    chunks,
    event_name,
    placeholders,
    topics_of,
)

HISTORY_EVENTS = ("Issued", "Suspended", "Reinstated", "Revoked", "Reissued")

_STATUS_AFTER = {
    "Card.Suspended": "suspended",
    "Card.Reinstated": "active",
    "Card.Revoked": "revoked",
}


@dataclass(frozen=True)
class Change:
    """From `effective_at` on (until the next change), the card had `status` and its
    current credential was `version`."""

    effective_at: str
    status: str
    version: int

    @property
    def moment(self) -> datetime:
        return datetime.fromisoformat(self.effective_at)


History = tuple[Change, ...]


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def apply_history(state: History | None, event: Event) -> History | None:
    """Fold one Card event into the card's list of changes (oldest first)."""
    name = event_name(event)
    if name == "Card.Issued":
        return (Change(_iso(event.issued_at), "active", 1),)
    if state is None:
        raise ProjectionError(f"{name} for card {event.originator_id}, which was never issued")
    last = state[-1]
    if name in _STATUS_AFTER:
        return (*state, Change(_iso(event.at), _STATUS_AFTER[name], last.version))
    if name == "Card.Reissued":
        return (*state, Change(_iso(event.at), last.status, int(event.card_version)))
    return state


def as_of(history: Sequence[Change], moment: datetime) -> Change | None:
    """The change in effect at `moment`: the last one at or before it (None: the card did
    not exist yet). A change at exactly `moment` counts as in effect."""
    found = None
    for change in history:
        if change.moment <= moment:
            found = change
        else:
            break
    return found


def select_history(tx: Tx, card_id: UUID) -> list[Change]:
    return [
        Change(str(r[0]), str(r[1]), int(r[2]))
        for r in tx.all(
            "SELECT effective_at, status, version FROM view_card_history "
            "WHERE card_id = ? ORDER BY seq",
            (str(card_id),),
        )
    ]


class CardHistoryView(View[History]):
    name = "card_history"
    source = "CardLedger"
    topics = topics_of(Card, HISTORY_EVENTS)
    tables = ("view_card_history",)

    def ddl(self, dialect: str) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS view_card_history (
                card_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                effective_at TEXT NOT NULL,
                status TEXT NOT NULL,
                version INTEGER NOT NULL,
                PRIMARY KEY (card_id, seq)
            )"""
        ]

    def apply(self, state: History | None, event: Event) -> History | None:
        return apply_history(state, event)

    def load(self, tx: Tx, ids: Sequence[UUID]) -> dict[UUID, History]:
        rows: dict[UUID, list[Change]] = {}
        for part in chunks([str(i) for i in ids]):
            for row in tx.all(
                "SELECT card_id, effective_at, status, version FROM view_card_history "  # noqa: S608
                f"WHERE card_id IN ({placeholders(len(part))}) ORDER BY card_id, seq",
                part,
            ):
                rows.setdefault(UUID(row[0]), []).append(
                    Change(str(row[1]), str(row[2]), int(row[3]))
                )
        return {card_id: tuple(changes) for card_id, changes in rows.items()}

    def store(self, tx: Tx, changes: Mapping[UUID, tuple[History | None, History | None]]) -> None:
        rows: list[tuple[Any, ...]] = []
        for card_id, (before, after) in changes.items():
            if after is None:
                continue
            start = len(before) if before else 0
            for seq, change in enumerate(after[start:], start=start):
                rows.append((str(card_id), seq, change.effective_at, change.status, change.version))
        tx.insert_many(
            Insert(
                "view_card_history",
                ("card_id", "seq", "effective_at", "status", "version"),
                on_conflict="ON CONFLICT (card_id, seq) DO NOTHING",
            ),
            rows,
        )

    def snapshot(self, tx: Tx) -> list[Row]:
        return tx.all(
            "SELECT card_id, seq, effective_at, status, version FROM view_card_history "
            "ORDER BY card_id, seq"
        )
