"""Card views: card status by card id, and status-list entries by status index.

The status list is the offline verifier's revocation source (in the spirit of the W3C
Bitstring Status List): each status index carries 0 active, 1 suspended, 2 revoked or
3 superseded. A reissue gives the card a new index and marks the old one superseded, so
an old screenshot stops verifying even where the card itself is fine.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from cardservice.dialect import Insert
from cardservice.domain.cards import Card
from cardservice.domain.policy import STATUS_LIST_CODES
from cardservice.storage import Row, Tx
from projections.view import (
    Event,
    ProjectionError,
    View,
    add_column,
    chunks,
    event_name,
    placeholders,
    topics_of,
)

CARD_EVENTS = (
    "Issued",
    "Suspended",
    "Reinstated",
    "Revoked",
    "Reissued",
    "CredentialDigestRecorded",
)

ACTIVE, SUSPENDED, REVOKED = "active", "suspended", "revoked"

# Status-list codes (2 bits per index).
CODE_ACTIVE, CODE_SUSPENDED, CODE_REVOKED, CODE_SUPERSEDED = (
    STATUS_LIST_CODES[name] for name in ("active", "suspended", "revoked", "superseded")
)
CODE_BY_STATUS = {ACTIVE: CODE_ACTIVE, SUSPENDED: CODE_SUSPENDED, REVOKED: CODE_REVOKED}


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class CardRow:
    """What a verifier needs about the current version of a card, and nothing personal."""

    card_id: UUID
    card_number: str
    status: str
    version: int
    status_index: int
    kid: str
    region: str
    category: str
    masked_name: str
    expires: str
    device_key: Mapping[str, str] | None
    issued_at: str
    credential_digest: str = ""
    """Hex SHA-256 of the current version's credential bytes as the ledger issued them
    ("" for a version issued before digests, until the write side's backfill records it)."""


def apply_card(state: CardRow | None, event: Event) -> CardRow | None:
    """Fold one Card event into the card's status row."""
    name = event_name(event)
    if name == "Card.Issued":
        return CardRow(
            card_id=event.originator_id,
            card_number=event.card_number,
            status=ACTIVE,
            version=1,
            status_index=event.status_index,
            kid=event.kid,
            region=event.region,
            category=event.category,
            masked_name=event.masked_name,
            expires=str(event.expires_on),
            device_key=None,
            issued_at=_iso(event.issued_at),
            credential_digest=getattr(event, "credential_digest", ""),
        )
    if state is None:
        raise ProjectionError(f"{name} for card {event.originator_id}, which was never issued")
    if name == "Card.Suspended":
        return replace(state, status=SUSPENDED)
    if name == "Card.Reinstated":
        return replace(state, status=ACTIVE)
    if name == "Card.Revoked":
        return replace(state, status=REVOKED)
    if name == "Card.Reissued":
        return replace(
            state,
            version=event.card_version,
            status_index=event.status_index,
            kid=event.kid,
            device_key=dict(event.device_key) if event.device_key else None,
            issued_at=_iso(event.at),
            credential_digest=getattr(event, "credential_digest", ""),
        )
    if name == "Card.CredentialDigestRecorded":
        if event.card_version != state.version:
            return state
        return replace(state, credential_digest=event.digest)
    return state


@dataclass(frozen=True)
class StatusEntries:
    """A card's status-list entries: its current index and every index it ever had."""

    current: int
    codes: tuple[tuple[int, int], ...]
    """(status index, code) pairs, sorted by index."""

    def code_of(self, index: int) -> int | None:
        return dict(self.codes).get(index)

    def with_code(self, index: int, code: int) -> StatusEntries:
        codes = dict(self.codes)
        codes[index] = code
        return replace(self, codes=tuple(sorted(codes.items())))


def apply_status(state: StatusEntries | None, event: Event) -> StatusEntries | None:
    """Fold one Card event into the card's status-list entries."""
    name = event_name(event)
    if name == "Card.Issued":
        return StatusEntries(event.status_index, ((event.status_index, CODE_ACTIVE),))
    if state is None:
        raise ProjectionError(f"{name} for card {event.originator_id}, which was never issued")
    if name == "Card.Suspended":
        return state.with_code(state.current, CODE_SUSPENDED)
    if name == "Card.Reinstated":
        return state.with_code(state.current, CODE_ACTIVE)
    if name == "Card.Revoked":
        return state.with_code(state.current, CODE_REVOKED)
    if name == "Card.Reissued":
        carried = state.code_of(state.current)
        moved = state.with_code(state.current, CODE_SUPERSEDED)
        new_index = int(event.status_index)
        return replace(moved, current=new_index).with_code(
            new_index, CODE_ACTIVE if carried is None else carried
        )
    return state


_CARD_COLUMNS = (
    "card_id, card_number, status, version, status_index, kid, region, category, "
    "masked_name, expires, device_key, issued_at, credential_digest"
)


def card_row_from_db(row: Row) -> CardRow:
    return CardRow(
        card_id=UUID(row[0]),
        card_number=row[1],
        status=row[2],
        version=int(row[3]),
        status_index=int(row[4]),
        kid=row[5],
        region=row[6],
        category=row[7],
        masked_name=row[8],
        expires=row[9],
        device_key=json.loads(row[10]) if row[10] else None,
        issued_at=row[11],
        credential_digest=row[12] or "",
    )


SELECT_CARD = f"SELECT {_CARD_COLUMNS} FROM view_cards WHERE card_id = ?"  # noqa: S608
"""The one indexed lookup the verification path makes (`?` placeholder)."""


def select_card(tx: Tx, card_id: UUID) -> CardRow | None:
    row = tx.one(SELECT_CARD, (str(card_id),))
    return card_row_from_db(row) if row is not None else None


class CardStatusView(View[CardRow]):
    name = "cards"
    source = "CardLedger"
    topics = topics_of(Card, CARD_EVENTS)
    tables = ("view_cards",)

    def ddl(self, dialect: str) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS view_cards (
                card_id TEXT PRIMARY KEY,
                card_number TEXT NOT NULL,
                status TEXT NOT NULL,
                version INTEGER NOT NULL,
                status_index BIGINT NOT NULL,
                kid TEXT NOT NULL,
                region TEXT NOT NULL,
                category TEXT NOT NULL,
                masked_name TEXT NOT NULL,
                expires TEXT NOT NULL,
                device_key TEXT,
                issued_at TEXT NOT NULL,
                credential_digest TEXT NOT NULL DEFAULT ''
            )"""
        ]

    def upgrade(self, tx: Tx) -> None:
        """A table made before the credential digest existed gains its column ("" until
        the write side's backfill records the digest in the ledger)."""
        add_column(tx, "view_cards", "credential_digest", "TEXT NOT NULL DEFAULT ''")

    def apply(self, state: CardRow | None, event: Event) -> CardRow | None:
        return apply_card(state, event)

    def load(self, tx: Tx, ids: Sequence[UUID]) -> dict[UUID, CardRow]:
        found: dict[UUID, CardRow] = {}
        for part in chunks([str(i) for i in ids]):
            for row in tx.all(
                f"SELECT {_CARD_COLUMNS} FROM view_cards "  # noqa: S608
                f"WHERE card_id IN ({placeholders(len(part))})",
                part,
            ):
                card = card_row_from_db(row)
                found[card.card_id] = card
        return found

    def store(self, tx: Tx, changes: Mapping[UUID, tuple[CardRow | None, CardRow | None]]) -> None:
        rows: list[tuple[Any, ...]] = []
        for _, after in changes.values():
            if after is None:
                continue
            device_key = after.device_key
            rows.append(
                (
                    str(after.card_id),
                    after.card_number,
                    after.status,
                    after.version,
                    after.status_index,
                    after.kid,
                    after.region,
                    after.category,
                    after.masked_name,
                    after.expires,
                    json.dumps(dict(device_key), sort_keys=True) if device_key else None,
                    after.issued_at,
                    after.credential_digest,
                )
            )
        tx.insert_many(
            Insert(
                "view_cards",
                _CARD_COLUMNS,
                on_conflict="ON CONFLICT (card_id) DO UPDATE SET "
                "card_number = excluded.card_number, "
                "status = excluded.status, version = excluded.version, "
                "status_index = excluded.status_index, kid = excluded.kid, "
                "region = excluded.region, category = excluded.category, "
                "masked_name = excluded.masked_name, expires = excluded.expires, "
                "device_key = excluded.device_key, issued_at = excluded.issued_at, "
                "credential_digest = excluded.credential_digest",
            ),
            rows,
        )

    def snapshot(self, tx: Tx) -> list[Row]:
        return tx.all(f"SELECT {_CARD_COLUMNS} FROM view_cards ORDER BY card_id")  # noqa: S608


class StatusListView(View[StatusEntries]):
    name = "status_list"
    source = "CardLedger"
    topics = topics_of(Card, CARD_EVENTS)
    tables = ("view_status_list",)

    def ddl(self, dialect: str) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS view_status_list (
                status_index BIGINT PRIMARY KEY,
                card_id TEXT NOT NULL,
                code INTEGER NOT NULL,
                is_current BOOLEAN NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS view_status_list_card ON view_status_list (card_id)",
        ]

    def apply(self, state: StatusEntries | None, event: Event) -> StatusEntries | None:
        return apply_status(state, event)

    def load(self, tx: Tx, ids: Sequence[UUID]) -> dict[UUID, StatusEntries]:
        rows_by_card: dict[UUID, list[Row]] = {}
        for part in chunks([str(i) for i in ids]):
            for row in tx.all(
                "SELECT card_id, status_index, code, is_current FROM view_status_list "  # noqa: S608
                f"WHERE card_id IN ({placeholders(len(part))})",
                part,
            ):
                rows_by_card.setdefault(UUID(row[0]), []).append(row)
        found: dict[UUID, StatusEntries] = {}
        for card_id, rows in rows_by_card.items():
            current = next(int(r[1]) for r in rows if r[3])
            found[card_id] = StatusEntries(
                current, tuple(sorted((int(r[1]), int(r[2])) for r in rows))
            )
        return found

    def store(
        self, tx: Tx, changes: Mapping[UUID, tuple[StatusEntries | None, StatusEntries | None]]
    ) -> None:
        rows: list[tuple[Any, ...]] = []
        for card_id, (before, after) in changes.items():
            if after is None:
                continue
            old = dict(before.codes) if before else {}
            old_current = before.current if before else None
            for index, code in after.codes:
                is_current = index == after.current
                if old.get(index) != code or (index == old_current) != is_current:
                    rows.append((index, str(card_id), code, is_current))
        tx.insert_many(
            Insert(
                "view_status_list",
                ("status_index", "card_id", "code", "is_current"),
                on_conflict="ON CONFLICT (status_index) DO UPDATE SET card_id = excluded.card_id, "
                "code = excluded.code, is_current = excluded.is_current",
            ),
            rows,
        )

    def snapshot(self, tx: Tx) -> list[Row]:
        return [
            (int(r[0]), r[1], int(r[2]), bool(r[3]))
            for r in tx.all(
                "SELECT status_index, card_id, code, is_current FROM view_status_list "
                "ORDER BY status_index"
            )
        ]


def status_list_bytes(entries: Sequence[tuple[int, int]]) -> bytes:
    """2 bits per status index, index 0 in the two most significant bits of byte 0.

    `entries` are (index, code) pairs; indexes never used read as 0 (nothing was signed
    with them). The length is rounded up to whole bytes: a verifier that finds an index
    beyond the list treats the card as not (yet) known.
    """
    if not entries:
        return b""
    size = max(index for index, _ in entries) + 1
    out = bytearray((size + 3) // 4)
    for index, code in entries:
        out[index >> 2] |= (code & 3) << (6 - 2 * (index & 3))
    return bytes(out)


def status_code_at(bits: bytes, index: int) -> int | None:
    """The 2-bit code at `index`, or None when the list is too short to hold it."""
    if index < 0 or (index >> 2) >= len(bits):
        return None
    return (bits[index >> 2] >> (6 - 2 * (index & 3))) & 3
