"""The shared bucket's Lua script against a real Redis, on a frozen clock: it answers
exactly as the per-process bucket does; keys are namespaced and expire; a flushed script
is loaded again; a Redis that does not answer means the per-process bucket, fast, and a
recovered one is used again after the back-off."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from cardservice.clock import FrozenClock
from merchant_api.shared_limit import (
    LocalLimiter,
    SharedRateLimiter,
    client_for,
    limiter_for,
)
from tests.conftest import make_settings
from tests.redis_support import REDIS_URL, OwnRedis, free_port, require_redis, unique_prefix

START = datetime(2026, 6, 1, 2, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def machine_redis() -> Iterator[redis.Redis]:
    client = require_redis()
    yield client
    client.close()


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis()
    server.start()
    yield server
    server.close()


def shared(rate: float, clock: FrozenClock, url: str = REDIS_URL, **kw: Any) -> SharedRateLimiter:
    return SharedRateLimiter(rate, clock.now, client_for(url), prefix=unique_prefix(), **kw)


@pytest.mark.parametrize("rate", [0.5, 3.0, 20.0])
def test_the_script_answers_as_the_per_process_bucket(
    machine_redis: redis.Redis, rate: float
) -> None:
    clock = FrozenClock(START)
    local = LocalLimiter(rate, clock.now)
    remote = shared(rate, clock)
    rng = random.Random(f"bucket-{rate}")
    try:
        for step in range(400):
            key = f"m{rng.randrange(3)}"
            assert remote.take(key) == local.take(key), f"step {step}"
            if rng.random() < 0.3:
                clock.advance(timedelta(milliseconds=rng.choice([1, 37, 250, 900, 4000])))
        assert remote.shared
    finally:
        remote.close()


def test_burst_twice_the_rate_then_retry_after_then_refill(machine_redis: redis.Redis) -> None:
    clock = FrozenClock(START)
    limiter = shared(5.0, clock)
    try:
        assert [limiter.take("m") for _ in range(10)] == [None] * 10
        assert limiter.take("m") == 1
        clock.advance(timedelta(seconds=0.2))  # one token back
        assert limiter.take("m") is None
        assert limiter.take("m") == 1
        clock.advance(timedelta(seconds=60))  # full again, never more than the burst
        assert [limiter.take("m") for _ in range(11)] == [None] * 10 + [1]
        assert limiter.take("other") is None  # buckets are per merchant
    finally:
        limiter.close()


def test_a_clock_behind_never_refills(machine_redis: redis.Redis) -> None:
    ahead, behind = FrozenClock(START), FrozenClock(START - timedelta(seconds=30))
    a = shared(1.0, ahead)
    b = SharedRateLimiter(1.0, behind.now, a.client, prefix=a.prefix)
    try:
        assert [a.take("m"), a.take("m"), a.take("m")] == [None, None, 1]
        assert b.take("m") == 1  # the replica 30 s behind sees the same empty bucket
        behind.advance(timedelta(seconds=29))
        assert b.take("m") == 1
        ahead.advance(timedelta(seconds=1))
        assert a.take("m") is None
    finally:
        a.close()


def test_keys_are_namespaced_and_expire(machine_redis: redis.Redis) -> None:
    clock = FrozenClock(START)
    limiter = shared(20.0, clock)
    try:
        limiter.take("3f1c")
        assert limiter.prefix.endswith("cardservice:ratelimit:")
        ttl = machine_redis.pttl(limiter.prefix + "3f1c")
        assert 0 < ttl <= 3000  # the time to refill the burst, plus a second
    finally:
        machine_redis.delete(limiter.prefix + "3f1c")
        limiter.close()


def test_a_flushed_script_is_loaded_again(own_redis: OwnRedis) -> None:
    clock = FrozenClock(START)
    limiter = shared(1.0, clock, own_redis.url)
    admin = own_redis.client()
    try:
        assert limiter.take("m") is None
        admin.script_flush()
        assert limiter.take("m") is None
        assert limiter.take("m") == 1
        assert limiter.shared
    finally:
        admin.close()
        limiter.close()


def test_no_redis_means_the_local_bucket_fast_then_redis_again(own_redis: OwnRedis) -> None:
    clock = FrozenClock(START)
    ticks = [0.0]
    limiter = shared(1.0, clock, own_redis.url, retry_seconds=1.0, monotonic=lambda: ticks[0])
    try:
        assert limiter.take("m") is None and limiter.shared
        own_redis.kill()
        began = time.monotonic()
        # Redis spent one token; the local bucket starts full (burst 2).
        assert [limiter.take("m") for _ in range(3)] == [None, None, 1]
        assert time.monotonic() - began < 1.0
        health = limiter.health()
        assert not health.ok and health.detail["error"] and limiter.fallbacks == 1
        own_redis.start()  # a fresh, empty Redis on the same port
        assert limiter.take("m") == 1  # still backing off: local
        ticks[0] += 1.5
        assert limiter.take("m") is None and limiter.shared
        assert limiter.health().ok
    finally:
        limiter.close()


def test_the_probe_notices_without_traffic(own_redis: OwnRedis) -> None:
    ticks = [0.0]
    limiter = shared(1.0, FrozenClock(START), own_redis.url, monotonic=lambda: ticks[0])
    try:
        assert limiter.health().ok
        own_redis.kill()
        ticks[0] += 5
        assert not limiter.health().ok
        own_redis.start()
        assert not limiter.health().ok  # backing off
        ticks[0] += 5
        assert limiter.health().ok
    finally:
        limiter.close()


def test_a_dead_port_times_out_fast() -> None:
    limiter = shared(1.0, FrozenClock(START), f"redis://127.0.0.1:{free_port()}/0")
    try:
        began = time.monotonic()
        assert limiter.take("m") is None
        assert not limiter.health().ok
        assert time.monotonic() - began < 1.0
    finally:
        limiter.close()


def test_without_a_url_limits_stay_per_process(tmp_path: Path) -> None:
    settings, _ = make_settings("sqlite", tmp_path)
    limiter = limiter_for(settings, FrozenClock(START).now)
    assert isinstance(limiter, LocalLimiter) and limiter.health().ok
    with_url = settings.model_copy(update={"redis_url": REDIS_URL})
    assert isinstance(limiter_for(with_url, FrozenClock(START).now), SharedRateLimiter)
