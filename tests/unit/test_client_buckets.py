"""Per-client token buckets for activation attempts (frozen clock, no I/O)."""

from __future__ import annotations

from datetime import timedelta

from cardservice.api.limits import ClientBuckets, client_key
from cardservice.clock import FrozenClock
from tests.conftest import START


def test_burst_then_refill_at_the_rate() -> None:
    clock = FrozenClock(START)
    buckets = ClientBuckets(rate=0.5, burst=3, now=clock.now)
    assert [buckets.take("a") for _ in range(3)] == [None, None, None]
    assert buckets.take("a") == 2  # one token takes 2 s at 0.5/s
    assert buckets.take("b") is None  # another client has its own bucket
    clock.advance(timedelta(seconds=2))
    assert buckets.take("a") is None
    assert buckets.take("a") is not None
    clock.advance(timedelta(hours=1))  # refills up to the burst, no further
    assert [buckets.take("a") for _ in range(4)][-1] is not None


def test_a_success_is_given_back() -> None:
    clock = FrozenClock(START)
    buckets = ClientBuckets(rate=0.1, burst=2, now=clock.now)
    for _ in range(10):
        assert buckets.take("a") is None
        buckets.give_back("a")
    assert buckets.take("a") is None and buckets.take("a") is None
    assert buckets.take("a") is not None
    buckets.give_back("a")
    buckets.give_back("a")
    buckets.give_back("a")  # never above the burst
    assert [buckets.take("a") is None for _ in range(3)] == [True, True, False]


def test_zero_rate_disables() -> None:
    buckets = ClientBuckets(rate=0, burst=1, now=FrozenClock(START).now)
    assert all(buckets.take("a") is None for _ in range(100))


def test_memory_is_bounded() -> None:
    clock = FrozenClock(START)
    buckets = ClientBuckets(rate=0.1, burst=1, now=clock.now, max_clients=3)
    for key in "abcd":
        assert buckets.take(key) is None
    assert buckets.take("d") is not None  # recent clients are remembered
    assert buckets.take("a") is None  # the oldest was forgotten: a full bucket again


def test_client_keys() -> None:
    assert client_key("203.0.113.7") == "203.0.113.7"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9")
    assert client_key("2001:db8:1:2::1") != client_key("2001:db8:1:3::1")
    assert client_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert client_key(None) == "unknown"
    assert client_key("testclient") == "testclient"
