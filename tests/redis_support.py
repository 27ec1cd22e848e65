"""Real Redis for the tests: the machine's (scripts/ensure_redis.sh starts it) and
throwaway servers a test starts and kills itself.

The machine's Redis is shared by every run on the machine: tests use database 1 (not a
deployment's 0) and keys no other run can have (a fresh key prefix, or merchant ids that
are new UUIDs). Under CI (CI=true) an unreachable Redis fails the test instead of
skipping it, as for PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import redis

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/1")


def _unavailable(problem: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"Redis unreachable under CI: {problem}")
    pytest.skip(f"Redis unreachable: {problem}")


def require_redis() -> redis.Redis:
    """A client of the machine's Redis (database 1), or skip/fail as above."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        client.close()
        _unavailable(f"{type(exc).__name__}: {exc}")
    return client


def unique_prefix() -> str:
    return f"test:{uuid.uuid4().hex}:cardservice:ratelimit:"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OwnRedis:
    """`redis-server` on a free port of 127.0.0.1, no persistence, in a temporary folder:
    this test's own, to kill and start again on the same port."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            _unavailable("no redis-server binary (scripts/ensure_redis.sh installs it)")
        self.binary = str(binary)
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="test-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self.dir)]
        with (self.dir / "redis.log").open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        client = self.client()
        try:
            while True:
                assert self.proc.poll() is None, (self.dir / "redis.log").read_text()
                try:
                    client.ping()
                    return
                except (redis.RedisError, OSError):
                    assert time.monotonic() < deadline, "redis-server did not start"
                    time.sleep(0.02)
        finally:
            client.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
