"""Per-client token buckets for unauthenticated endpoints that must not be guessed at.

An activation code has 50 bits, so guessing is hopeless at any rate a bucket allows; the
bucket keeps it that way and keeps one address from hammering the event store. Buckets are
per process (N replicas allow N times the rate) and bounded in number: the least recently
seen client is forgotten first, which only ever gives that client a full bucket back.
"""

from __future__ import annotations

import ipaddress
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

MAX_CLIENTS = 50_000


def client_key(host: str | None) -> str:
    """The bucket for an address: IPv4 as is, IPv6 by /64 (one subscriber's prefix)."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class ClientBuckets:
    """`burst` tokens per client, refilled at `rate` per second (0 disables)."""

    def __init__(
        self,
        rate: float,
        burst: int,
        now: Callable[[], datetime],
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self.rate = max(0.0, float(rate))
        self.burst = max(1.0, float(burst))
        self._now = now
        self._max = max_clients
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def _level(self, key: str, t: float) -> float:
        tokens, last = self._buckets.get(key, (self.burst, t))
        return min(self.burst, tokens + max(0.0, t - last) * self.rate)

    def take(self, key: str) -> int | None:
        """Spend one token: None when allowed, else the seconds to wait (Retry-After)."""
        if not self.enabled:
            return None
        t = self._now().timestamp()
        with self._lock:
            tokens = self._level(key, t)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, t)
            self._buckets.move_to_end(key)
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        if allowed:
            return None
        return max(1, math.ceil((1.0 - tokens) / self.rate))

    def give_back(self, key: str) -> None:
        """Return a token (the attempt succeeded: only failures should count)."""
        if not self.enabled:
            return
        t = self._now().timestamp()
        with self._lock:
            if key in self._buckets:
                self._buckets[key] = (min(self.burst, self._level(key, t) + 1.0), t)
