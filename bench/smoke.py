"""`python -m bench.smoke`: every benchmark of bench/ once, at a tiny size (well under a
minute on an idle 2-core machine), so a benchmark broken by a change turns the test run red
instead of failing the next time someone wants a figure. The figures it prints mean
nothing (the sizes are far too small); only that each benchmark ran to its end does.

Uses the same entry points as `python -m bench` (bench/suite.py) and the single-benchmark
commands; PostgreSQL must answer (scripts/ensure_postgres.sh starts it).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import (
    catalog,
    importer,
    inprocess,
    issuance,
    redemptions,
    scale,
    search,
    shared_limit,
    suite,
    topology,
)
from bench import verify as verify_http


def _quiet(_: str) -> None:
    return None


def _qr() -> Any:
    return inprocess.qr_versions()


def _inprocess() -> Any:
    return inprocess.run(cards=20, seconds=0.05, rounds=1)


def _issuance() -> Any:
    return issuance.measure("postgres", 100, batch=50, rounds=1)


def _catalog() -> Any:
    return {b: catalog.run_backend(b, lookups=20, others=3) for b in ("sqlite", "postgres")}


def _importer() -> Any:
    with tempfile.TemporaryDirectory(prefix="bench-smoke-") as tmp:
        return importer.measure("sqlite", 200, Path(tmp))


def _search() -> Any:
    return search.measure("sqlite", 200, 20, seed=15)


def _verify_http() -> Any:
    opts = verify_http.Options(
        seconds=0.5, warmup=0.2, rounds=1, concurrency=2, cards=5, backends=("sqlite",)
    )
    return verify_http.run(opts)


def _scale() -> Any:
    opts = scale.ScaleOptions(
        sizes=(150,), samples=10, latency_seconds=0.3, latency_concurrency=2, rounds=1,
        revocations=1, scaling_seconds=0.3, scaling_concurrency=2, small=50,
        warmup_seconds=0.1, scaling_rounds=1, log=_quiet,
    )  # fmt: skip
    return scale.run(opts)


def _topology() -> Any:
    return topology.run(seconds=0.5, cards=5, log=_quiet)


def _shared_limit() -> Any:
    # The limit phase only (shared and per process, 1 and 2 replicas): the throughput
    # phase starts two more clusters and would double the smoke's share of a minute.
    args = ["--only", "limit", "--seconds", "0.3", "--warmup", "0.2", "--cards", "5"]
    return shared_limit.run(shared_limit.options([*args, "--concurrency", "2"]), log=_quiet)


def _redemptions() -> Any:
    return redemptions.run(scale=0.002, seconds=0.2, rounds=1, cards=8, queries=10)


BENCHMARKS: dict[str, Callable[[], Any]] = {
    "qr_versions": _qr,
    "inprocess": _inprocess,
    "issuance": _issuance,
    "catalog": _catalog,
    "importer": _importer,
    "search": _search,
    "verify_http": _verify_http,
    "scale": _scale,
    "topology": _topology,
    "shared_limit": _shared_limit,
    "redemptions": _redemptions,
}


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    started = time.monotonic()
    figures: dict[str, Any] = {}
    failed: list[str] = []
    for name in names:
        began = time.monotonic()
        try:
            figures[name] = BENCHMARKS[name]()
        except Exception as exc:
            failed.append(name)
            print(f"bench smoke: {name} FAILED: {type(exc).__name__}: {exc}", flush=True)
        else:
            print(f"bench smoke: {name} ok ({time.monotonic() - began:.1f} s)", flush=True)
    if not failed and set(names) == set(BENCHMARKS):
        _summarise(figures)
    total = time.monotonic() - started
    print(f"bench smoke: {len(names)} benchmarks in {total:.1f} s")
    print(f"smoke: {len(names) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def _summarise(figures: dict[str, Any]) -> None:
    """The suite's own summary and verdicts over the smoke's figures (same shapes)."""
    shaped = {
        "qr": figures["qr_versions"],
        "inprocess": figures["inprocess"],
        "issuance": {"batch100": figures["issuance"]},
        "verify_http": figures["verify_http"][0],
        "scale": figures["scale"],
    }
    suite.verdicts(suite.summary(shaped))
    with tempfile.TemporaryDirectory(prefix="bench-smoke-") as tmp:
        suite.plot(figures["scale"]["points"], Path(tmp) / "latency.png")


if __name__ == "__main__":
    sys.exit(main())
