"""The appeals index: which appeals a card has, and which a bureau sees (by the card's
region or the merchant's), newest first. Only ids, regions, status and times: the text
stays sealed in the event store and is read there by the write side's endpoints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from cardservice.dialect import Insert
from cardservice.domain import regions as region_table
from cardservice.domain.appeals import Appeal
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


def sortable(value: datetime) -> str:
    """A fixed-width UTC time: sorts as text in the same order as in time."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


@dataclass(frozen=True)
class AppealRow:
    appeal_id: UUID
    card_id: str
    card_region: str
    merchant_region: str | None
    status: str
    filed_at: str


def apply_appeal(state: AppealRow | None, event: Event) -> AppealRow | None:
    name = event_name(event)
    if name == "Appeal.Filed":
        return AppealRow(
            appeal_id=event.originator_id,
            card_id=str(event.card_id),
            card_region=str(event.card_region),
            merchant_region=event.merchant_region,
            status="open",
            filed_at=sortable(event.filed_at),
        )
    if state is None:
        raise ProjectionError(f"{name} for appeal {event.originator_id}, never filed")
    if name == "Appeal.Answered":
        return replace(state, status="answered")
    return state


_COLUMNS = "appeal_id, card_id, card_region, merchant_region, status, filed_at"


def _row(r: Row) -> AppealRow:
    return AppealRow(UUID(r[0]), r[1], r[2], r[3], r[4], r[5])


def subtree_prefix(code: str) -> str:
    """The code prefix every region in `code`'s subtree shares (`LIKE prefix%`)."""
    level = region_table.code_level(code)
    return code[: {0: 0, 1: 2, 2: 4}.get(level, 6)]


def appeals_of_card(tx: Tx, card_id: UUID) -> list[AppealRow]:
    return [
        _row(r)
        for r in tx.all(
            f"SELECT {_COLUMNS} FROM view_appeals WHERE card_id = ? "  # noqa: S608
            "ORDER BY filed_at DESC, appeal_id DESC",
            (str(card_id),),
        )
    ]


def appeals_in(
    tx: Tx,
    region: str,
    *,
    status: str | None,
    before: tuple[str, str] | None,
    limit: int,
    card_id: UUID | None = None,
) -> tuple[list[AppealRow], tuple[str, str] | None]:
    """Appeals whose card or merchant region lies in `region`'s subtree (of one card, when
    given), newest first, and the (filed_at, appeal_id) to continue from, or None."""
    prefix = subtree_prefix(region) + "%"
    where = ["(card_region LIKE ? OR merchant_region LIKE ?)"]
    params: list[Any] = [prefix, prefix]
    if card_id is not None:
        where.append("card_id = ?")
        params.append(str(card_id))
    if status:
        where.append("status = ?")
        params.append(status)
    if before is not None:
        where.append("(filed_at < ? OR (filed_at = ? AND appeal_id < ?))")
        params.extend([before[0], before[0], before[1]])
    rows = [
        _row(r)
        for r in tx.all(
            f"SELECT {_COLUMNS} FROM view_appeals WHERE {' AND '.join(where)} "  # noqa: S608
            "ORDER BY filed_at DESC, appeal_id DESC LIMIT ?",
            [*params, limit + 1],
        )
    ]
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = (rows[-1].filed_at, str(rows[-1].appeal_id)) if more and rows else None
    return rows, nxt


class AppealsView(View[AppealRow]):
    name = "appeals"
    source = "CardLedger"
    topics = topics_of(Appeal, ("Filed", "Answered"))
    tables = ("view_appeals",)

    def ddl(self, dialect: str) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS view_appeals (
                appeal_id TEXT PRIMARY KEY,
                card_id TEXT NOT NULL,
                card_region TEXT NOT NULL,
                merchant_region TEXT,
                status TEXT NOT NULL,
                filed_at TEXT NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS view_appeals_card ON view_appeals (card_id)",
            "CREATE INDEX IF NOT EXISTS view_appeals_filed ON view_appeals (filed_at)",
        ]

    def apply(self, state: AppealRow | None, event: Event) -> AppealRow | None:
        return apply_appeal(state, event)

    def load(self, tx: Tx, ids: Sequence[UUID]) -> dict[UUID, AppealRow]:
        found: dict[UUID, AppealRow] = {}
        for part in chunks([str(i) for i in ids]):
            for r in tx.all(
                f"SELECT {_COLUMNS} FROM view_appeals "  # noqa: S608
                f"WHERE appeal_id IN ({placeholders(len(part))})",
                part,
            ):
                row = _row(r)
                found[row.appeal_id] = row
        return found

    def store(
        self, tx: Tx, changes: Mapping[UUID, tuple[AppealRow | None, AppealRow | None]]
    ) -> None:
        rows = [
            (str(a.appeal_id), a.card_id, a.card_region, a.merchant_region, a.status, a.filed_at)
            for _, a in changes.values()
            if a is not None
        ]
        tx.insert_many(
            Insert(
                "view_appeals",
                _COLUMNS,
                on_conflict="ON CONFLICT (appeal_id) DO UPDATE SET status = excluded.status",
            ),
            rows,
        )

    def snapshot(self, tx: Tx) -> list[Row]:
        return tx.all(f"SELECT {_COLUMNS} FROM view_appeals ORDER BY appeal_id")  # noqa: S608
