"""Shared rate limits: verify throughput with 1 and then 2 merchant_api replicas (uvicorn,
127.0.0.1, one PostgreSQL schema), limits per process vs shared through Redis.

    python -m bench.shared_limit [--seconds 5] [--low-rate 100] [--concurrency 16]

- throughput: `CARDSERVICE_MERCHANT_RATE` so high that nothing is refused, so every
  verification pays the limiter (shared: one Redis round trip) and nothing else differs;
  the ratio shared ÷ per process is the price of sharing.
- limit: one merchant at `--low-rate` per second (burst twice that) flooding the replicas;
  accepted verifications per second in total. Shared should hold about the limit whatever
  the number of replicas; per process about the limit times the replicas. Each measurement
  follows a warm-up that spends the burst, so the figure is the steady rate (plus what the
  bucket refills while the load process starts).

Redis: `BENCH_REDIS_URL` (default the machine's, database 1; scripts/ensure_redis.sh
starts it). Buckets are keyed by the merchant's new UUID and expire within seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import redis

from bench.cluster import Cluster, pg_schema, pg_settings
from bench.verify import seed

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1")
UNLIMITED = 1_000_000.0


def start_replicas(cluster: Cluster, count: int) -> list[str]:
    """`count` merchant_api replicas, one after the other (each applies the migrations at
    start; side by side they would race on creating the same tables); their URLs."""
    return [cluster.merchant_api(f"replica-{i}")[0] for i in range(count)]


def load_all(urls: list[str], bodies: Path, key: str, concurrency: int,
             seconds: float) -> list[dict[str, Any]]:  # fmt: skip
    """One `bench.load` process per replica, all at once; their summaries."""
    procs = []
    for url in urls:
        host, port = url.removeprefix("http://").split(":")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "bench.load", host, port, "/v1/verify", str(bodies),
             json.dumps({"Authorization": f"Bearer {key}"}), str(concurrency), str(seconds)],
            stdout=subprocess.PIPE, text=True,
        ))  # fmt: skip
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds + 120)
        if proc.returncode != 0:
            raise RuntimeError(f"bench.load failed ({proc.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def measure(urls: list[str], bodies: Path, key: str, opts: argparse.Namespace,
            ) -> dict[str, Any]:  # fmt: skip
    load_all(urls, bodies, key, opts.concurrency, opts.warmup)
    results = load_all(urls, bodies, key, opts.concurrency, opts.seconds)
    statuses: dict[str, int] = {}
    for r in results:
        for code, n in r["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    if any(code.startswith("5") for code in statuses):
        raise RuntimeError(f"5xx under load: {statuses}")
    seconds = max(r["seconds"] for r in results)
    checks = [httpx.get(url + "/healthz", timeout=10).json()["checks"] for url in urls]
    return {
        "fallbacks": sum(c.get("rate_limits", {}).get("fallbacks", 0) for c in checks),
        "rps": round(sum(r["rps"] for r in results)),
        "accepted_per_s": round(statuses.get("200", 0) / seconds, 1),
        "p99_ms": round(max(r["p99_ms"] for r in results), 1),
        "statuses": statuses,
    }


def run(opts: argparse.Namespace, log: Any = print) -> dict[str, Any]:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()  # unreachable: fail now, not as a degraded run that measures nothing
    finally:
        client.close()
    work = Path(tempfile.mkdtemp(prefix="shared-limit-"))
    out: dict[str, Any] = {"low_rate": opts.low_rate, "seconds": opts.seconds}
    with pg_schema("sharedlimit") as schema:
        settings = pg_settings(schema, work, pool_size=4)
        qrs, key = seed(settings, opts.cards)
        bodies = work / "bodies.json"
        bodies.write_text(json.dumps([json.dumps({"qr": qr}) for qr in qrs]))
        for phase, rate in opts.phases:
            for mode in ("per_process", "shared"):
                env = {"CARDSERVICE_MERCHANT_RATE": str(rate)}
                if mode == "shared":
                    env["CARDSERVICE_REDIS_URL"] = REDIS_URL
                cluster = Cluster(settings, work, **env)
                try:
                    urls = start_replicas(cluster, 2)
                    for count in (1, 2):
                        figures = measure(urls[:count], bodies, key, opts)
                        out[f"{phase}_{mode}_{count}"] = figures
                        log(f"{phase} {mode} replicas={count}: {json.dumps(figures)}")
                finally:
                    cluster.stop()
    for count in (1, 2):
        if f"throughput_shared_{count}" in out:
            shared = out[f"throughput_shared_{count}"]["rps"]
            local = out[f"throughput_per_process_{count}"]["rps"]
            out[f"throughput_ratio_shared_vs_per_process_{count}"] = round(shared / local, 2)
        if f"limit_shared_{count}" in out:
            for mode in ("per_process", "shared"):
                accepted = out[f"limit_{mode}_{count}"]["accepted_per_s"]
                out[f"limit_{mode}_{count}_accepted_vs_limit"] = round(accepted / opts.low_rate, 2)
    return out


def options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.shared_limit",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.5)
    parser.add_argument("--low-rate", type=float, default=100.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--cards", type=int, default=200)
    parser.add_argument("--only", choices=("throughput", "limit"), default=None)
    opts = parser.parse_args(argv)
    phases = [("throughput", UNLIMITED), ("limit", opts.low_rate)]
    opts.phases = [p for p in phases if opts.only in (None, p[0])]
    return opts


def main() -> None:
    started = time.monotonic()
    result = run(options())
    print(json.dumps(result, ensure_ascii=False))
    print(f"done in {time.monotonic() - started:.0f} s; all processes stopped")


if __name__ == "__main__":
    main()
