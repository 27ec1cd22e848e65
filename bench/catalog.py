"""Catalog lookup benchmark: what one verification pays for its catalog, side by side.

    python -m bench.catalog [--lookups N] [--regions R] [--backends sqlite,postgres]

Per backend, in one run on the same data (a national, a provincial, a prefecture and a
district catalog with several versions each, plus R other publishing districts):
  row      the precomputed view row the merchant API reads (one indexed query + JSON)
  fold/v   folding the chain from the view's versions table (the `as_of` path)
  fold/agg folding the chain from the aggregates (the admin's read-your-writes path)
  decide   the eligibility decision on the row's benefits (pure CPU, no I/O)
and the projection cost of a national publication, which recomputes every publishing
region's ranges in the runner's transaction.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from cardservice.bootstrap.write import WriteSide
from cardservice.clock import FrozenClock
from cardservice.domain.actors import Actor
from cardservice.domain.regions import COUNTY, regions
from cardservice.settings import Settings
from merchant_api.catalog import decide_benefits
from projections.catalog import CatalogReader, CatalogView
from projections.service import runners_for

ACTOR = Actor(kind="admin", id="bench", role="admin", region="000000")
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
START = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
TODAY = date(2026, 6, 1)
CHAIN = {"000000": (3, 60), "500000": (3, 40), "500100": (1, 10), "500112": (4, 25)}
HOLDERS = ["veteran", "martyr_family", "disabled_veteran"]


def benefits(region: str, version: int, count: int) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        out.append(
            {
                "id": f"{region}-{i}",
                "title": f"优惠{region}-{i}",
                "partner": "某合作企业",
                "category": ["scenic", "dining", "travel", "shopping"][i % 4],
                "discount": f"第{version}版：门票半价，导览九折",
                "holder_categories": HOLDERS[: 1 + i % 3],
                "local_only": i % 5 == 0,
                "merchant_categories": [] if i % 3 else ["scenic"],
                "min_a_level": 3 if i % 7 == 0 else None,
            }
        )
    return out


def build(backend: str, folder: Path) -> tuple[WriteSide, str | None]:
    base: dict[str, Any] = {"data_dir": folder, "secret": "bench-secret", "admin_token": None}
    schema = None
    if backend == "postgres":
        schema = "bench_" + uuid.uuid4().hex[:12]
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        settings = Settings(database_url=PG_URL, postgres_schema=schema, pool_size=4, **base)
    else:
        settings = Settings(database_url=None, **base)
    return WriteSide.build(settings, FrozenClock(START)), schema


def per_call(fn: Callable[[], Any], count: int) -> float:
    """Median of 5 batches, microseconds per call."""
    fn()
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(count):
            fn()
        samples.append((time.perf_counter() - started) / count * 1e6)
    return statistics.median(samples)


def run_backend(backend: str, lookups: int, others: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        svc, schema = build(backend, Path(tmp))
        try:
            for region, (versions, count) in CHAIN.items():
                for v in range(1, versions + 1):
                    start = TODAY + timedelta(days=30 * (v - versions + 1))
                    svc.catalog.publish_catalog(region, start, benefits(region, v, count), ACTOR)
            counties = [c for c in regions().codes_at(COUNTY) if not c.startswith("50")]
            for code in counties[:others]:
                for v in (1, 2):
                    start = TODAY + timedelta(days=30 * (v - 1))
                    svc.catalog.publish_catalog(code, start, benefits(code, v, 10), ACTOR)
            (runner,) = runners_for(svc.sources(), [CatalogView()])
            runner.setup()
            runner.catch_up()

            svc.catalog.publish_catalog(
                "000000", TODAY + timedelta(days=45), benefits("000000", 9, 60), ACTOR
            )
            started = time.perf_counter()
            runner.catch_up()
            national_ms = (time.perf_counter() - started) * 1000

            reader = CatalogReader(svc.db)
            far = START + timedelta(days=3650)
            row = reader.entry("500112", TODAY)

            def decide() -> Any:
                return decide_benefits(
                    row.benefits,
                    upcoming=row.upcoming,
                    holder_category="veteran",
                    card_region="110101",
                    merchant_region="500112",
                    merchant_categories=["scenic"],
                    merchant_a_level=4,
                )

            result = {
                "benefits": float(len(row.benefits)),
                "row_us": per_call(lambda: reader.entry("500112", TODAY), lookups),
                "fold_views_us": per_call(lambda: reader.at("500112", TODAY, far), lookups // 4),
                "fold_aggregates_us": per_call(
                    lambda: svc.catalog.effective_catalog("500112", TODAY), lookups // 4
                ),
                "decide_us": per_call(decide, lookups),
                "national_publish_ms": national_ms,
                "publishing_regions": float(len(CHAIN) + others),
            }
        finally:
            svc.close()
            if schema is not None:
                with psycopg.connect(PG_URL, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.catalog", description=__doc__)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--regions", type=int, default=200, help="other publishing districts")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    print(
        f"{'backend':<10}{'benefits':>9}{'row':>10}{'fold/v':>10}{'fold/agg':>10}"
        f"{'decide':>10}{'fold/v÷row':>12}{'fold/agg÷row':>14}{'national publish':>22}"
    )
    for backend in [b for b in args.backends.split(",") if b]:
        r = run_backend(backend, args.lookups, args.regions)
        row, views, aggregates = r["row_us"], r["fold_views_us"], r["fold_aggregates_us"]
        print(
            f"{backend:<10}{r['benefits']:>9.0f}{row:>8.0f}µs{views:>8.0f}µs"
            f"{aggregates:>8.0f}µs{r['decide_us']:>8.0f}µs"
            f"{views / row:>12.1f}{aggregates / row:>14.1f}"
            f"{r['national_publish_ms']:>10.0f} ms / {r['publishing_regions']:.0f} regions"
        )


if __name__ == "__main__":
    main()
