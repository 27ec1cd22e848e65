"""Bureau statistics and settlement, read from sums (never from the raw log).

Statistics read the roll-ups of the asked region alone (`redemptions.rollups`): a row per
day and status, per day, and per benefit and whole month or day at the range's ends, so a
query costs the same over a county or the nation, a small log or a large one. Settlement,
an export rather than an interactive query, reads `redemption_daily` (kept by the
redemption view: a row per merchant region x card region x benefit x Asia/Shanghai day),
narrowed in SQL by the region's code prefix and decided exactly with the region table.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from cardservice.domain.regions import regions
from cardservice.storage import Tx

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

    def _whole(self) -> tuple[date, date] | None:
        """The first day of the first whole calendar month in the range and the last day
        of the last one (None when no month lies wholly inside)."""
        first = self.start if self.start.day == 1 else _next_month(self.start)
        after = self.end + timedelta(days=1)
        after = after if after.day == 1 else self.end.replace(day=1)
        return (first, after - timedelta(days=1)) if first < after else None

    def whole_months(self) -> list[str]:
        """`YYYY-MM` of every calendar month lying wholly inside the range, in order."""
        whole = self._whole()
        months: list[str] = []
        if whole is not None:
            month = whole[0]
            while month <= whole[1]:
                months.append(month.isoformat()[:7])
                month = _next_month(month)
        return months

    def edges(self) -> list[tuple[date, date]]:
        """The inclusive day ranges of the scope outside its whole months (at most two)."""
        whole = self._whole()
        if whole is None:
            return [(self.start, self.end)]
        out = []
        if self.start < whole[0]:
            out.append((self.start, whole[0] - timedelta(days=1)))
        if whole[1] < self.end:
            out.append((whole[1] + timedelta(days=1), self.end))
        return out


def _next_month(day: date) -> date:
    """The first day of the month after `day`'s."""
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def code_prefix(region: str) -> str:
    """A LIKE pattern every code of the subtree matches (a superset; filtered exactly)."""
    level = regions().level(region)
    return {0: "%", 1: region[:2] + "%", 2: region[:4] + "%"}.get(level, region)


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


def _benefits(tx: Tx, scope: Scope) -> Counter[str]:
    """Redemptions per `{region}/{id}`: whole months from the monthly roll-up, the days at
    the range's ends from the daily one (summed in the database: few rows come back)."""
    by_benefit: Counter[str] = Counter()
    months = scope.whole_months()
    queries: list[tuple[str, list[str]]] = []
    if months:
        queries.append(
            (
                "FROM redemption_benefit_month WHERE region = ? AND month >= ? AND month <= ?",
                [scope.region, months[0], months[-1]],
            )
        )
    edges = scope.edges()
    if edges:
        within = " OR ".join(["(day >= ? AND day <= ?)"] * len(edges))
        queries.append(
            (
                f"FROM redemption_benefit_day WHERE region = ? AND ({within})",
                [scope.region, *(d.isoformat() for edge in edges for d in edge)],
            )
        )
    for source, params in queries:
        for benefit_region, benefit_id, n in tx.all(
            f"SELECT benefit_region, benefit_id, SUM(redemptions) {source} "
            "GROUP BY benefit_region, benefit_id",
            params,
        ):
            by_benefit[f"{benefit_region}/{benefit_id}"] += int(n)
    return by_benefit


def statistics(tx: Tx, scope: Scope) -> dict[str, Any]:
    """The contract's stats answer for `scope` (views; may lag), read from the roll-ups of
    `scope.region` alone: a row per day (and status), per benefit and month or edge day."""
    span = (scope.region, scope.start.isoformat(), scope.end.isoformat())
    by_status: Counter[str] = Counter()
    checked: Counter[str] = Counter()
    valid: Counter[str] = Counter()
    for day, status, n in tx.all(
        "SELECT day, status, n FROM verification_rollup WHERE region = ? AND day >= ? AND day <= ?",
        span,
    ):
        by_status[str(status)] += int(n)
        checked[str(day)] += int(n)
        if status == "valid":
            valid[str(day)] += int(n)
    redeemed: Counter[str] = Counter()
    total = companions = out_of_region = 0
    for day, n, c, away in tx.all(
        "SELECT day, redemptions, companions, out_of_region FROM redemption_rollup "
        "WHERE region = ? AND day >= ? AND day <= ?",
        span,
    ):
        redeemed[str(day)] += int(n)
        total += int(n)
        companions += int(c)
        out_of_region += int(away)
    by_benefit = _benefits(tx, scope)
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
