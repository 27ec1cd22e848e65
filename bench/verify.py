"""Verify benchmark: requests/s of POST /v1/verify (valid cards) ÷ requests/s of a no-op
FastAPI POST, both served by the same uvicorn command line, loaded by a separate process,
measured in alternating rounds in the same run. SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from cardservice.application import IssueCardRequest
from cardservice.bootstrap.write import WriteSide
from cardservice.domain.actors import Actor
from cardservice.domain.identity import mod11_2_check
from cardservice.settings import Settings

ACTOR = Actor(kind="admin", id="bench", role="admin", region="000000")
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass
class Options:
    seconds: float = 8.0
    warmup: float = 2.0
    rounds: int = 2
    concurrency: int = 32
    cards: int = 300
    backends: tuple[str, ...] = ("sqlite", "postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def id_number(seq: int) -> str:
    body = f"500112{1950 + seq % 50}0101{seq % 1000:03d}"
    return body + mod11_2_check(body)


def environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDSERVICE_")}
    env.pop("DATABASE_URL", None)
    env.update(
        {
            "CARDSERVICE_DATA_DIR": str(settings.data_dir),
            "CARDSERVICE_SECRET": str(settings.secret),
            "CARDSERVICE_MERCHANT_RATE": "0",
            "CARDSERVICE_POOL_SIZE": "8",
        }
    )
    if settings.is_postgres:
        env["DATABASE_URL"] = str(settings.database_url)
        env["CARDSERVICE_POSTGRES_SCHEMA"] = settings.postgres_schema
    return env


def seed(settings: Settings, cards: int) -> tuple[list[str], str]:
    """Issue cards and a merchant, project them, return the QR texts and the merchant key."""
    from projections.service import runners_for

    svc = WriteSide.build(settings)
    try:
        svc.ledger.keyring()
        qrs: list[str] = []
        for start in range(0, cards, 500):
            requests = [
                IssueCardRequest(
                    name="张三明", id_number=id_number(i), category="veteran", region="500112"
                )
                for i in range(start, min(cards, start + 500))
            ]
            for outcome in svc.ledger.issue_cards_bulk(requests, ACTOR, source="bench"):
                assert outcome.card_id is not None, outcome.reason
                qrs.append(svc.ledger.credential_for(svc.ledger.card(outcome.card_id)))
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
        for runner in runners_for(svc.sources()):
            runner.setup()
            runner.catch_up()
        return qrs, merchant.api_key
    finally:
        svc.close()


def serve(app: str, env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                app,
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{app} exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{app} did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)


def load(
    port: int, path: str, bodies: Path, headers: dict[str, str], opts: Options, seconds: float
) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.load",
            "127.0.0.1",
            str(port),
            path,
            str(bodies),
            json.dumps(headers),
            str(opts.concurrency),
            str(seconds),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def bench_backend(backend: str, opts: Options, workdir: Path) -> dict[str, Any]:
    schema = None
    overrides: dict[str, Any] = {"data_dir": workdir / backend, "secret": "bench-secret"}
    if backend == "postgres":
        import psycopg

        schema = "bench_" + uuid.uuid4().hex[:12]
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        settings = Settings(database_url=PG_URL, postgres_schema=schema, pool_size=8, **overrides)
    else:
        settings = Settings(database_url=None, **overrides)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        qrs, key = seed(settings, opts.cards)
        env = environment(settings)
        verify_port, cold_port, noop_port = free_port(), free_port(), free_port()
        procs.append(
            serve(
                "merchant_api.app:create_app", env, verify_port, workdir / f"{backend}-verify.log"
            )
        )
        cold_env = {**env, "CARDSERVICE_SIGNATURE_MEMO": "0"}
        procs.append(
            serve(
                "merchant_api.app:create_app",
                cold_env,
                cold_port,
                workdir / f"{backend}-verify-cold.log",
            )
        )
        procs.append(serve("bench.noop:create_app", env, noop_port, workdir / "noop.log"))
        bodies = workdir / f"{backend}-bodies.json"
        bodies.write_text(json.dumps([json.dumps({"qr": qr}) for qr in qrs]))
        auth = {"Authorization": f"Bearer {key}"}
        check = httpx.post(
            f"http://127.0.0.1:{verify_port}/v1/verify", json={"qr": qrs[0]}, headers=auth
        ).json()
        if check.get("status") != "valid":
            raise RuntimeError(f"the bench card does not verify: {check}")
        servers = {
            "noop": (noop_port, "/noop"),
            "verify": (verify_port, "/v1/verify"),
            "cold": (cold_port, "/v1/verify"),
        }
        for port, path in servers.values():
            load(port, path, bodies, auth, opts, opts.warmup)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
        for _ in range(opts.rounds):  # alternate, so drift in the machine hits all alike
            for name, (port, path) in servers.items():
                runs[name].append(load(port, path, bodies, auth, opts, opts.seconds))

        def rps(name: str) -> float:
            return sum(r["rps"] for r in runs[name]) / opts.rounds

        noop = rps("noop")
        return {
            "backend": backend,
            "noop_rps": noop,
            "verify_rps": rps("verify"),
            "ratio": rps("verify") / noop,
            "cold_rps": rps("cold"),
            "cold_ratio": rps("cold") / noop,
            "verify_p50_ms": max(r["p50_ms"] for r in runs["verify"]),
            "verify_p99_ms": max(r["p99_ms"] for r in runs["verify"]),
            "cold_p99_ms": max(r["p99_ms"] for r in runs["cold"]),
            "noop_p99_ms": max(r["p99_ms"] for r in runs["noop"]),
            "not_valid_responses": sum(
                r["requests"] - r["valid"] for name in ("verify", "cold") for r in runs[name]
            ),
        }
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if schema is not None:
            import psycopg

            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def run(opts: Options) -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        for backend in opts.backends:
            results.append(bench_backend(backend, opts, Path(tmp)))
    return results


def describe_server() -> str:
    try:
        import httptools  # noqa: F401
        import uvloop  # noqa: F401

        return "uvicorn (uvloop + httptools), 1 process"
    except ImportError:
        return "uvicorn (asyncio + h11), 1 process"
