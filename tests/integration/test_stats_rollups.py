"""The statistics roll-ups on both engines: the stats answer read from them equals a fold this
test computes from the inputs it wrote (regions at every level, ranges across month and
year ends), a rebuild of the redemption view refills them from the events, and a database
made before them gets them filled from its daily tables exactly once."""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from cardservice.bootstrap.write import WriteSide
from cardservice.clock import SHANGHAI
from cardservice.domain.regions import regions
from merchant_api import vlog
from projections.runner import reset
from redemptions.application import Grant
from redemptions.rollups import REDEMPTION_ROLLUP_TABLES
from redemptions.service import RedemptionContext
from redemptions.stats import Scope, settlement_rows, statistics
from redemptions.views import RedemptionLogView, RedemptionRow, redemption_views

# Counties, a 县 row's county, a county straight under its province (仙桃), and a
# well-formed code that is not in the table (in no region's subtree).
MERCHANT_REGIONS = ["500112", "500103", "500235", "110101", "429004", "440106", "509999"]
CARD_REGIONS = [*MERCHANT_REGIONS, "500000", "420100", "110000"]
STATUSES = ["valid", "valid", "valid", "revoked", "expired", "malformed", "not_issued"]
SCOPE_REGIONS = [
    "000000", "500000", "500100", "500112", "500200", "500235", "110000", "110101",
    "420000", "429004", "440000", "650000",
]  # fmt: skip
FIRST, LAST = date(2025, 12, 20), date(2027, 1, 10)


@dataclass
class Seen:
    """What the test wrote, folded independently of the service's SQL."""

    verdicts: list[tuple[str, str, str]] = field(default_factory=list)  # region, day, status
    redemptions: list[tuple[str, str, str, str, str, int]] = field(default_factory=list)

    def stats(self, scope: Scope) -> dict[str, Any]:
        table = regions()
        days = scope.days()
        inside = [v for v in self.verdicts if table.is_within(v[0], scope.region) and v[1] in days]
        spent = [
            r for r in self.redemptions if table.is_within(r[0], scope.region) and r[4] in days
        ]
        return {
            "region": scope.region,
            "from": scope.start.isoformat(),
            "to": scope.end.isoformat(),
            "verifications": {
                "total": len(inside),
                "by_status": dict(sorted(Counter(v[2] for v in inside).items())),
            },
            "redemptions": {
                "total": len(spent),
                "companions": sum(r[5] for r in spent),
                "by_benefit": dict(sorted(Counter(f"{r[2]}/{r[3]}" for r in spent).items())),
                "out_of_region": sum(1 for r in spent if not table.is_within(r[1], scope.region)),
            },
            "by_day": [
                {
                    "date": d,
                    "verifications": sum(1 for v in inside if v[1] == d),
                    "valid": sum(1 for v in inside if v[1] == d and v[2] == "valid"),
                    "redemptions": sum(1 for r in spent if r[4] == d),
                }
                for d in days
            ],
        }

    def settlement(self, scope: Scope) -> list[tuple[str, str, str, str, int, int]]:
        table = regions()
        days = set(scope.days())
        sums: dict[tuple[str, str, str, str], list[int]] = {}
        for m, c, br, b, d, comp in self.redemptions:
            if table.is_within(m, scope.region) and d in days:
                entry = sums.setdefault((m, c, b, br), [0, 0])
                entry[0] += 1
                entry[1] += comp
        return [(*k, v[0], v[1]) for k, v in sorted(sums.items())]


def scopes(rng: random.Random) -> list[Scope]:
    ranges = [
        (date(2026, 1, 1), date(2026, 12, 31)),  # whole months only
        (date(2025, 12, 20), date(2026, 12, 20)),  # 366 days, both ends partial
        (date(2026, 2, 1), date(2026, 2, 28)),
        (date(2026, 1, 31), date(2026, 3, 1)),  # one whole month, a day either side
        (date(2026, 3, 2), date(2026, 3, 30)),  # no whole month
        (date(2026, 12, 15), date(2027, 1, 10)),  # across the year's end
        (date(2026, 6, 30), date(2026, 6, 30)),
    ]
    for _ in range(8):
        start = FIRST + timedelta(days=rng.randrange((LAST - FIRST).days))
        end = min(LAST, start + timedelta(days=rng.randrange(366)))
        ranges.append((start, end))
    return [Scope(r, a, b) for r in SCOPE_REGIONS for a, b in ranges]


def random_day(rng: random.Random) -> date:
    return FIRST + timedelta(days=rng.randrange((LAST - FIRST).days + 1))


def write_log(svc: WriteSide, seen: Seen, rng: random.Random, count: int) -> None:
    """Verifications through the log's writer, in batches of mixed days."""
    records = []
    for n in range(count):
        day = random_day(rng)
        # Shanghai wall time, stored in UTC: early hours fall on the previous UTC day.
        moment = datetime.combine(day, time(rng.randrange(24), rng.randrange(60)), SHANGHAI)
        region = rng.choice(MERCHANT_REGIONS)
        status = rng.choice(STATUSES)
        records.append(
            vlog.Record(
                verification_id=str(uuid.UUID(int=rng.getrandbits(128))),
                merchant_id=f"m{n % 9}", merchant_name="商户", merchant_kind="merchant",
                merchant_region=region, card_id=None, card_number=None, status=status,
                presentation="static", checked_at=moment.astimezone(UTC).isoformat(),
            )
        )  # fmt: skip
        seen.verdicts.append((region, day.isoformat(), status))
    while records:
        size = rng.randrange(1, 400)
        with svc.db.transaction() as tx:
            vlog.write(tx, records[:size])
        records = records[size:]


