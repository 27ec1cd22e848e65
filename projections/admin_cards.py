"""The bureau console's card search: a write-side view of cards by number, region and holder.

Rows hold nothing personal (the masked name only). Matching by ID number or full name goes
through `holder_search`, a side table of keyed hashes the write side writes at issuance
and deletes at erasure (`cardservice.application.search`); this module only joins a
digest the caller computed to the cards of the holders it names. Nothing is decrypted.

Scoping uses the card number: it starts with the issuing region, and a region's subtree
is a prefix of the 6-digit code (GB/T 2260 zeroes the lower levels), so one index on
`card_number` serves the subtree, the order and the cursor.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date
from typing import Any
from uuid import UUID

from cardservice.domain.cards import Card
from cardservice.storage import Database, Row, Tx
from projections.view import (
    Event,
    ProjectionError,
    View,
    chunks,
    event_name,
    placeholders,
    topics_of,
)

CARD_EVENTS = ("Issued", "Suspended", "Reinstated", "Revoked")
MAX_LIMIT = 200
STATUSES = ("active", "suspended", "revoked", "expired")


@dataclass(frozen=True)
class AdminCardRow:
    card_id: UUID
    holder_id: str
    card_number: str
    status: str
    region: str
    category: str
    masked_name: str
    issued_at: str
    expires: str


def apply_admin_card(state: AdminCardRow | None, event: Event) -> AdminCardRow | None:
    name = event_name(event)
    if name == "Card.Issued":
        return AdminCardRow(
            card_id=event.originator_id,
            holder_id=str(event.holder_id),
            card_number=event.card_number,
            status="active",
            region=event.region,
            category=event.category,
            masked_name=event.masked_name,
            issued_at=event.issued_at.astimezone(UTC).isoformat(),
            expires=str(event.expires_on),
        )
    if state is None:
        raise ProjectionError(f"{name} for card {event.originator_id}, which was never issued")
    status = {"Card.Suspended": "suspended", "Card.Reinstated": "active", "Card.Revoked": "revoked"}
    return replace(state, status=status.get(name, state.status))


_COLUMNS = (
    "card_id, holder_id, card_number, status, region, category, masked_name, issued_at, expires"
)


def _row(row: Row) -> AdminCardRow:
    return AdminCardRow(UUID(row[0]), *(str(v) for v in row[1:]))


class AdminCardView(View[AdminCardRow]):
    name = "admin_cards"
    source = "CardLedger"
    topics = topics_of(Card, CARD_EVENTS)
    tables = ("view_admin_cards",)

    def ddl(self, dialect: str) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS view_admin_cards (
                card_id TEXT PRIMARY KEY,
                holder_id TEXT NOT NULL,
                card_number TEXT NOT NULL UNIQUE,
                status TEXT NOT NULL,
                region TEXT NOT NULL,
                category TEXT NOT NULL,
                masked_name TEXT NOT NULL,
                issued_at TEXT NOT NULL,
                expires TEXT NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS view_admin_cards_holder ON view_admin_cards (holder_id)",
            # a status filter over a wide subtree: an index range, not a scan of the subtree
            "CREATE INDEX IF NOT EXISTS view_admin_cards_status "
            "ON view_admin_cards (status, card_number)",
        ]

    def apply(self, state: AdminCardRow | None, event: Event) -> AdminCardRow | None:
        return apply_admin_card(state, event)

    def load(self, tx: Tx, ids: Sequence[UUID]) -> dict[UUID, AdminCardRow]:
        found: dict[UUID, AdminCardRow] = {}
        for part in chunks([str(i) for i in ids]):
            for row in tx.all(
                f"SELECT {_COLUMNS} FROM view_admin_cards "  # noqa: S608
                f"WHERE card_id IN ({placeholders(len(part))})",
                part,
            ):
                found[UUID(row[0])] = _row(row)
        return found

    def store(
        self, tx: Tx, changes: Mapping[UUID, tuple[AdminCardRow | None, AdminCardRow | None]]
    ) -> None:
        rows = [
            (str(c.card_id), c.holder_id, c.card_number, c.status, c.region, c.category,
             c.masked_name, c.issued_at, c.expires)
            for _, c in changes.values()
            if c is not None
        ]  # fmt: skip
        tx.executemany(
            f"INSERT INTO view_admin_cards ({_COLUMNS}) VALUES ({placeholders(9)}) "  # noqa: S608
            "ON CONFLICT (card_id) DO UPDATE SET status = excluded.status",
            rows,
        )

    def snapshot(self, tx: Tx) -> list[Row]:
        return list(tx.all(f"SELECT {_COLUMNS} FROM view_admin_cards ORDER BY card_id"))  # noqa: S608


class BadCursor(ValueError):
    pass


def subtree_prefix(region: str) -> str:
    """The card-number prefix of a region's subtree: `500000` -> `50`, `000000` -> ``."""
    prefix = region
    while prefix.endswith("00"):
        prefix = prefix[:-2]
    return prefix


def encode_cursor(card_number: str) -> str:
    return base64.urlsafe_b64encode(card_number.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor("cursor is not one this server gave") from None
    if len(text) != 18 or not text[:17].isascii() or not text[:17].isdigit():
        raise BadCursor("cursor is not one this server gave")
    return text


@dataclass(frozen=True)
class CardQuery:
    region: str
    today: date
    holder_digest: str | None = None
    card_number: str | None = None
    status: str | None = None
    cursor: str | None = None
    limit: int = 50


class AdminCardReader:
    """Pages of the search view; every filter is an indexed equality or range."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def page(self, query: CardQuery) -> tuple[list[dict[str, Any]], str | None]:
        where: list[str] = []
        params: list[Any] = []
        prefix = subtree_prefix(query.region)
        if prefix:
            where.append("card_number >= ? AND card_number < ?")
            params += [prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)]
        if query.card_number is not None:
            where.append("card_number = ?")
            params.append(query.card_number)
        if query.holder_digest is not None:
            where.append("holder_id IN (SELECT holder_id FROM holder_search WHERE digest = ?)")
            params.append(query.holder_digest)
        today = query.today.isoformat()
        if query.status in ("suspended", "revoked"):
            where.append("status = ?")
            params.append(query.status)
        elif query.status == "active":
            where.append("status = 'active' AND expires >= ?")
            params.append(today)
        elif query.status == "expired":
            where.append("status = 'active' AND expires < ?")
            params.append(today)
        if query.cursor is not None:
            where.append("card_number > ?")
            params.append(decode_cursor(query.cursor))
        sql = f"SELECT {_COLUMNS} FROM view_admin_cards"  # noqa: S608
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY card_number LIMIT ?"
        params.append(query.limit + 1)
        with self._db.read() as tx:
            rows = [_row(r) for r in tx.all(sql, params)]
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        items = [_item(r, query.today) for r in rows]
        return items, encode_cursor(rows[-1].card_number) if more else None


def _item(row: AdminCardRow, today: date) -> dict[str, Any]:
    status = row.status
    if status == "active" and date.fromisoformat(row.expires) < today:
        status = "expired"
    return {
        "card_id": str(row.card_id),
        "card_number": row.card_number,
        "status": status,
        "region": row.region,
        "category": row.category,
        "masked_name": row.masked_name,
        "issued_at": row.issued_at,
    }
