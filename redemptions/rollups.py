"""Roll-ups behind the statistics query: its cost stays flat however large the log grows.

The daily tables (`verification_daily`, `redemption_daily`) hold a row per merchant region
(and card region and benefit) per day, so a query over a province or the nation reads a
row per county x day (x card region x benefit): the more merchants and cards there are,
the more rows. The roll-ups below hold the same sums already added up for every region of
the merchant region's chain (itself, its prefecture, its province and 000000), so the stats
query reads its own region's rows by primary key (`region = R AND day BETWEEN ..`):

- `verification_rollup` (region, day, status): `by_status` and `by_day`;
- `redemption_rollup` (region, day): redemptions, companions and `out_of_region` (cards
  issued outside that region's subtree, decided when the sums are added);
- `redemption_benefit_month` (region, month, benefit) for the whole calendar months of the
  range, `redemption_benefit_day` (region, day, benefit) for the days at its ends, so
  `by_benefit` reads at most 13 months and 60 days of rows per benefit.

They are written in the transaction that adds to the daily tables (the verification log's
writer, the redemption view's store) from the same deltas, so they always agree with them;
a rebuild of the redemption view clears and refills them with the daily table, and
`backfill` derives them from the daily tables where a database predates them. Codes that
are not in the region table lie in no subtree (as `RegionTable.is_within` says): they are
added to no region's rows, and a card region that is unknown counts as out of region.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence

from cardservice.dialect import Insert
from cardservice.domain.regions import RegionTable, regions
from cardservice.storage import Tx

VERIFICATION_ROLLUP_DDL = [
    """CREATE TABLE IF NOT EXISTS verification_rollup (
        region TEXT NOT NULL,
        day TEXT NOT NULL,
        status TEXT NOT NULL,
        n BIGINT NOT NULL,
        PRIMARY KEY (region, day, status)
    )""",
]

REDEMPTION_ROLLUP_TABLES = (
    "redemption_rollup",
    "redemption_benefit_day",
    "redemption_benefit_month",
)
REDEMPTION_ROLLUP_DDL = [
    """CREATE TABLE IF NOT EXISTS redemption_rollup (
        region TEXT NOT NULL,
        day TEXT NOT NULL,
        redemptions BIGINT NOT NULL,
        companions BIGINT NOT NULL,
        out_of_region BIGINT NOT NULL,
        PRIMARY KEY (region, day)
    )""",
    """CREATE TABLE IF NOT EXISTS redemption_benefit_day (
        region TEXT NOT NULL,
        day TEXT NOT NULL,
        benefit_region TEXT NOT NULL,
        benefit_id TEXT NOT NULL,
        redemptions BIGINT NOT NULL,
        PRIMARY KEY (region, day, benefit_region, benefit_id)
    )""",
    """CREATE TABLE IF NOT EXISTS redemption_benefit_month (
        region TEXT NOT NULL,
        month TEXT NOT NULL,
        benefit_region TEXT NOT NULL,
        benefit_id TEXT NOT NULL,
        redemptions BIGINT NOT NULL,
        PRIMARY KEY (region, month, benefit_region, benefit_id)
    )""",
]

VerificationKey = tuple[str, str, str]
"""(merchant region, day, status): the key of `verification_daily`."""
RedemptionKey = tuple[str, str, str, str, str]
"""(merchant region, card region, benefit region, benefit id, day): `redemption_daily`'s."""


def _chain(table: RegionTable, code: str) -> list[str]:
    return table.ancestors(code) if table.exists(code) else []


def add_verifications(tx: Tx, sums: Mapping[VerificationKey, int]) -> None:
    """Add the daily deltas `sums` to every region of each merchant region's chain."""
    table = regions()
    rolled: Counter[VerificationKey] = Counter()
    for (merchant_region, day, status), n in sums.items():
        for region in _chain(table, merchant_region):
            rolled[(region, day, status)] += n
    # Sorted: concurrent writers (one per merchant API replica) lock rows in one order.
    # Keys are unique after the sums, so one multi-row statement (or COPY) per table.
    tx.insert_many(
        Insert(
            "verification_rollup",
            ("region", "day", "status", "n"),
            on_conflict="ON CONFLICT (region, day, status) DO UPDATE SET "
            "n = verification_rollup.n + excluded.n",
        ),
        [(*key, n) for key, n in sorted(rolled.items())],
    )


