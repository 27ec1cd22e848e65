"""Issuance throughput: cards/s one at a time and in batches of 100, on SQLite and PostgreSQL,
against a raw eventsourcing baseline (a batched save of similar aggregates) in the same run.

    python -m bench.issuance [--cards N] [--engines sqlite,postgres]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
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
        IssueCardRequest(name="张三明", id_number=id_number(n), category="veteran", region="500112")
        for n in range(start, start + count)
    ]


class RawCard(Aggregate):
    """The same event fields as `Card.Issued`, with values of the same sizes."""

    @event("Issued")
    def __init__(
        self,
        card_id: uuid.UUID,
        holder_id: uuid.UUID,
        card_number: str,
        category: str,
        region: str,
        masked_name: str,
        issued_at: datetime,
        expires_on: str,
        status_index: int,
        kid: str,
        actor: dict[str, str],
        command_id: str,
        request_digest: str,
    ) -> None:
        self.holder_id = holder_id
        self.card_number = card_number
        self.category = category
        self.region = region
        self.masked_name = masked_name
        self.issued_at = issued_at
        self.expires_on = expires_on
        self.status_index = status_index
        self.kid = kid
        self.actor = actor
        self.command_id = command_id
        self.request_digest = request_digest


class RawHolder(Aggregate):
    """The same event fields as `Holder.Registered`, with values of the same sizes."""

    @event("Registered")
    def __init__(
        self,
        id_number_digest: str,
        sealed_personal: str,
        actor: dict[str, str],
        at: datetime,
        first_card: dict[str, str],
    ) -> None:
        self.id_number_digest = id_number_digest
        self.sealed_personal = sealed_personal
        self.actor = actor
        self.cards = {first_card["category"]: first_card}


RAW_AT = datetime(2026, 6, 1, tzinfo=UTC)


def raw_values(count: int) -> list[tuple[str, str, str]]:
    """Per card, values as random as the real ones (so they compress alike): an ID-number
    digest, a sealed JSON of name, ID number and phone, a request-digest-sized string."""
    return [
        (
            os.urandom(32).hex(),
            base64.b64encode(os.urandom(12 + 16 + 84)).decode(),
            os.urandom(8).hex(),
        )
        for _ in range(count)
    ]


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
    """The baseline: the same library saving a Holder-like and a Card-like aggregate per
    card (same event fields and sizes), batched like the bulk import: what storing these
    events costs, without validation, digests, sealing or number allocation."""
    actor = ACTOR.as_dict()
    values = raw_values(count)

    def run() -> None:
        for start in range(0, count, batch):
            aggregates: list[Aggregate] = []
            for n in range(start, min(count, start + batch)):
                digest, sealed, kid = values[n]
                card_id = uuid.uuid4()
                holder = RawHolder(
                    id_number_digest=digest,
                    sealed_personal=sealed,
                    actor=actor,
                    at=RAW_AT,
                    first_card={
                        "category": "veteran",
                        "card_id": str(card_id),
                        "expires_on": "2036-06-01",
                    },
                )
                aggregates += [
                    holder,
                    RawCard(
                        card_id=card_id,
                        holder_id=holder.id,
                        card_number=f"5001122026{n:07d}X",
                        category="veteran",
                        region="500112",
                        masked_name="张*明",
                        issued_at=RAW_AT,
                        expires_on="2036-06-01",
                        status_index=n,
                        kid=kid[:11],
                        actor=actor,
                        command_id="import:veteran",
                        request_digest="",
                    ),
                ]
            svc.ledger.save(*aggregates)

    return rate(count, run)


def measure(engine_name: str, cards: int, *, batch: int = 100, rounds: int = 4) -> dict[str, float]:
    """Single issues, then bulk issuance and the raw baseline in alternating rounds of
    `cards` each (so the machine's drift hits both sides alike), batches of `batch`."""
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
        raw_eventsourcing_rate(svc, batch, batch)  # warm both paths up
        svc.ledger.issue_cards_bulk(requests(base, batch), ACTOR)
        base += batch
        ours_seconds = raw_seconds = 0.0
        for _ in range(rounds):
            began = time.perf_counter()
            for start in range(base, base + cards, batch):
                svc.ledger.issue_cards_bulk(requests(start, batch), ACTOR)
            ours_seconds += time.perf_counter() - began
            base += cards
            raw_seconds += cards / raw_eventsourcing_rate(svc, cards, batch)
        svc.close()
    finally:
        engine.drop()
    ours, raw = rounds * cards / ours_seconds, rounds * cards / raw_seconds
    return {
        "batch": batch,
        "single_cards_per_s": round(single, 1),
        "bulk_cards_per_s": round(ours, 1),
        "raw_eventsourcing_per_s": round(raw, 1),
        "issue_vs_raw_eventsourcing": round(ours / raw, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cards", type=int, default=2000, help="cards per round")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {
        name: measure(name, args.cards, batch=args.batch, rounds=args.rounds)
        for name in args.engines.split(",")
    }
    if args.json:
        print(json.dumps(results))
        return
    for name, figures in results.items():
        print(f"{name:9} " + "  ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
