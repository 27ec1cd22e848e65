"""The production topology on one machine: the admin API (`cardservice serve --no-workers`),
one projection worker (`cardservice worker`) and two stateless merchant_api replicas, all
on one PostgreSQL (a fresh schema), under a short mixed load; then everything stops.

    python -m bench.topology [--seconds 20] [--cards 200] [--keep]

The load: the admin API issues cards, publishes a catalog, revokes and suspends cards while
two load processes verify cards against the two replicas. Afterwards every replica must
show every status change, and no request may have failed with a 5xx.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.cluster import ADMIN_TOKEN, Cluster, pg_schema, pg_settings
from bench.issuance import id_number

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CATALOG = {
    "effective_from": "2020-01-01",
    "benefits": [
        {
            "id": "rail",
            "title": "铁路优先购票",
            "partner": "国铁集团",
            "category": "transport",
            "discount": "优先",
            "holder_categories": ["veteran", "disabled_veteran"],
            "local_only": False,
            "merchant_categories": [],
        },
        {
            "id": "park",
            "title": "景区免票",
            "partner": "重庆景区",
            "category": "scenic",
            "discount": "免费",
            "holder_categories": ["veteran"],
            "local_only": True,
            "merchant_categories": ["scenic"],
            "min_a_level": 3,
        },
    ],
}


def wait_status(client: httpx.Client, url: str, key: str, qr: str, status: str) -> float:
    began = time.perf_counter()
    while True:
        resp = client.post(
            f"{url}/v1/verify", json={"qr": qr}, headers={"Authorization": f"Bearer {key}"}
        )
        if resp.status_code == 200 and resp.json()["status"] == status:
            return time.perf_counter() - began
        if time.perf_counter() - began > 30:
            raise RuntimeError(f"{url} still says {resp.text[:200]}, wanted {status}")
        time.sleep(0.01)


def start_load(url: str, bodies: Path, key: str, seconds: float) -> subprocess.Popen[str]:
    host, port = url.removeprefix("http://").split(":")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.load",
            host,
            port,
            "/v1/verify",
            str(bodies),
            json.dumps({"Authorization": f"Bearer {key}"}),
            "16",
            str(seconds),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )


def run(seconds: float, cards: int, log: Any = print) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="topology-"))
    with pg_schema("topology") as schema:
        settings = pg_settings(schema, work)
        cluster = Cluster(settings, work)
        try:
            admin_url = cluster.admin()
            cluster.worker()
            replicas = [cluster.merchant_api(f"merchant_api-{i}")[0] for i in (1, 2)]
            log(
                f"admin {admin_url}, worker, merchant_api replicas {', '.join(replicas)} "
                f"on PostgreSQL schema {schema}"
            )
            with httpx.Client(timeout=30) as client:
                put = client.put(
                    f"{admin_url}/v1/admin/regions/500000/catalog", json=CATALOG, headers=ADMIN
                )
                assert put.status_code == 201, put.text
                merchant = client.post(
                    f"{admin_url}/v1/admin/merchants",
                    headers=ADMIN,
                    json={
                        "name": "洪崖洞景区",
                        "region": "500103",
                        "kind": "scenic_site",
                        "categories": ["scenic"],
                        "a_level": 4,
                    },
                ).json()
                key = merchant["api_key"]
                issued: list[dict[str, Any]] = []
                began = time.perf_counter()
                for n in range(cards):
                    body = {
                        "holder": {
                            "name": "李四海",
                            "id_number": id_number(n),
                            "category": "veteran",
                        },
                        "region": "500112",
                    }
                    resp = client.post(
                        f"{admin_url}/v1/admin/cards",
                        json=body,
                        headers={**ADMIN, "Idempotency-Key": f"topo-{n}"},
                    )
                    assert resp.status_code == 201, resp.text
                    issued.append(resp.json())
                issue_rate = cards / (time.perf_counter() - began)
                for url in replicas:
                    wait_status(client, url, key, issued[-1]["qr"], "valid")
                first = client.post(
                    f"{replicas[0]}/v1/verify",
                    json={"qr": issued[0]["qr"]},
                    headers={"Authorization": f"Bearer {key}"},
                ).json()
                log(
                    f"issued {cards} cards over HTTP at {issue_rate:.0f}/s; a verdict: "
                    f"{first['status']}, benefits {[b['id'] for b in first['benefits']]}, "
                    f"not applicable {[(n['id'], n['reason']) for n in first['not_applicable']]}"
                )

                bodies = work / "bodies.json"
                bodies.write_text(json.dumps([json.dumps({"qr": c["qr"]}) for c in issued]))
                loads = [start_load(url, bodies, key, seconds) for url in replicas]
                changes: list[tuple[dict[str, Any], str]] = []
                delays: list[float] = []
                errors: list[str] = []

                def admin_traffic() -> None:
                    """Revocations and suspensions during the load, each seen on both."""
                    with httpx.Client(timeout=30) as admin:
                        for i, card in enumerate(issued[: min(20, cards // 4)]):
                            action, status = (
                                ("revoke", "revoked") if i % 2 == 0 else ("suspend", "suspended")
                            )
                            resp = admin.post(
                                f"{admin_url}/v1/admin/cards/{card['card_id']}/{action}",
                                json={"reason": "topology"},
                                headers=ADMIN,
                            )
                            if resp.status_code != 200:
                                errors.append(resp.text)
                                continue
                            changes.append((card, status))
                            delays.append(
                                max(
                                    wait_status(admin, url, key, card["qr"], status)
                                    for url in replicas
                                )
                            )

                traffic = threading.Thread(target=admin_traffic)
                traffic.start()
                results = [
                    json.loads(p.communicate(timeout=seconds + 60)[0].splitlines()[-1])
                    for p in loads
                ]
                traffic.join(120)
                for card, status in changes:
                    for url in replicas:
                        wait_status(client, url, key, card["qr"], status)
                health = {
                    url: client.get(f"{url}/healthz").json()["status"]
                    for url in [admin_url, *replicas]
                }
            statuses: dict[str, int] = {}
            for r in results:
                for code, count in r["statuses"].items():
                    statuses[code] = statuses.get(code, 0) + count
            summary = {
                "replica_rps": [round(r["rps"]) for r in results],
                "total_rps": round(sum(r["rps"] for r in results)),
                "verify_p99_ms": [round(r["p99_ms"], 1) for r in results],
                "statuses": statuses,
                "status_changes": len(changes),
                "change_visible_on_both_p50_ms": round(statistics.median(delays) * 1000)
                if delays
                else None,
                "change_visible_on_both_max_ms": round(max(delays) * 1000) if delays else None,
                "admin_errors": errors,
                "health": health,
            }
            if any(code.startswith("5") for code in statuses) or errors:
                raise RuntimeError(f"failures under the mixed load: {summary}")
            log(json.dumps(summary, ensure_ascii=False))
            return summary
        finally:
            cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.topology",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--cards", type=int, default=200)
    args = parser.parse_args()
    run(args.seconds, args.cards)
    print("all processes stopped")


if __name__ == "__main__":
    main()
