"""Merchants by API-key hash: how the verification path authenticates a merchant.

Only the SHA-256 of the key is ever stored. A rotation replaces the hash (the old key stops
working) and a deactivation keeps the row with `active` false (the key stops working).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from cardservice.domain.merchants import Merchant
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

MERCHANT_EVENTS = ("Registered", "ApiKeyRotated", "Deactivated", "Updated")


@dataclass(frozen=True)
class MerchantRow:
    merchant_id: UUID
    key_hash: str
    name: str
    region: str
    kind: str
    a_level: int | None
    categories: tuple[str, ...]
    require_device_binding: bool
    active: bool


def apply_merchant(state: MerchantRow | None, event: Event) -> MerchantRow | None:
    """Fold one Merchant event into the merchant's row."""
    name = event_name(event)
    if name == "Merchant.Registered":
        return MerchantRow(
            merchant_id=event.originator_id,
            key_hash=event.key_hash,
            name=event.name,
            region=event.region,
            kind=event.kind,
            a_level=event.a_level,
            categories=tuple(event.categories),
            require_device_binding=bool(event.require_device_binding),
            active=True,
        )
    if state is None:
        raise ProjectionError(f"{name} for merchant {event.originator_id}, never registered")
    if name == "Merchant.ApiKeyRotated":
        return replace(state, key_hash=event.key_hash)
    if name == "Merchant.Deactivated":
        return replace(state, active=False)
    if name == "Merchant.Updated":
        changes = dict(event.changes)
        if "categories" in changes:
            changes["categories"] = tuple(changes["categories"])
        if "require_device_binding" in changes:
            changes["require_device_binding"] = bool(changes["require_device_binding"])
        return replace(state, **changes)
    return state


_COLUMNS = (
    "merchant_id, key_hash, name, region, kind, a_level, categories, require_device_binding, active"
)


def merchant_row_from_db(row: Row) -> MerchantRow:
    return MerchantRow(
        merchant_id=UUID(row[0]),
        key_hash=row[1],
        name=row[2],
        region=row[3],
        kind=row[4],
        a_level=None if row[5] is None else int(row[5]),
        categories=tuple(json.loads(row[6])),
        require_device_binding=bool(row[7]),
        active=bool(row[8]),
    )


def select_merchant_by_key_hash(tx: Tx, key_hash: str) -> MerchantRow | None:
    row = tx.one(f"SELECT {_COLUMNS} FROM view_merchants WHERE key_hash = ?", (key_hash,))  # noqa: S608
    return merchant_row_from_db(row) if row is not None else None


def select_merchants(tx: Tx, ids: Sequence[UUID]) -> dict[UUID, MerchantRow]:
    found: dict[UUID, MerchantRow] = {}
    for part in chunks([str(i) for i in ids]):
        for row in tx.all(
            f"SELECT {_COLUMNS} FROM view_merchants "  # noqa: S608
            f"WHERE merchant_id IN ({placeholders(len(part))})",
            part,
        ):
            merchant = merchant_row_from_db(row)
            found[merchant.merchant_id] = merchant
    return found


class MerchantView(View[MerchantRow]):
    name = "merchants"
    source = "CatalogAdmin"
    topics = topics_of(Merchant, MERCHANT_EVENTS)
    tables = ("view_merchants",)

    def ddl(self, dialect: str) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS view_merchants (
                merchant_id TEXT PRIMARY KEY,
                key_hash TEXT NOT NULL,
                name TEXT NOT NULL,
                region TEXT NOT NULL,
                kind TEXT NOT NULL,
                a_level INTEGER,
                categories TEXT NOT NULL,
                require_device_binding BOOLEAN NOT NULL,
                active BOOLEAN NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS view_merchants_key ON view_merchants (key_hash)",
        ]

    def apply(self, state: MerchantRow | None, event: Event) -> MerchantRow | None:
        return apply_merchant(state, event)

    def load(self, tx: Tx, ids: Sequence[UUID]) -> dict[UUID, MerchantRow]:
        return select_merchants(tx, ids)

    def store(
        self, tx: Tx, changes: Mapping[UUID, tuple[MerchantRow | None, MerchantRow | None]]
    ) -> None:
        rows: list[tuple[Any, ...]] = [
            (
                str(m.merchant_id),
                m.key_hash,
                m.name,
                m.region,
                m.kind,
                m.a_level,
                json.dumps(list(m.categories), ensure_ascii=False),
                m.require_device_binding,
                m.active,
            )
            for _, m in changes.values()
            if m is not None
        ]
        tx.executemany(
            f"INSERT INTO view_merchants ({_COLUMNS}) VALUES ({placeholders(9)}) "  # noqa: S608
            "ON CONFLICT (merchant_id) DO UPDATE SET key_hash = excluded.key_hash, "
            "name = excluded.name, region = excluded.region, kind = excluded.kind, "
            "a_level = excluded.a_level, categories = excluded.categories, "
            "require_device_binding = excluded.require_device_binding, "
            "active = excluded.active",
            rows,
        )

    def snapshot(self, tx: Tx) -> list[Row]:
        return [
            (*r[:7], bool(r[7]), bool(r[8]))
            for r in tx.all(f"SELECT {_COLUMNS} FROM view_merchants ORDER BY merchant_id")  # noqa: S608
        ]


def list_merchants(
    db: Database,
    *,
    region_prefix: str,
    kind: str | None,
    active: bool | None,
    after: str | None,
    limit: int,
) -> tuple[list[MerchantRow], str | None]:
    """The console's merchant list: a region subtree (a code prefix), kind, active; paged
    by merchant id."""
    where: list[str] = []
    params: list[Any] = []
    if region_prefix:
        where.append("region >= ? AND region < ?")
        params += [region_prefix, region_prefix[:-1] + chr(ord(region_prefix[-1]) + 1)]
    if kind is not None:
        where.append("kind = ?")
        params.append(kind)
    if active is not None:
        where.append("active = ?")
        params.append(active)
    if after is not None:
        where.append("merchant_id > ?")
        params.append(after)
    sql = f"SELECT {_COLUMNS} FROM view_merchants"  # noqa: S608
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY merchant_id LIMIT ?"
    params.append(limit + 1)
    with db.read() as tx:
        rows = [merchant_row_from_db(r) for r in tx.all(sql, params)]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, str(rows[-1].merchant_id) if more else None
