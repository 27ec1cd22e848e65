"""National scale on PostgreSQL, in one run:

- bulk issuance into a growing store (`issue_cards_bulk`, batches of 1000), cards/s;
- projection catch-up after each step (the runner the worker uses, batched), events/s;
- verify latency over HTTP (merchant_api in its own process, light load from another
  process) at each size: the plot of latency against the number of cards;
- the p50 at the largest size against a 10k-card store, measured in alternating rounds
  against two identical servers (same settings), and the large server's memory (RSS);
- revocation → first `revoked` verdict through the production topology (admin API,
  projection worker, merchant_api replica, each its own process), p99;
- scaling of merchant_api from 1 to 2 processes (uvicorn workers on one port).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from bench.cluster import ACTOR, ADMIN_TOKEN, Cluster, pg_schema, pg_settings, rss_mib, run_load
from bench.issuance import requests
from cardservice.clock import SystemClock
from cardservice.services import Services
from projections.service import runners_for

SMALL = 10_000
SERVER_ENV = {"CARDSERVICE_POOL_SIZE": "4"}
BATCH = 1000


@dataclass
class ScaleOptions:
    sizes: tuple[int, ...] = (10_000, 30_000, 100_000, 300_000, 1_000_000)
    samples: int = 2000  # distinct cards whose QR codes the load cycles through
    latency_seconds: float = 5.0
    latency_concurrency: int = 4
    rounds: int = 3
    revocations: int = 200
    scaling_seconds: float = 8.0
    scaling_concurrency: int = 32
    small: int = SMALL  # cards in the small deployment the large one is compared with
    warmup_seconds: float = 1.0
    scaling_rounds: int = 2
    log: Callable[[str], None] = print
    results: dict[str, Any] = field(default_factory=dict)


def bulk_issue(svc: Services, start: int, count: int) -> float:
    """Issue cards `start`..`start+count` in batches; cards/s."""
    began = time.perf_counter()
    for first in range(start, start + count, BATCH):
        outcomes = svc.ledger.issue_cards_bulk(
            requests(first, min(BATCH, start + count - first)), ACTOR, source="bench"
        )
        bad = [o for o in outcomes if o.result != "issued"]
        if bad:
            raise RuntimeError(f"bulk issue refused rows: {bad[:3]}")
    return count / (time.perf_counter() - began)


def catch_up(svc: Services) -> tuple[int, float]:
    """Run every projection to the head; (notifications applied, seconds)."""
    events, began = 0, time.perf_counter()
    for runner in runners_for(svc):
        runner.setup()
        events += max(0, runner.head() - min(runner.positions().values()))
        runner.catch_up()
    return events, time.perf_counter() - began


def sample_qrs(svc: Services, count: int, seed: int = 1) -> list[str]:
    """QR texts of cards drawn uniformly from the whole store (so lookups hit all of it)."""
    with svc.db.read() as tx:
        ids = [
            UUID(r[0])
            for r in tx.all(
                "SELECT card_id FROM view_cards ORDER BY md5(card_id || ?) LIMIT ?",
                (str(seed), count),
            )
        ]
    return [svc.ledger.credential_for(svc.ledger.card(i)) for i in ids]


def register_merchant(svc: Services) -> str:
    merchant = svc.catalog.register_merchant(
        name="压测商户",
        region="500112",
        kind="merchant",
        categories=["dining"],
        a_level=None,
        require_device_binding=False,
        actor=ACTOR,
    )
    assert merchant.api_key is not None
    return merchant.api_key


def verify_bodies(qrs: list[str]) -> list[str]:
    import json

    return [json.dumps({"qr": qr}) for qr in qrs]


def latency(
    url: str,
    bodies: list[str],
    key: str,
    opts: ScaleOptions,
    work: Path,
    seconds: float | None = None,
) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {key}"}
    for attempt in range(3):  # the shared PostgreSQL may be restarted by someone's test run
        try:
            result = run_load(
                url,
                "/v1/verify",
                bodies,
                auth,
                opts.latency_concurrency,
                seconds or opts.latency_seconds,
                work,
            )
        except subprocess.CalledProcessError as exc:
            problem = f"load process failed: {exc.stderr or exc}"
        else:
            if result["valid"] == result["requests"]:
                return result
            problem = f"not every verdict was valid: {result}"
        opts.log(f"  (measurement {attempt + 1} failed, retrying: {problem[:200]})")
        time.sleep(5)
    raise RuntimeError(problem)


def run(opts: ScaleOptions) -> dict[str, Any]:
    log = opts.log
    out: dict[str, Any] = {"points": []}
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    with pg_schema("bench_small") as small_schema, pg_schema("bench_large") as large_schema:
        # Small pools in this process (PostgreSQL's 100 connections are shared with the
        # servers it starts, and on this machine with other runs); servers get SERVER_POOL.
        small_settings = pg_settings(small_schema, work / "small", pool_size=2)
        large_settings = pg_settings(large_schema, work / "large", pool_size=2)
        small = Services.build(small_settings, SystemClock())
        large = Services.build(large_settings, SystemClock())
        clusters: list[Cluster] = []
        try:
            small.ledger.keyring()
            large.ledger.keyring()
            small_key, large_key = register_merchant(small), register_merchant(large)
            bulk_issue(small, 0, opts.small)
            catch_up(small)
            small_bodies = verify_bodies(sample_qrs(small, opts.samples))

            issued, issue_seconds, events, event_seconds = 0, 0.0, 0, 0.0
            for size in opts.sizes:
                began = time.perf_counter()
                rate = bulk_issue(large, issued, size - issued)
                issue_seconds += time.perf_counter() - began
                n, seconds = catch_up(large)
                events, event_seconds = events + n, event_seconds + seconds
                log(
                    f"  {size:>9,} cards: issued at {rate:,.0f}/s, "
                    f"projected {n:,} events at {n / seconds:,.0f}/s"
                )
                issued = size
                bodies = verify_bodies(sample_qrs(large, opts.samples, seed=size))
                cluster = Cluster(large_settings, work, **SERVER_ENV)
                clusters.append(cluster)
                url, _ = cluster.merchant_api(f"point-{size}")
                latency(url, bodies, large_key, opts, work, seconds=opts.warmup_seconds)
                point = latency(url, bodies, large_key, opts, work)
                cluster.stop()
                out["points"].append(
                    {
                        "cards": size,
                        "p50_ms": point["p50_ms"],
                        "p99_ms": point["p99_ms"],
                        "rps": point["rps"],
                    }
                )
                log(
                    f"  {size:>9,} cards: verify p50 {point['p50_ms']:.2f} ms, "
                    f"p99 {point['p99_ms']:.2f} ms ({opts.latency_concurrency} connections)"
                )
            out["cards"] = issued
            out["bulk_issue_cards_per_s"] = issued / issue_seconds
            out["projection_events"] = events
            out["projection_events_per_s"] = events / event_seconds

            # Large against small, alternating rounds, two identical servers.
            cluster = Cluster(large_settings, work, **SERVER_ENV)
            clusters.append(cluster)
            small_cluster = Cluster(small_settings, work, **SERVER_ENV)
            clusters.append(small_cluster)
            large_url, large_pid = cluster.merchant_api("large")
            small_url, _ = small_cluster.merchant_api("small")
            bodies = verify_bodies(sample_qrs(large, opts.samples, seed=7))
            latency(large_url, bodies, large_key, opts, work, seconds=opts.warmup_seconds)
            latency(small_url, small_bodies, small_key, opts, work, seconds=opts.warmup_seconds)
            p50s: dict[str, list[float]] = {"small": [], "large": []}
            p99s: dict[str, list[float]] = {"small": [], "large": []}
            for _ in range(opts.rounds):
                for name, url, b, key in (
                    ("small", small_url, small_bodies, small_key),
                    ("large", large_url, bodies, large_key),
                ):
                    r = latency(url, b, key, opts, work)
                    p50s[name].append(r["p50_ms"])
                    p99s[name].append(r["p99_ms"])
            out["verify_p50_small_ms"] = statistics.median(p50s["small"])
            out["verify_p50_large_ms"] = statistics.median(p50s["large"])
            out["verify_p99_small_ms"] = statistics.median(p99s["small"])
            out["verify_p99_large_ms"] = statistics.median(p99s["large"])
            out["verify_p50_large_vs_small"] = (
                out["verify_p50_large_ms"] / out["verify_p50_small_ms"]
            )
            # Memory after a sustained load at full concurrency over many distinct cards.
            run_load(
                large_url,
                "/v1/verify",
                bodies,
                {"Authorization": f"Bearer {large_key}"},
                opts.scaling_concurrency,
                opts.latency_seconds,
                work,
            )
            out["merchant_api_memory"] = rss_mib(large_pid)
            log(
                f"  p50 {out['verify_p50_large_ms']:.2f} ms at {issued:,} cards vs "
                f"{out['verify_p50_small_ms']:.2f} ms at {opts.small:,}: "
                f"{out['verify_p50_large_vs_small']:.2f}; merchant_api RSS "
                f"{out['merchant_api_memory']['rss_mib']:.0f} MiB"
            )
            small_cluster.stop()

            out["revocation"] = revocation(cluster, large, large_url, large_key, opts, work)
            cluster.stop()
            out["scaling"] = scaling(large_settings, bodies, large_key, opts, work, clusters)
        except BaseException:
            log(f"  (process logs kept in {work})")
            raise
        finally:
            for cluster in clusters:
                cluster.stop()
            small.close()
            large.close()
    shutil.rmtree(work, ignore_errors=True)
    return out


def revocation(
    cluster: Cluster, svc: Services, merchant_url: str, key: str, opts: ScaleOptions, work: Path
) -> dict[str, Any]:
    """Revoke through the admin API (its own process), poll the merchant_api replica until
    the verdict says revoked; a projection worker in a third process carries the change."""
    admin_url = cluster.admin()
    cluster.worker()
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    merchant = {"Authorization": f"Bearer {key}"}
    qrs = sample_qrs(svc, opts.revocations + 2, seed=99)
    delays: list[float] = []
    warmup = 2  # the first revocations meet a worker (and servers) still starting up
    with httpx.Client(timeout=10) as client:
        for qr in qrs:
            from cardservice import credentials

            card_id = credentials.parse_credential(qr).claims.card_id
            resp = client.post(
                f"{admin_url}/v1/admin/cards/{card_id}/revoke",
                json={"reason": "bench"},
                headers=admin,
            )
            if resp.status_code != 200:
                raise RuntimeError(f"revoke failed: {resp.text}")
            acknowledged = time.perf_counter()
            while True:
                verdict = client.post(
                    f"{merchant_url}/v1/verify", json={"qr": qr}, headers=merchant
                ).json()
                if verdict["status"] == "revoked":
                    break
                if time.perf_counter() - acknowledged > 30:
                    raise RuntimeError("revocation never became visible")
                time.sleep(0.002)
            delays.append((time.perf_counter() - acknowledged) * 1000)
    delays = sorted(delays[warmup:])
    result = {
        "samples": len(delays),
        "p50_ms": statistics.median(delays),
        "p99_ms": delays[min(len(delays) - 1, round(0.99 * (len(delays) - 1)))],
        "max_ms": delays[-1],
        "poll_seconds": svc.settings.projection_poll_seconds,
    }
    opts.log(
        f"  revocation visible: p50 {result['p50_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms"
        f" over {len(delays)} (worker polls every {result['poll_seconds'] * 1000:.0f} ms)"
    )
    return result


def scaling(
    settings: Any,
    bodies: list[str],
    key: str,
    opts: ScaleOptions,
    work: Path,
    clusters: list[Cluster],
) -> dict[str, Any]:
    """req/s of one merchant_api process, then two (uvicorn workers), alternating rounds."""
    auth = {"Authorization": f"Bearer {key}"}
    rps: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(opts.scaling_rounds):
        for processes in (1, 2):
            cluster = Cluster(settings, work, **SERVER_ENV)
            clusters.append(cluster)
            url, _ = cluster.merchant_api(f"scale-{processes}", processes=processes)
            run_load(
                url,
                "/v1/verify",
                bodies,
                auth,
                opts.scaling_concurrency,
                opts.warmup_seconds * 1.5,
                work,
            )
            r = run_load(
                url,
                "/v1/verify",
                bodies,
                auth,
                opts.scaling_concurrency,
                opts.scaling_seconds,
                work,
            )
            rps[processes].append(r["rps"])
            cluster.stop()
    one, two = statistics.mean(rps[1]), statistics.mean(rps[2])
    opts.log(
        f"  merchant_api 1 process {one:,.0f} req/s, 2 processes {two:,.0f} req/s "
        f"(x{two / one:.2f}; load generator and PostgreSQL share the same 2 cores)"
    )
    return {"one_process_rps": one, "two_processes_rps": two, "speedup": two / one}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