def add_redemptions(tx: Tx, sums: Mapping[RedemptionKey, Sequence[int]]) -> None:
    """Add the daily deltas `sums` ({key: (redemptions, companions)}) to the roll-ups of
    every region of each merchant region's chain."""
    table = regions()
    totals: dict[tuple[str, str], list[int]] = {}
    by_day: Counter[tuple[str, str, str, str]] = Counter()
    by_month: Counter[tuple[str, str, str, str]] = Counter()
    for (merchant_region, card_region, benefit_region, benefit_id, day), counts in sums.items():
        n, companions = int(counts[0]), int(counts[1])
        for region in _chain(table, merchant_region):
            entry = totals.setdefault((region, day), [0, 0, 0])
            entry[0] += n
            entry[1] += companions
            if not table.is_within(card_region, region):
                entry[2] += n
            by_day[(region, day, benefit_region, benefit_id)] += n
            by_month[(region, day[:7], benefit_region, benefit_id)] += n
    tx.insert_many(
        Insert(
            "redemption_rollup",
            ("region", "day", "redemptions", "companions", "out_of_region"),
            on_conflict="ON CONFLICT (region, day) DO UPDATE SET "
            "redemptions = redemption_rollup.redemptions + excluded.redemptions, "
            "companions = redemption_rollup.companions + excluded.companions, "
            "out_of_region = redemption_rollup.out_of_region + excluded.out_of_region",
        ),
        [(*key, *v) for key, v in sorted(totals.items())],
    )
    for name, period, rows in (
        ("redemption_benefit_day", "day", by_day),
        ("redemption_benefit_month", "month", by_month),
    ):
        tx.insert_many(
            Insert(
                name,
                ("region", period, "benefit_region", "benefit_id", "redemptions"),
                on_conflict=f"ON CONFLICT (region, {period}, benefit_region, benefit_id) "
                f"DO UPDATE SET redemptions = {name}.redemptions + excluded.redemptions",
            ),
            [(*key, n) for key, n in sorted(rows.items())],
        )


def _days(tx: Tx, table: str) -> list[str]:
    return [str(r[0]) for r in tx.all(f"SELECT DISTINCT day FROM {table} ORDER BY day")]  # noqa: S608


def _windows(days: Sequence[str], size: int = 31) -> Iterable[tuple[str, str]]:
    for i in range(0, len(days), size):
        part = days[i : i + size]
        yield part[0], part[-1]


def fill_verifications(tx: Tx) -> None:
    """Derive `verification_rollup` from `verification_daily` (into an empty roll-up), a
    month of days at a time so memory stays bounded."""
    for first, last in _windows(_days(tx, "verification_daily")):
        rows = tx.all(
            "SELECT merchant_region, day, status, n FROM verification_daily "
            "WHERE day >= ? AND day <= ?",
            (first, last),
        )
        add_verifications(tx, {(str(r[0]), str(r[1]), str(r[2])): int(r[3]) for r in rows})


def fill_redemptions(tx: Tx) -> None:
    """Derive the redemption roll-ups from `redemption_daily` (into empty roll-ups)."""
    for first, last in _windows(_days(tx, "redemption_daily")):
        rows = tx.all(
            "SELECT merchant_region, card_region, benefit_region, benefit_id, day, redemptions, "
            "companions FROM redemption_daily WHERE day >= ? AND day <= ?",
            (first, last),
        )
        add_redemptions(
            tx,
            {
                (str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4])): (int(r[5]), int(r[6]))
                for r in rows
            },
        )


def _needs_fill(tx: Tx, rollup: str, daily: str) -> bool:
    empty = tx.one(f"SELECT 1 FROM {rollup} LIMIT 1") is None  # noqa: S608
    return empty and tx.one(f"SELECT 1 FROM {daily} LIMIT 1") is not None  # noqa: S608


def backfill(tx: Tx, rollup: str, daily: str, fill: Callable[[Tx], None]) -> bool:
    """`fill` an empty roll-up from its daily table that is not empty (a database made
    before the roll-ups existed); True if it did. Once a roll-up has a row every write keeps
    it, so the check is final; the lock makes concurrent start-ups fill it once (a writer
    that committed before it added to both tables, so the roll-up is not empty; one that
    commits after it waits for the lock and adds only its own delta)."""
    if not _needs_fill(tx, rollup, daily):
        return False
    if tx.dialect == "postgres":
        tx.execute(f"LOCK TABLE {rollup} IN SHARE ROW EXCLUSIVE MODE")
        if not _needs_fill(tx, rollup, daily):
            return False
    fill(tx)
    return True


def backfill_verifications(tx: Tx) -> bool:
    return backfill(tx, "verification_rollup", "verification_daily", fill_verifications)


def backfill_redemptions(tx: Tx) -> bool:
    """`redemption_rollup` is the first table the view's store writes of the three: its
    lock holds the others' writers too."""
    return backfill(tx, "redemption_rollup", "redemption_daily", fill_redemptions)
