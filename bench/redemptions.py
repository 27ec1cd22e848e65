"""Redemption benchmarks on PostgreSQL, ratios measured side by side in one run:

1. redemptions/s with 32 concurrent merchants (threads calling the Redemptions
   application, each redemption a limited benefit: counter + redemption in one save)
   ÷ raw eventsourcing's single-event `save()` rate with the same 32 threads; each an
   online first use in its period, as the verdict saw it (the counter is created without
   a read), and beside it the same with the counter read first (`counter_read_ratio`:
   a verdict that saw a use, or an offline item);
2. in-process verify latency (`MerchantApi.adecide`, the route's path) at a merchant whose
   benefits carry limits ÷ at one where the same benefits carry none, for cards with a
   year of counter history and without, the two alternating request by request
   (`bench/redemption_verify.py`);
3. the stats query's p99 over 1M verification-log rows and 200k redemptions ÷ its p99 over
   10k rows and 2k redemptions, the two queried in turn (`--scale` shrinks the large
   one for a smoke run).

    python -m bench.redemptions [--scale 1.0] [--seconds 3] [--rounds 3]
        [--only redeem|verify|stats] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from bench.cluster import pg_schema, pg_settings
from bench.redemption_verify import verify_latency
from cardservice.bootstrap.write import WriteSide
from cardservice.clock import SystemClock
from cardservice.settings import Settings
from merchant_api import vlog
from redemptions.application import Grant, Redemptions
from redemptions.service import redemptions_env
from redemptions.stats import Scope
from redemptions.stats import statistics as stats_query
from redemptions.views import RedemptionLogView, RedemptionRow

MERCHANTS = 32


class RawOne(Aggregate):
    @event("Saved")
    def __init__(self, card_id: str, benefit: str, at: str) -> None:
        self.card_id = card_id
        self.benefit = benefit
        self.at = at


class Raw(Application[uuid.UUID]):
    name = "RawBench"


def threaded_rate(work: Any, seconds: float, threads: int = MERCHANTS) -> float:
    stop = time.perf_counter() + seconds
    counts = [0] * threads

    def run(i: int) -> None:
        while time.perf_counter() < stop:
            work(i, counts[i])
            counts[i] += 1

    began = time.perf_counter()
    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts) / (time.perf_counter() - began)


def redemption_rate(settings: Settings, seconds: float, rounds: int) -> dict[str, Any]:
    env = redemptions_env(settings)
    env["POSTGRES_POOL_SIZE"] = str(MERCHANTS)
    env["POSTGRES_MAX_OVERFLOW"] = "0"
    # A bare schema: the library makes both stores' tables (the service runs with
    # CREATE_TABLE=n, its tables made by `cardservice.migrations` through the same
    # library recorders).
    env["CREATE_TABLE"] = "y"
    app = Redemptions(env=env)
    raw = Raw(env=env)
    now = datetime.now(UTC)
    run_id = uuid.uuid4().hex[:8]

    hint = {"unused": True}

    def redeem(i: int, n: int) -> None:
        app.redeem(
            Grant(
                merchant_id=f"m{i}",
                merchant_name="压测商户",
                merchant_kind="merchant",
                merchant_region="500112",
                card_id=f"{run_id}-{i}-{n}",
                card_region="500112",
                benefit_id="meal",
                benefit_region="000000",
                limit_count=2,
                limit_per="day",
                companions=0,
                redeemed_at=now,
                verification_id=f"{run_id}-v{i}-{n}",
                counter_unused=hint["unused"],
            )
        )

    def save_raw(i: int, n: int) -> None:
        raw.save(RawOne(card_id=f"{i}-{n}", benefit="000000/meal", at=now.isoformat()))

    threaded_rate(redeem, 0.5)
    threaded_rate(save_raw, 0.5)
    ours, read, base = [], [], []
    for r in range(rounds):
        run_id = f"{run_id}{r}"
        hint["unused"] = True
        ours.append(threaded_rate(redeem, seconds))
        run_id = f"{run_id}r"
        hint["unused"] = False
        read.append(threaded_rate(redeem, seconds))
        base.append(threaded_rate(save_raw, seconds))
    app.close()
    raw.close()
    a, c, b = statistics.median(ours), statistics.median(read), statistics.median(base)
    return {
        "redemptions_per_s": a,
        "raw_save_per_s": b,
        "ratio": a / b,
        "goal": ">= 0.7",
        "counter_read_per_s": c,
        "counter_read_ratio": c / b,
    }


REGIONS = ["500112", "500103", "500101", "500106", "500113", "110101", "440106", "310104"]


def fill(settings: Settings, log_rows: int, redemptions: int) -> WriteSide:
    """A log of `log_rows` verifications and `redemptions` redemptions over the last year,
    through the same writers the service uses (the log writer, the redemption view)."""
    svc = WriteSide.build(settings, SystemClock())
    rng = random.Random(7)
    start = datetime(2025, 6, 2, tzinfo=UTC)
    statuses = ["valid"] * 8 + ["revoked", "expired", "malformed"]
    batch: list[vlog.Record] = []
    for n in range(log_rows):
        at = start + timedelta(seconds=rng.randrange(366 * 86400))
        batch.append(
            vlog.Record(
                verification_id=str(uuid.UUID(int=rng.getrandbits(128))),
                merchant_id=f"m{n % 500}",
                merchant_name="商户",
                merchant_kind="merchant",
                merchant_region=REGIONS[n % len(REGIONS)],
                card_id=None,
                card_number=None,
                status=statuses[n % len(statuses)],
                presentation="static",
                checked_at=at.isoformat(),
            )
        )
        if len(batch) == 5000:
            with svc.db.transaction() as tx:
                vlog.write(tx, batch)
            batch = []
    if batch:
        with svc.db.transaction() as tx:
            vlog.write(tx, batch)
    view = RedemptionLogView()
    rows: dict[uuid.UUID, tuple[None, RedemptionRow]] = {}
    for n in range(redemptions):
        rid = uuid.UUID(int=rng.getrandbits(128))
        day = (start + timedelta(days=rng.randrange(366))).date().isoformat()
        rows[rid] = (
            None,
            RedemptionRow(
                str(rid),
                f"m{n % 500}",
                "商户",
                "merchant",
                REGIONS[n % len(REGIONS)],
                f"c{n}",
                REGIONS[(n * 7) % len(REGIONS)],
                f"b{n % 40}",
                "000000",
                n % 3,
                day + "T04:00:00+00:00",
                day,
                None,
                "recorded",
                None,
            ),
        )
        if len(rows) == 5000:
            with svc.db.transaction() as tx:
                view.store(tx, rows)
            rows = {}
    if rows:
        with svc.db.transaction() as tx:
            view.store(tx, rows)
    return svc


def stats_sample(svc: WriteSide) -> float:
    """One stats query over a year of the province (a read transaction, as the route)."""
    scope = Scope("500000", date(2025, 6, 2), date(2026, 6, 2))
    began = time.perf_counter()
    with svc.db.read() as tx:
        stats_query(tx, scope)
    return time.perf_counter() - began


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, int(len(ordered) * q) - 1)]


def stats_ratio(tmp: Path, scale: float, queries: int) -> dict[str, Any]:
    """The two databases are queried in turn (small, big, small, ...), so a burst of load
    on a shared machine falls on both sides of the ratio alike."""
    big_log, big_red = int(1_000_000 * scale), int(200_000 * scale)
    out: dict[str, Any] = {"big_log_rows": big_log, "big_redemptions": big_red}
    with pg_schema("bench_stats_small") as small_schema, pg_schema("bench_stats_big") as big_schema:
        small = fill(pg_settings(small_schema, tmp / "s", pool_size=2), 10_000, 2_000)
        big = fill(pg_settings(big_schema, tmp / "b", pool_size=2), big_log, big_red)
        try:
            for _ in range(20):
                stats_sample(small), stats_sample(big)
            pairs = [(stats_sample(small), stats_sample(big)) for _ in range(queries)]
        finally:
            small.close()
            big.close()
    smalls, bigs = [a for a, _ in pairs], [b for _, b in pairs]
    p_small, p_big = percentile(smalls, 0.99), percentile(bigs, 0.99)
    out.update(
        {
            "p50_small_ms": percentile(smalls, 0.5) * 1e3,
            "p50_big_ms": percentile(bigs, 0.5) * 1e3,
            "p99_small_ms": p_small * 1e3,
            "p99_big_ms": p_big * 1e3,
            "ratio": p_big / p_small,
            "goal": "<= 2",
        }
    )
    return out


def run(
    scale: float = 1.0,
    seconds: float = 3.0,
    rounds: int = 3,
    *,
    cards: int = 200,
    queries: int = 200,
    only: str | None = None,
) -> dict[str, Any]:
    """`cards`, `queries`: the verify benchmark's cards and the stats queries per side
    (the smoke run shrinks them); `only`: one part (`redeem`, `verify` or `stats`)."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-redeem-") as name:
        tmp = Path(name)
        if only in (None, "redeem"):
            with pg_schema("bench_redeem") as schema:
                out["redeem_vs_raw_save"] = redemption_rate(
                    pg_settings(schema, tmp / "r", pool_size=MERCHANTS), seconds, rounds
                )
        if only in (None, "verify"):
            with pg_schema("bench_redeem_verify") as schema:
                settings = pg_settings(schema, tmp / "v", pool_size=2, merchant_rate=0)
                out["verify_limits_vs_none"] = verify_latency(settings, seconds, rounds, cards)
        if only in (None, "stats"):
            out["stats_big_vs_small"] = stats_ratio(tmp, scale, queries)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of 1M/200k rows")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["redeem", "verify", "stats"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.scale, args.seconds, args.rounds, only=args.only)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for name, figures in result.items():
        print(name)
        for key, value in figures.items():
            print(f"  {key}: {value:.3f}" if isinstance(value, float) else f"  {key}: {value}")


if __name__ == "__main__":
    main()
