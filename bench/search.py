"""Console search benchmark: p50/p99 of `GET /v1/admin/cards` per query kind at N cards.

Real issuance of a million cards takes far longer than the queries it would serve, so the
search view (`view_admin_cards`) and the keyed-hash table (`holder_search`) are filled
directly with N synthetic rows in their real shape: hashes made by the application's own
`search_digest` (the write side's key), card numbers with a valid check character, counties
of the real region table, names drawn from a pool so a common name matches many holders.
A few hundred real cards go through the ledger and the projection runner as well, and
every timed kind is first checked against them (the bench measures answers that are
right). Queries run one at a time through the ASGI app (validation, hashing, the SQL and
the JSON answer), so the figure is the server's latency with no network in it.

    python -m bench.search --cards 1000000 --queries 2000 --engine postgres
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from bench.issuance import Engine
from cardservice.api.app import create_app
from cardservice.application import IssueCardRequest
from cardservice.bootstrap.write import WriteSide
from cardservice.clock import SystemClock
from cardservice.dialect import Insert
from cardservice.domain import regions as region_table
from cardservice.domain.actors import Actor
from cardservice.domain.identity import card_number, mod11_2_check
from projections.service import runners_for

NATIONAL = Actor(kind="admin", id="bench", role="admin", region="000000")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"  # noqa: E501
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红建国建华志强文辉"
CATEGORIES = ("veteran", "martyr_family", "duty_death_family", "disabled_veteran")
BATCH = 20_000
REAL_CARDS = 300


def id_number(n: int, region: str) -> str:
    body = f"{region}19{50 + n % 50:02d}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    return body + mod11_2_check(body)


def synthetic_name(n: int, pool: int) -> str:
    k = n % pool
    surname = SURNAMES[k % len(SURNAMES)]
    rest = k // len(SURNAMES)
    first = GIVEN[rest % len(GIVEN)]
    second = GIVEN[(rest // len(GIVEN)) % len(GIVEN)]
    return surname + first + second


def fill(
    svc: WriteSide, cards: int, counties: list[str], rng: random.Random
) -> dict[str, list[str]]:
    """N synthetic rows in both tables; returns samples of what exists, for the queries."""
    pool = max(1000, cards // 20)  # about 20 holders share each name
    samples: dict[str, list[str]] = {"id_number": [], "card_number": [], "name": [], "region": []}
    ledger = svc.ledger
    seq: dict[str, int] = {}
    started = time.perf_counter()
    for start in range(0, cards, BATCH):
        card_rows: list[tuple[Any, ...]] = []
        hash_rows: list[tuple[str, str]] = []
        for n in range(start, min(cards, start + BATCH)):
            region = counties[n % len(counties)]
            seq[region] = seq.get(region, 5_000_000) + 1
            number = card_number(region, 2026, seq[region])
            holder = str(uuid.uuid4())
            person = id_number(n // len(counties) * 7 + n % 7, region)
            name = synthetic_name(n, pool)
            status = "revoked" if n % 50 == 0 else "suspended" if n % 97 == 0 else "active"
            card_rows.append(
                (str(uuid.uuid4()), holder, number, status, region, CATEGORIES[n % 4],
                 name[0] + "*" + name[-1], "2026-06-01T02:00:00+00:00", "2036-06-01")
            )  # fmt: skip
            hash_rows.append((ledger.search_digest(id_number=person), holder))
            hash_rows.append((ledger.search_digest(name=name), holder))
            if rng.random() < 0.01:
                samples["id_number"].append(person)
                samples["card_number"].append(number)
                samples["name"].append(name)
                samples["region"].append(region)
        with svc.db.transaction() as tx:
            tx.insert_many(
                Insert(
                    "view_admin_cards",
                    "card_id, holder_id, card_number, status, region, "
                    "category, masked_name, issued_at, expires",
                    on_conflict="ON CONFLICT (card_id) DO NOTHING",
                ),
                card_rows,
            )
            tx.insert_many(
                Insert(
                    "holder_search",
                    ("digest", "holder_id"),
                    on_conflict="ON CONFLICT (digest, holder_id) DO NOTHING",
                ),
                list(dict.fromkeys(hash_rows)),
            )
        done = min(cards, start + BATCH)
        rate = done / (time.perf_counter() - started)
        print(f"  filled {done:>9,} cards ({rate:,.0f}/s)", flush=True)
    if svc.settings.is_postgres:
        with svc.db.transaction() as tx:
            tx.execute("ANALYZE view_admin_cards")
            tx.execute("ANALYZE holder_search")
    return samples


def real_cards(svc: WriteSide) -> list[IssueCardRequest]:
    requests = [
        IssueCardRequest(
            name=synthetic_name(n, 10**9) + "甲",
            id_number=id_number(900_000 + n, "500112"),
            category="veteran",
            region="500112",
        )
        for n in range(REAL_CARDS)
    ]
    svc.ledger.issue_cards_bulk(requests, NATIONAL, source="bench-search")
    for runner in runners_for(svc.sources()):
        runner.setup()
        runner.catch_up()
    return requests


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(engine_name: str, cards: int, queries: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    engine = Engine(engine_name)
    settings = engine.settings()
    svc = WriteSide.build(settings, SystemClock())
    try:
        app = create_app(svc, own_services=False)
        admin = {"Authorization": f"Bearer {settings.admin_token}"}
        with TestClient(app) as client:
            requests = real_cards(svc)
            table = region_table.regions()
            counties = [c for c in table.codes_at(3)]
            samples = fill(svc, cards, counties, rng)
            auditor = client.post(
                "/v1/admin/tokens", json={"role": "auditor", "region": "500000"}, headers=admin
            ).json()["token"]
            local = {"Authorization": f"Bearer {auditor}"}

            def check(params: dict[str, str], expect: int, headers: dict[str, str]) -> None:
                got = client.get("/v1/admin/cards", params=params, headers=headers).json()
                assert len(got["items"]) == expect, (params, got)

            real = requests[0]
            check({"id_number": real.id_number}, 1, admin)
            check({"id_number": real.id_number.lower()}, 1, local)
            check({"name": real.name}, 1, local)
            kinds: dict[str, Callable[[], tuple[dict[str, str], dict[str, str]]]] = {
                "id_number": lambda: ({"id_number": rng.choice(samples["id_number"])}, admin),
                "id_number_miss": lambda: (
                    {"id_number": id_number(rng.randrange(10**6), "110101")},
                    admin,
                ),
                "card_number": lambda: ({"card_number": rng.choice(samples["card_number"])}, admin),
                "name": lambda: ({"name": rng.choice(samples["name"])}, admin),
                "name_in_province": lambda: ({"name": rng.choice(samples["name"])}, local),
                "region_list": lambda: (
                    {"region": rng.choice(samples["region"]), "limit": "50"},
                    admin,
                ),
                "region_status": lambda: (
                    {"region": rng.choice(samples["region"])[:2] + "0000", "status": "suspended"},
                    admin,
                ),
                "province_list_page2": lambda: ({"region": "500000", "limit": "50"}, local),
            }
            results: dict[str, Any] = {}
            for kind, make in kinds.items():
                times: list[float] = []
                for i in range(queries + 20):
                    params, headers = make()
                    if kind == "province_list_page2":
                        first = client.get("/v1/admin/cards", params=params, headers=headers)
                        params = {**params, "cursor": first.json()["next"]}
                    t0 = time.perf_counter()
                    resp = client.get("/v1/admin/cards", params=params, headers=headers)
                    elapsed = (time.perf_counter() - t0) * 1000
                    assert resp.status_code == 200, resp.text
                    if i >= 20:  # warm-up
                        times.append(elapsed)
                results[kind] = {
                    "p50_ms": round(statistics.median(times), 2),
                    "p99_ms": round(percentile(times, 0.99), 2),
                    "max_ms": round(max(times), 2),
                }
                print(f"  {kind:<20} {results[kind]}", flush=True)
            return {"engine": engine_name, "cards": cards, "queries": queries, "kinds": results}
    finally:
        svc.close()
        engine.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--engine", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    print(json.dumps(measure(args.engine, args.cards, args.queries, args.seed), indent=2))


if __name__ == "__main__":
    main()