def write_redemptions(svc: WriteSide, seen: Seen, rng: random.Random, count: int) -> None:
    """Redemptions through the view's store (as its runner calls it), in batches."""
    view = RedemptionLogView()
    rows = []
    for n in range(count):
        day = random_day(rng).isoformat()
        merchant, card = rng.choice(MERCHANT_REGIONS), rng.choice(CARD_REGIONS)
        benefit_region, benefit_id = rng.choice(["000000", "500000", "420000"]), f"b{n % 6}"
        companions = rng.randrange(3)
        rows.append(
            RedemptionRow(
                str(uuid.UUID(int=rng.getrandbits(128))), f"m{n % 9}", "商户", "merchant",
                merchant, f"c{n}", card, benefit_id, benefit_region, companions,
                day + "T04:00:00+00:00", day, None, "recorded", None,
            )
        )  # fmt: skip
        seen.redemptions.append((merchant, card, benefit_region, benefit_id, day, companions))
    while rows:
        size = rng.randrange(1, 300)
        with svc.db.transaction() as tx:
            view.store(tx, {uuid.UUID(r.redemption_id): (None, r) for r in rows[:size]})
        rows = rows[size:]


def assert_answers(svc: WriteSide, seen: Seen, all_scopes: list[Scope]) -> None:
    with svc.db.read() as tx:
        for scope in all_scopes:
            assert statistics(tx, scope) == seen.stats(scope), scope
            assert settlement_rows(tx, scope) == seen.settlement(scope), scope


def test_stats_equal_a_fold_of_what_was_written(services: WriteSide) -> None:
    rng = random.Random(13)
    seen = Seen()
    write_log(services, seen, rng, 2500)
    write_redemptions(services, seen, rng, 1500)
    all_scopes = scopes(rng)
    assert_answers(services, seen, all_scopes)
    # The data reaches every kind of answer the comparison covers.
    national = seen.stats(Scope("000000", date(2026, 1, 1), date(2026, 12, 31)))
    assert national["redemptions"]["out_of_region"] > 0
    assert len(national["redemptions"]["by_benefit"]) == 18
    assert seen.stats(Scope("429004", FIRST, FIRST + timedelta(days=365)))["redemptions"]["total"]


def migrate(svc: WriteSide) -> None:
    """What the baseline migration does to a database older than the roll-ups."""
    with svc.db.transaction() as tx:
        vlog.upgrade(tx)
        for view in redemption_views():
            view.upgrade(tx)


def test_an_older_database_fills_its_rollups_once(services: WriteSide) -> None:
    """Daily tables written before the roll-ups existed: migrating fills the roll-ups from
    them, and migrating again (another replica starting) adds nothing twice."""
    rng = random.Random(14)
    seen = Seen()
    write_log(services, seen, rng, 800)
    write_redemptions(services, seen, rng, 500)
    with services.db.transaction() as tx:
        for table in ("verification_rollup", *REDEMPTION_ROLLUP_TABLES):
            tx.execute(f"DELETE FROM {table}")
    year = Scope("000000", date(2026, 1, 1), date(2026, 12, 31))
    with services.db.read() as tx:
        assert statistics(tx, year) != seen.stats(year)
    # Two replicas start at once, then one starts again later.
    errors: list[BaseException] = []

    def start() -> None:
        try:
            migrate(services)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    starts = [threading.Thread(target=start) for _ in range(2)]
    for thread in starts:
        thread.start()
    for thread in starts:
        thread.join()
    assert errors == []
    assert_answers(services, seen, scopes(rng)[::7])
    migrate(services)
    assert_answers(services, seen, scopes(rng)[::7])
    # And the roll-ups keep growing with the daily tables afterwards.
    write_log(services, seen, rng, 100)
    write_redemptions(services, seen, rng, 100)
    assert_answers(services, seen, scopes(rng)[::7])


def test_a_rebuild_refills_the_rollups_from_the_events(services: WriteSide) -> None:
    context = RedemptionContext(services.settings, services.db)
    try:
        context.setup()
        seen = Seen()
        rng = random.Random(15)
        moments = [
            datetime(2026, 1, 31, 23, 30, tzinfo=SHANGHAI),
            datetime(2026, 2, 1, 0, 30, tzinfo=SHANGHAI),
        ]
        moments += [datetime.combine(random_day(rng), time(12), SHANGHAI) for _ in range(30)]
        for n, at in enumerate(moments):
            merchant, card = MERCHANT_REGIONS[n % 6], CARD_REGIONS[(n * 5) % len(CARD_REGIONS)]
            context.app.redeem(
                Grant(
                    merchant_id=f"m{n}", merchant_name="商户", merchant_kind="merchant",
                    merchant_region=merchant, card_id=f"c{n}", card_region=card,
                    benefit_id=f"b{n % 3}", benefit_region="000000", limit_count=None,
                    limit_per=None, companions=n % 2, redeemed_at=at.astimezone(UTC),
                    verification_id=str(uuid.uuid4()),
                )
            )  # fmt: skip
            seen.redemptions.append(
                (merchant, card, "000000", f"b{n % 3}", at.date().isoformat(), n % 2)
            )
        context.catch_up()
        view = next(v for v in context.views if isinstance(v, RedemptionLogView))
        with services.db.read() as tx:
            before = view.snapshot(tx)
        assert {row[0] for row in before} >= set(REDEMPTION_ROLLUP_TABLES)
        all_scopes = scopes(rng)
        assert_answers(services, seen, all_scopes)
        reset(services.db, view)
        with services.db.read() as tx:
            assert all(tx.one(f"SELECT 1 FROM {t}") is None for t in REDEMPTION_ROLLUP_TABLES)
        context.catch_up()
        with services.db.read() as tx:
            assert view.snapshot(tx) == before
        assert_answers(services, seen, all_scopes)
    finally:
        context.close()
