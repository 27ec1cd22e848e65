"""Read models of the redemption events: the redemption log, the usage counters (a verdict's
`remaining`) and the daily sums behind statistics and settlement.

Pure folds per aggregate plus their SQL, run by `projections.runner.Runner` against the
Redemptions application's notification log, exactly once (view rows and position in one
transaction). The daily table is only ever incremented by a redemption the log view sees
for the first time, so a rebuild from the events reproduces it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass, replace
from typing import Any
from uuid import UUID

from cardservice.storage import Row, Tx
from projections.view import Event, ProjectionError, View, chunks, event_name, placeholders
from projections.view import topics_of as _topics
from redemptions.domain import Redemption, UsageCounter
from redemptions.rollups import (
    REDEMPTION_ROLLUP_DDL,
    REDEMPTION_ROLLUP_TABLES,
    RedemptionKey,
    add_redemptions,
    backfill_redemptions,
)

SOURCE = "Redemptions"


@dataclass(frozen=True)
class RedemptionRow:
    redemption_id: str
    merchant_id: str
    merchant_name: str
    merchant_kind: str
    merchant_region: str
    card_id: str
    card_region: str
    benefit_id: str
    benefit_region: str
    companions: int
    redeemed_at: str
    day: str
    verification_id: str | None
    status: str
    remaining: int | None


_R_COLUMNS = (
    "redemption_id, merchant_id, merchant_name, merchant_kind, merchant_region, card_id, "
    "card_region, benefit_id, benefit_region, companions, redeemed_at, day, verification_id, "
    "status, remaining"
)
_DAILY_KEY = "merchant_region, card_region, benefit_region, benefit_id, day"


def apply_redemption(state: RedemptionRow | None, event: Event) -> RedemptionRow | None:
    if event_name(event) != "Redemption.Recorded":
        return state
    if state is not None:
        raise ProjectionError(f"redemption {event.originator_id} recorded twice")
    return RedemptionRow(
        redemption_id=str(event.originator_id),
        merchant_id=event.merchant_id,
        merchant_name=event.merchant_name,
        merchant_kind=event.merchant_kind,
        merchant_region=event.merchant_region,
        card_id=event.card_id,
        card_region=event.card_region,
        benefit_id=event.benefit_id,
        benefit_region=event.benefit_region,
        companions=int(event.companions),
        redeemed_at=event.redeemed_at,
        day=event.day,
        verification_id=event.verification_id,
        status=event.status,
        remaining=event.remaining,
    )


def _serial(dialect: str) -> str:
    return "BIGSERIAL PRIMARY KEY" if dialect == "postgres" else "INTEGER PRIMARY KEY AUTOINCREMENT"


class RedemptionLogView(View[RedemptionRow]):
    name = "redemptions"
    source = SOURCE
    topics = _topics(Redemption, ["Recorded"])
    tables = ("view_redemptions", "redemption_daily", *REDEMPTION_ROLLUP_TABLES)

    def ddl(self, dialect: str) -> list[str]:
        return [
            f"""CREATE TABLE IF NOT EXISTS view_redemptions (
                seq {_serial(dialect)},
                redemption_id TEXT NOT NULL UNIQUE,
                merchant_id TEXT NOT NULL,
                merchant_name TEXT NOT NULL,
                merchant_kind TEXT NOT NULL,
                merchant_region TEXT NOT NULL,
                card_id TEXT NOT NULL,
                card_region TEXT NOT NULL,
                benefit_id TEXT NOT NULL,
                benefit_region TEXT NOT NULL,
                companions INTEGER NOT NULL,
                redeemed_at TEXT NOT NULL,
                day TEXT NOT NULL,
                verification_id TEXT,
                status TEXT NOT NULL,
                remaining INTEGER
            )""",
            "CREATE INDEX IF NOT EXISTS view_redemptions_merchant "
            "ON view_redemptions (merchant_id, seq)",
            "CREATE INDEX IF NOT EXISTS view_redemptions_card ON view_redemptions (card_id, seq)",
            f"""CREATE TABLE IF NOT EXISTS redemption_daily (
                merchant_region TEXT NOT NULL,
                card_region TEXT NOT NULL,
                benefit_region TEXT NOT NULL,
                benefit_id TEXT NOT NULL,
                day TEXT NOT NULL,
                redemptions BIGINT NOT NULL,
                companions BIGINT NOT NULL,
                PRIMARY KEY ({_DAILY_KEY})
            )""",
            "CREATE INDEX IF NOT EXISTS redemption_daily_day ON redemption_daily (day)",
            *REDEMPTION_ROLLUP_DDL,
        ]

    def upgrade(self, tx: Tx) -> None:
        """A daily table made before the roll-ups existed fills them once."""
        backfill_redemptions(tx)

    def apply(self, state: RedemptionRow | None, event: Event) -> RedemptionRow | None:
        return apply_redemption(state, event)

    def load(self, tx: Tx, ids: Sequence[UUID]) -> dict[UUID, RedemptionRow]:
        found: dict[UUID, RedemptionRow] = {}
        for part in chunks([str(i) for i in ids]):
            for row in tx.all(
                f"SELECT {_R_COLUMNS} FROM view_redemptions "  # noqa: S608
                f"WHERE redemption_id IN ({placeholders(len(part))})",
                part,
            ):
                found[UUID(row[0])] = RedemptionRow(*row)
        return found

    def store(
        self, tx: Tx, changes: Mapping[UUID, tuple[RedemptionRow | None, RedemptionRow | None]]
    ) -> None:
        new = [after for before, after in changes.values() if before is None and after]
        tx.executemany(
            f"INSERT INTO view_redemptions ({_R_COLUMNS}) "  # noqa: S608
            f"VALUES ({placeholders(15)})",
            [astuple(r) for r in new],
        )
        sums: dict[RedemptionKey, list[int]] = {}
        for r in new:
            key = (r.merchant_region, r.card_region, r.benefit_region, r.benefit_id, r.day)
            counts = sums.setdefault(key, [0, 0])
            counts[0] += 1
            counts[1] += r.companions
        tx.executemany(
            f"INSERT INTO redemption_daily ({_DAILY_KEY}, redemptions, companions) "  # noqa: S608
            f"VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT ({_DAILY_KEY}) DO UPDATE SET "
            "redemptions = redemption_daily.redemptions + excluded.redemptions, "
            "companions = redemption_daily.companions + excluded.companions",
            [(*k, v[0], v[1]) for k, v in sorted(sums.items())],
        )
        add_redemptions(tx, sums)

    def snapshot(self, tx: Tx) -> list[Row]:
        log = f"SELECT {_R_COLUMNS} FROM view_redemptions ORDER BY redemption_id"  # noqa: S608
        daily = f"SELECT {_DAILY_KEY}, redemptions, companions FROM redemption_daily "  # noqa: S608
        rows = tx.all(log) + [("daily", *r) for r in tx.all(daily + f"ORDER BY {_DAILY_KEY}")]
        for table in REDEMPTION_ROLLUP_TABLES:
            rows += [(table, *r) for r in tx.all(f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4")]  # noqa: S608
        return rows


@dataclass(frozen=True)
class CounterRow:
    counter_id: str
    card_id: str
    benefit_key: str
    period: str
    used: int


def apply_counter(state: CounterRow | None, event: Event) -> CounterRow | None:
    name = event_name(event)
    if name == "UsageCounter.Opened":
        return CounterRow(str(event.originator_id), event.card_id, event.key, event.period, 0)
    if state is None:
        raise ProjectionError(f"{name} for counter {event.originator_id}, never opened")
    if name == "UsageCounter.Used":
        return replace(state, used=state.used + 1)
    return state


class CounterView(View[CounterRow]):
    """Uses per card, benefit and period: the verdict's `remaining` (may lag a little)."""

    name = "redemption_counters"
    source = SOURCE
    topics = _topics(UsageCounter, ["Opened", "Used"])
    tables = ("view_redemption_counters",)

    def ddl(self, dialect: str) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS view_redemption_counters (
                counter_id TEXT PRIMARY KEY,
                card_id TEXT NOT NULL,
                benefit_key TEXT NOT NULL,
                period TEXT NOT NULL,
                used INTEGER NOT NULL
            )""",
            # Migration 3 replaces this index by (card_id, period): a verdict reads the
            # periods it falls in only (`merchant_api.counters`).
            "CREATE INDEX IF NOT EXISTS view_redemption_counters_card "
            "ON view_redemption_counters (card_id)",
        ]

    def apply(self, state: CounterRow | None, event: Event) -> CounterRow | None:
        return apply_counter(state, event)

    def load(self, tx: Tx, ids: Sequence[UUID]) -> dict[UUID, CounterRow]:
        found: dict[UUID, CounterRow] = {}
        for part in chunks([str(i) for i in ids]):
            for row in tx.all(
                "SELECT counter_id, card_id, benefit_key, period, used "  # noqa: S608
                f"FROM view_redemption_counters WHERE counter_id IN ({placeholders(len(part))})",
                part,
            ):
                found[UUID(row[0])] = CounterRow(str(row[0]), row[1], row[2], row[3], int(row[4]))
        return found

    def store(
        self, tx: Tx, changes: Mapping[UUID, tuple[CounterRow | None, CounterRow | None]]
    ) -> None:
        tx.executemany(
            "INSERT INTO view_redemption_counters (counter_id, card_id, benefit_key, period, used) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (counter_id) DO UPDATE SET used = excluded.used",
            [astuple(after) for _, after in changes.values() if after is not None],
        )

    def snapshot(self, tx: Tx) -> list[Row]:
        return tx.all(
            "SELECT counter_id, card_id, benefit_key, period, used "
            "FROM view_redemption_counters ORDER BY counter_id"
        )


def redemption_views() -> list[View[Any]]:
    return [RedemptionLogView(), CounterView()]


def counters_of(tx: Tx, card_id: str) -> dict[tuple[str, str], int]:
    """{(benefit_key, period): used} of one card (one indexed read)."""
    return {
        (str(r[0]), str(r[1])): int(r[2])
        for r in tx.all(
            "SELECT benefit_key, period, used FROM view_redemption_counters WHERE card_id = ?",
            (card_id,),
        )
    }
