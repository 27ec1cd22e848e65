"""Processes for the benchmarks and the topology script: a throwaway PostgreSQL schema, the
admin API (`cardservice serve --no-workers`), projection workers (`cardservice worker`),
merchant_api replicas (uvicorn), and the load generator (`bench.load`) in its own process.
Every process gets the same settings from the environment, as a deployment would.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg

from cardservice.domain.actors import Actor
from cardservice.settings import Settings

PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
ACTOR = Actor(kind="admin", id="bench", role="admin", region="000000")
ADMIN_TOKEN = "adm_bench_" + "0" * 32
CLI = [sys.executable, "-c", "from cardservice.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def pg_schema(prefix: str = "bench") -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def pg_settings(schema: str, workdir: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "data_dir": workdir,
        "secret": "bench-secret",
        "admin_token": ADMIN_TOKEN,
        "pool_size": 8,
    }
    base.update(overrides)
    return Settings(database_url=PG_URL, postgres_schema=schema, **base)


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDSERVICE_")}
    env.pop("DATABASE_URL", None)
    env.update(
        {
            "CARDSERVICE_DATA_DIR": str(settings.data_dir),
            "CARDSERVICE_SECRET": str(settings.secret),
            "CARDSERVICE_ADMIN_TOKEN": str(settings.admin_token),
            "CARDSERVICE_MERCHANT_RATE": "0",
            "CARDSERVICE_POOL_SIZE": str(settings.pool_size),
        }
    )
    if settings.is_postgres:
        env["DATABASE_URL"] = str(settings.database_url)
        env["CARDSERVICE_POSTGRES_SCHEMA"] = settings.postgres_schema
    env.update(extra)
    return env


class Cluster:
    """Started processes, stopped together (SIGTERM, then SIGKILL after a grace period)."""

    def __init__(self, settings: Settings, workdir: Path, **env: str) -> None:
        self.settings = settings
        self.workdir = workdir
        self.env = environment(settings, **env)
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def _start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = self.workdir / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(args, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append((name, proc))
        return proc

    def _wait_http(self, name: str, proc: subprocess.Popen[bytes], url: str) -> None:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited: {self.log_tail(name)}")
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start: {self.log_tail(name)}")
            time.sleep(0.1)

    def log_tail(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def admin(self, name: str = "admin") -> str:
        port = free_port()
        proc = self._start(name, [*CLI, "serve", "--no-workers", "--port", str(port)])
        url = f"http://127.0.0.1:{port}"
        self._wait_http(name, proc, url)
        return url

    def worker(self, name: str = "worker") -> subprocess.Popen[bytes]:
        return self._start(name, [*CLI, "worker"])

    def merchant_api(self, name: str = "merchant_api", processes: int = 1) -> tuple[str, int]:
        """A merchant_api replica (uvicorn; `processes` workers share one port); URL, pid."""
        port = free_port()
        args = [
            sys.executable,
            "-m",
            "uvicorn",
            "merchant_api.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        if processes > 1:
            args += ["--workers", str(processes)]
        proc = self._start(name, args)
        url = f"http://127.0.0.1:{port}"
        self._wait_http(name, proc, url)
        return url, proc.pid

    def stop(self, name: str | None = None) -> None:
        chosen = [(n, p) for n, p in self.procs if name is None or n == name]
        for _, proc in chosen:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _, proc in chosen:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self.procs = [(n, p) for n, p in self.procs if (n, p) not in chosen]


def run_load(
    url: str,
    path: str,
    bodies: list[str],
    headers: dict[str, str],
    concurrency: int,
    seconds: float,
    workdir: Path,
) -> dict[str, Any]:
    """`bench.load` in its own process against `url`; its JSON summary."""
    host, port = url.removeprefix("http://").split(":")
    body_file = workdir / f"bodies-{uuid.uuid4().hex[:8]}.json"
    body_file.write_text(json.dumps(bodies))
    try:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.load",
                host,
                port,
                path,
                str(body_file),
                json.dumps(headers),
                str(concurrency),
                str(seconds),
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 120,
            check=True,
        )
    finally:
        body_file.unlink(missing_ok=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def rss_mib(pid: int) -> dict[str, float]:
    """Resident memory of a process and its children (uvicorn workers): now and peak."""
    import psutil

    proc = psutil.Process(pid)
    family = [proc, *proc.children(recursive=True)]
    now = sum(p.memory_info().rss for p in family) / 2**20
    peak = 0.0
    for p in family:
        try:
            with open(f"/proc/{p.pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        peak += int(line.split()[1]) / 1024
        except OSError:
            pass
    return {"rss_mib": round(now, 1), "peak_rss_mib": round(peak, 1), "processes": len(family)}
