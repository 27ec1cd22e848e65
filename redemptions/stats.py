"""Bureau statistics and settlement, read from daily sums (never from the raw log).

`verification_daily` (kept by the verification log writer) and `redemption_daily` (kept by
the redemption view) hold one row per merchant region, Asia/Shanghai day and status or
benefit; a query reads at most (regions in the subtree) x (days) rows, whatever the size
of the log behind them. A region's subtree is narrowed in SQL by its code prefix and
decided exactly with the region table.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from cardservice.domain.regions import regions
from cardservice.storage import Database, Row, Tx
from projections.runner import create_tables
from redemptions.views import redemption_views

MAX_DAYS = 366
SETTLEMENT_HEADER = (
    "merchant_region",
    "card_region",
    "benefit_id",
    "benefit_region",
    "redemptions",
    "companions",
)


VERIFICATION_DAILY_DDL = [
    # Verifications per merchant region, Shanghai day and status (the log writer adds to
    # it in the transaction that appends the records).
    """CREATE TABLE IF NOT EXISTS verification_daily (
        merchant_region TEXT NOT NULL,
        day TEXT NOT NULL,
        status TEXT NOT NULL,
        n BIGINT NOT NULL,
        PRIMARY KEY (merchant_region, day, status)
    )""",
    "CREATE INDEX IF NOT EXISTS verification_daily_day ON verification_daily (day)",
]


def create_stats_tables(db: Database) -> None:
    """The daily sums and the redemption views, so statistics answer (zeros) on a fresh
    database before any merchant API ran."""
    db.create_tables(VERIFICATION_DAILY_DDL)
    create_tables(db, redemption_views())


class RangeInvalid(ValueError):
    """More than 366 days, or `from` after `to` (422)."""


@dataclass(frozen=True)
class Scope:
    region: str
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise RangeInvalid("from is after to")
        if (self.end - self.start).days + 1 > MAX_DAYS:
            raise RangeInvalid(f"at most {MAX_DAYS} days")

    def days(self) -> list[str]:
        count = (self.end - self.start).days + 1
        return [(self.start + timedelta(days=i)).isoformat() for i in range(count)]


def code_prefix(region: str) -> str:
    """A LIKE pattern every code of the subtree matches (a superset; filtered exactly)."""
    level = regions().level(region)
    return {0: "%", 1: region[:2] + "%", 2: region[:4] + "%"}.get(level, region)


def _verifications(tx: Tx, scope: Scope) -> list[tuple[str, str, str, int]]:
    table = regions()
    rows = tx.all(
        "SELECT merchant_region, day, status, n FROM verification_daily "
        "WHERE day >= ? AND day <= ? AND merchant_region LIKE ?",
        (scope.start.isoformat(), scope.end.isoformat(), code_prefix(scope.region)),
    )
    return [
        (str(r[0]), str(r[1]), str(r[2]), int(r[3]))
        for r in rows
        if table.is_within(str(r[0]), scope.region)
    ]


def _redemptions(tx: Tx, scope: Scope) -> list[tuple[str, str, str, str, str, int, int]]:
    table = regions()
    rows = tx.all(
        "SELECT merchant_region, card_region, benefit_region, benefit_id, day, redemptions, "
        "companions FROM redemption_daily WHERE day >= ? AND day <= ? AND merchant_region LIKE ?",
        (scope.start.isoformat(), scope.end.isoformat(), code_prefix(scope.region)),
    )
    return [
        (str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), int(r[5]), int(r[6]))
        for r in rows
        if table.is_within(str(r[0]), scope.region)
    ]


def _grouped(tx: Tx, scope: Scope, columns: str) -> list[Row]:
    """Redemption sums grouped in the database by `merchant_region` and `columns` (the
    rows that come back are few, whatever the size of the daily table)."""
    table = regions()
    rows = tx.all(
        f"SELECT merchant_region, {columns}, SUM(redemptions), SUM(companions) "  # noqa: S608
        "FROM redemption_daily WHERE day >= ? AND day <= ? AND merchant_region LIKE ? "
        f"GROUP BY merchant_region, {columns}",
        (scope.start.isoformat(), scope.end.isoformat(), code_prefix(scope.region)),
    )
    return [r for r in rows if table.is_within(str(r[0]), scope.region)]


def statistics(tx: Tx, scope: Scope) -> dict[str, Any]:
    """The contract's stats answer for `scope` (views; may lag)."""
    table = regions()
    by_status: Counter[str] = Counter()
    checked: Counter[str] = Counter()
    valid: Counter[str] = Counter()
    for _, day, status, n in _verifications(tx, scope):
        by_status[status] += n
        checked[day] += n
        if status == "valid":
            valid[day] += n
    redeemed: Counter[str] = Counter()
    total = companions = 0
    for row in _grouped(tx, scope, "day"):
        redeemed[str(row[1])] += int(row[2])
        total += int(row[2])
        companions += int(row[3])
    by_benefit: Counter[str] = Counter()
    for row in _grouped(tx, scope, "benefit_region, benefit_id"):
        by_benefit[f"{row[1]}/{row[2]}"] += int(row[3])
    out_of_region = sum(
        int(row[2])
        for row in _grouped(tx, scope, "card_region")
        if not table.is_within(str(row[1]), scope.region)
    )
    return {
        "region": scope.region,
        "from": scope.start.isoformat(),
        "to": scope.end.isoformat(),
        "verifications": {
            "total": sum(by_status.values()),
            "by_status": dict(sorted(by_status.items())),
        },
        "redemptions": {
            "total": total,
            "companions": companions,
            "by_benefit": dict(sorted(by_benefit.items())),
            "out_of_region": out_of_region,
        },
        "by_day": [
            {"date": d, "verifications": checked[d], "valid": valid[d], "redemptions": redeemed[d]}
            for d in scope.days()
        ],
    }


def settlement_rows(tx: Tx, scope: Scope) -> list[tuple[str, str, str, str, int, int]]:
    sums: dict[tuple[str, str, str, str], list[int]] = {}
    for merchant_region, card_region, benefit_region, benefit_id, _, n, c in _redemptions(
        tx, scope
    ):
        entry = sums.setdefault((merchant_region, card_region, benefit_id, benefit_region), [0, 0])
        entry[0] += n
        entry[1] += c
    return [(*key, v[0], v[1]) for key, v in sorted(sums.items())]


def settlement_csv(rows: list[tuple[str, str, str, str, int, int]]) -> bytes:
    """UTF-8 with a byte-order mark (spreadsheets in zh-CN open it right), LF line ends."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SETTLEMENT_HEADER)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")
