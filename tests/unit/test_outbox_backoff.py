"""Back-off of notice delivery: doubling from the base, jittered ±20 %, never over the cap."""

from __future__ import annotations

import random

from cardservice.outbox import backoff


def test_backoff_doubles_with_jitter_and_stops_at_the_cap() -> None:
    rng = random.Random(7)
    for attempts, nominal in ((1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0)):
        for _ in range(200):
            delay = backoff(attempts, 1.0, 300.0, rng)
            assert nominal * 0.8 <= delay <= nominal * 1.2
    assert all(backoff(30, 1.0, 300.0, rng) <= 300.0 for _ in range(200))
    assert backoff(0, 0.5, 300.0, rng) <= 0.6


def test_backoff_after_days_of_failures_stays_at_the_cap() -> None:
    rng = random.Random(3)
    assert all(240.0 <= backoff(n, 1.0, 300.0, rng) <= 300.0 for n in (1100, 10_000, 10**9))
