"""Issuance throughput: cards/s one at a time and in batches of 100, on SQLite and PostgreSQL,
against a raw eventsourcing baseline (a batched save of similar aggregates) in the same run.

    python -m bench.issuance [--cards N] [--engines sqlite,postgres]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.domain import Aggregate, event

from cardservice.application import IssueCardRequest
from cardservice.clock import FrozenClock
from cardservice.domain.actors import Actor
from cardservice.domain.identity import mod11_2_check
from cardservice.services import Services
from cardservice.settings import Settings

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
ACTOR = Actor(kind="admin", id="bench", role="admin", region="000000")


def id_number(n: int) -> str:
    born = f"19{50 + n % 40:02d}{1 + n // 40 % 12:02d}{1 + n // 480 % 28:02d}"
    body = f"500112{born}{n // 13440 % 1000:03d}"
    return body + mod11_2_check(body)


def requests(start: int, count: int) -> list[IssueCardRequest]:
    return [
        IssueCardRequest(
            name="张三明", id_number=id_number(n), category="veteran", region="500112"
        )
        for n in range(start, start + count)
    ]


class RawCard(Aggregate):
    @event("Issued")
    def __init__(self, number: str, region: str, holder: str) -> None:
        self.number = number
        self.region = region
        self.holder = holder


class RawHolder(Aggregate):
    @event("Registered")
    def __init__(self, digest: str, sealed: str) -> None:
        self.digest = digest
        self.sealed = sealed


class Engine:
    def __init__(self, name: str) -> None:
        self.name = name
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-"))
        self.schema = ""
        if name == "postgres":
            self.schema = "bench_" + uuid.uuid4().hex[:10]
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{self.schema}"')

    def settings(self) -> Settings:
        common: dict[str, Any] = {"data_dir": self.tmp, "secret": "bench", "admin_token": "x"}
        if self.name == "postgres":
            return Settings(database_url=PG_URL, postgres_schema=self.schema, **common)
        return Settings(database_url=None, **common)

    def drop(self) -> None:
        if self.schema:
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


def rate(count: int, fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return count / (time.perf_counter() - start)


def raw_eventsourcing_rate(svc: Services, count: int, batch: int) -> float:
    """The baseline: the same library saving a Card-like aggregate pair per row, batched."""
    def run() -> None:
        for start in range(0, count, batch):
            aggregates: list[Aggregate] = []
            for n in range(start, min(count, start + batch)):
                holder = RawHolder(digest=f"{n:064d}", sealed="x" * 120)
                aggregates += [holder, RawCard(number=f"{n:018d}", region="500112", holder=str(holder.id))]
            svc.ledger.save(*aggregates)

    return rate(count, run)


def measure(engine_name: str, cards: int) -> dict[str, float]:
    engine = Engine(engine_name)
    try:
        svc = Services.build(engine.settings(), FrozenClock(datetime(2026, 6, 1, tzinfo=UTC)))
        svc.ledger.keyring()
        single_n = max(50, cards // 10)
        single = rate(
            single_n,
            lambda: [svc.ledger.issue_card(r, ACTOR) for r in requests(0, single_n)],  # type: ignore[func-returns-value]
        )
        base = single_n

        def batched() -> None:
            for start in range(base, base + cards, 100):
                svc.ledger.issue_cards_bulk(requests(start, 100), ACTOR)

        batch100 = rate(cards, batched)
        raw = raw_eventsourcing_rate(svc, cards, 100)
        svc.close()
    finally:
        engine.drop()
    return {
        "single_cards_per_s": round(single, 1),
        "batch100_cards_per_s": round(batch100, 1),
        "raw_eventsourcing_batch100_per_s": round(raw, 1),
        "issue_vs_raw_eventsourcing": round(batch100 / raw, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cards", type=int, default=2000)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {name: measure(name, args.cards) for name in args.engines.split(",")}
    if args.json:
        print(json.dumps(results))
        return
    for name, figures in results.items():
        print(f"{name:9} " + "  ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
