"""Per-merchant token buckets: `rate` requests per second, bursts of twice that (or `burst`).

Time comes from the injected clock (tests freeze and move it). Each replica keeps its own
buckets, so N replicas behind a balancer allow up to N times the rate: size it per replica.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from datetime import datetime


class RateLimiter:
    def __init__(
        self, rate: float, now: Callable[[], datetime], *, burst: float | None = None
    ) -> None:
        self.rate = max(0.0, float(rate))
        self.burst = 2.0 * self.rate if burst is None else max(1.0, float(burst))
        self._now = now
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str) -> int | None:
        """Spend one token; None when allowed, else the seconds to wait (Retry-After)."""
        if not self.enabled:
            return None
        t = self._now().timestamp()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, t))
            tokens = min(self.burst, tokens + max(0.0, t - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, t)
                return None
            self._buckets[key] = (tokens, t)
        return max(1, math.ceil((1.0 - tokens) / self.rate))
