"""Holder sessions: which token hash opens which card, for the read side.

The merchant API answers the holder's own log ("who checked my card") and holds no key,
so this view keeps the plain SHA-256 of each live session's token (a token is 256 random
bits: its hash reveals nothing) and the card it opens. A session that ended (a new phone
was activated, or the holder removed the card from this phone) leaves the view, so its
token stops opening the holder log as soon as the runner catches up (well within 1 s).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from uuid import UUID

from cardservice.domain.cards import Card
from cardservice.storage import Row, Tx
from projections.view import Event, View, chunks, event_name, placeholders, topics_of

SESSION_EVENTS = ("SessionStarted", "SessionEnded")


@dataclass(frozen=True)
class LiveSession:
    session_id: str
    token_sha256: str
    started_at: str


@dataclass(frozen=True)
class CardSessions:
    """A card's live sessions (the domain allows one; the fold does not rely on it)."""

    live: tuple[LiveSession, ...] = ()


def apply_session(state: CardSessions | None, event: Event) -> CardSessions | None:
    """Fold one Card session event into the card's live sessions."""
    name = event_name(event)
    live = state.live if state is not None else ()
    if name == "Card.SessionStarted":
        started = LiveSession(
            str(event.session_id), event.token_sha256, event.at.astimezone(UTC).isoformat()
        )
        return CardSessions((*(s for s in live if s.session_id != started.session_id), started))
    if name == "Card.SessionEnded":
        return CardSessions(tuple(s for s in live if s.session_id != str(event.session_id)))
    return state


def select_session_card(tx: Tx, token_sha256: str) -> UUID | None:
    """The card whose live session has this token hash (one indexed read), or None."""
    row = tx.one("SELECT card_id FROM view_holder_sessions WHERE token_sha256 = ?", (token_sha256,))
    return UUID(row[0]) if row is not None else None


_COLUMNS = "token_sha256, card_id, session_id, started_at"


class HolderSessionView(View[CardSessions]):
    name = "holder_sessions"
    source = "CardLedger"
    topics = topics_of(Card, SESSION_EVENTS)
    tables = ("view_holder_sessions",)

    def ddl(self, dialect: str) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS view_holder_sessions (
                token_sha256 TEXT PRIMARY KEY,
                card_id TEXT NOT NULL,
                session_id TEXT NOT NULL,
                started_at TEXT NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS view_holder_sessions_card "
            "ON view_holder_sessions (card_id)",
        ]

    def apply(self, state: CardSessions | None, event: Event) -> CardSessions | None:
        return apply_session(state, event)

    def load(self, tx: Tx, ids: Sequence[UUID]) -> dict[UUID, CardSessions]:
        found: dict[UUID, list[LiveSession]] = {}
        for part in chunks([str(i) for i in ids]):
            for token_sha256, card_id, session_id, started_at in tx.all(
                f"SELECT {_COLUMNS} FROM view_holder_sessions "  # noqa: S608
                f"WHERE card_id IN ({placeholders(len(part))}) ORDER BY started_at",
                part,
            ):
                found.setdefault(UUID(card_id), []).append(
                    LiveSession(session_id, token_sha256, started_at)
                )
        return {card_id: CardSessions(tuple(live)) for card_id, live in found.items()}

    def store(
        self, tx: Tx, changes: Mapping[UUID, tuple[CardSessions | None, CardSessions | None]]
    ) -> None:
        gone: list[tuple[Any, ...]] = []
        added: list[tuple[Any, ...]] = []
        for card_id, (before, after) in changes.items():
            old = set(before.live) if before else set()
            new = set(after.live) if after else set()
            gone.extend((s.token_sha256,) for s in old - new)
            added.extend(
                (s.token_sha256, str(card_id), s.session_id, s.started_at) for s in new - old
            )
        tx.executemany("DELETE FROM view_holder_sessions WHERE token_sha256 = ?", gone)
        tx.executemany(
            f"INSERT INTO view_holder_sessions ({_COLUMNS}) VALUES (?, ?, ?, ?) "  # noqa: S608
            "ON CONFLICT (token_sha256) DO NOTHING",
            added,
        )

    def snapshot(self, tx: Tx) -> list[Row]:
        return tx.all(
            f"SELECT {_COLUMNS} FROM view_holder_sessions ORDER BY token_sha256"  # noqa: S608
        )
