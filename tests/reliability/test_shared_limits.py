"""Shared rate limits with real processes: two merchant_api replicas (uvicorn) on one
PostgreSQL and one Redis hold one merchant to one limit in total; with a Redis of the
test's own killed mid-run every verification still answers (200 or the local 429, never a
5xx, never a hang), /readyz says `rate_limits` is degraded, and once Redis is back the
limit is shared again."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cardservice.bootstrap.write import WriteSide
from cardservice.clock import SystemClock
from cardservice.settings import Settings
from tests.conftest import make_settings
from tests.integration.test_projections import NATIONAL, catch_up
from tests.redis_support import REDIS_URL, OwnRedis, require_redis
from tests.reliability.support import free_port
from tests.reliability.test_processes import Procs, wait_http
from tests.reliability.test_worker_crash import process_env

pytestmark = pytest.mark.slow

RATE = 20  # per second per merchant key, burst twice that: in total, across the replicas
FLOOD_SECONDS = 3.0
MALFORMED = {"qr": "not a card"}  # a 200 verdict that still spends a token


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    running = Procs(tmp_path)
    yield running
    running.stop()


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[tuple[Settings, str]]:
    """A fresh PostgreSQL schema with one merchant, projected; its settings and key."""
    settings, schema = make_settings("postgres", tmp_path)
    svc = WriteSide.build(settings, SystemClock())
    try:
        merchant = svc.catalog.register_merchant(
            name="共享限流商户",
            region="500112",
            kind="merchant",
            categories=[],
            a_level=None,
            require_device_binding=False,
            actor=NATIONAL,
        )
        assert merchant.api_key is not None
        svc.ledger.keyring()
        catch_up(svc)
    finally:
        svc.close()
    yield settings, merchant.api_key
    if schema is not None:
        schema.drop()


def replicas(procs: Procs, settings: Settings, redis_url: str, count: int) -> list[str]:
    env = {
        **process_env(settings),
        "CARDSERVICE_MERCHANT_RATE": str(RATE),
        "CARDSERVICE_REDIS_URL": redis_url,
    }
    urls = []
    for i in range(count):
        port = free_port()
        args = [sys.executable, "-m", "uvicorn", "merchant_api.app:create_app", "--factory"]
        args += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
        proc = procs.start(f"replica{i}", args, env)
        urls.append(f"http://127.0.0.1:{port}")
        wait_http(urls[-1] + "/healthz", proc, procs.log(proc))
    return urls


class Flood:
    """Threads verifying as fast as they can against some replicas until stopped."""

    def __init__(self, urls: list[str], key: str, per_url: int = 2) -> None:
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.slowest = 0.0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        headers = {"Authorization": f"Bearer {key}"}
        self._threads = [
            threading.Thread(target=self._run, args=(url, headers), daemon=True)
            for url in urls
            for _ in range(per_url)
        ]

    def _run(self, url: str, headers: dict[str, str]) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                began = time.monotonic()
                try:
                    status = client.post(url + "/v1/verify", json=MALFORMED, headers=headers)
                except httpx.HTTPError as exc:
                    with self._lock:
                        self.errors.append(repr(exc))
                    continue
                took = time.monotonic() - began
                with self._lock:
                    self.statuses[(url, status.status_code)] += 1
                    self.slowest = max(self.slowest, took)

    def __enter__(self) -> Flood:
        self.began = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        self.seconds = time.monotonic() - self.began

    def count(self, code: int) -> int:
        return sum(n for (_, c), n in self.statuses.items() if c == code)


def readyz(url: str) -> dict[str, Any]:
    resp = httpx.get(url + "/readyz", timeout=5)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def wait_ready(url: str, degraded: bool, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while ("rate_limits" in readyz(url)["degraded"]) != degraded:
        assert time.monotonic() < deadline, readyz(url)
        time.sleep(0.1)


def test_two_replicas_share_one_limit(
    tmp_path: Path, procs: Procs, pg: tuple[Settings, str]
) -> None:
    require_redis().close()
    settings, key = pg
    urls = replicas(procs, settings, REDIS_URL, 2)
    for url in urls:
        assert readyz(url)["degraded"] == []
    with Flood(urls, key) as flood:
        time.sleep(FLOOD_SECONDS)
    accepted = flood.count(200)
    allowed = 2 * RATE + RATE * flood.seconds  # one burst and one refill, for both together
    assert flood.count(200) + flood.count(429) == sum(flood.statuses.values()), flood.statuses
    assert not flood.errors, flood.errors[:3]
    # Per process, each replica would accept about `allowed` on its own: twice this.
    assert 0.6 * allowed <= accepted <= allowed + 0.1 * RATE, (accepted, allowed, flood.statuses)
    for url in urls:
        assert flood.statuses[(url, 429)] > 0 and flood.statuses[(url, 200)] > 0
        health = httpx.get(url + "/healthz").json()["checks"]["rate_limits"]
        assert health["shared"] is True and health["fallbacks"] == 0


def test_redis_killed_mid_run_falls_back_then_shares_again(
    tmp_path: Path, procs: Procs, pg: tuple[Settings, str]
) -> None:
    settings, key = pg
    server = OwnRedis()
    try:
        server.start()
        (url,) = replicas(procs, settings, server.url, 1)
        assert readyz(url) == {"status": "ok", "degraded": []}
        with Flood([url], key) as shared_run:
            time.sleep(1.0)
            server.kill()
            wait_ready(url, degraded=True)
            body = readyz(url)
            assert body["status"] == "degraded" and body["degraded"] == ["rate_limits"]
            time.sleep(1.0)  # verifications go on against the local bucket
            server.start()  # empty, on the same port
            wait_ready(url, degraded=False)
            time.sleep(0.5)
        assert not shared_run.errors, shared_run.errors[:3]
        codes = {code for _, code in shared_run.statuses}
        assert codes <= {200, 429}, shared_run.statuses
        assert shared_run.count(200) > 0 and shared_run.count(429) > 0
        assert shared_run.slowest < 2.0, shared_run.slowest
        health = httpx.get(url + "/healthz").json()["checks"]["rate_limits"]
        assert health["shared"] is True and health["fallbacks"] >= 1
        client = server.client()
        try:  # the recovered Redis holds this merchant's bucket again
            assert client.keys("cardservice:ratelimit:*"), "no bucket in the restarted Redis"
        finally:
            client.close()
    finally:
        server.close()
