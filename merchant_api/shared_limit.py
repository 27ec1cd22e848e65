"""Per-merchant rate limits shared by every replica through Redis (`CARDSERVICE_REDIS_URL`).

The same token bucket as `RateLimiter` (`rate` verifications per second, bursts of twice
that), kept in Redis and updated by one Lua script, so a check is atomic across replicas
and costs one round trip (EVALSHA; the script is loaded again only when Redis answers
NOSCRIPT, after a restart or a SCRIPT FLUSH). The caller's clock is passed in as `now`
(tests freeze and move it); a replica whose clock runs behind never moves a bucket's
time backwards. Keys are `cardservice:ratelimit:<merchant_id>` and expire once a bucket
would be full again, so an idle merchant costs nothing.

When Redis does not answer (down, a timeout of 0.2 s, any Redis error), the check falls
back to this process's own bucket: never a 5xx, never a hang. Redis is tried again after
`retry_seconds`, so a recovered Redis is used again. `health()` is the readiness check:
not ok (`/readyz` lists it under "degraded") while the limits are per process.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

import redis
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError
from redis.retry import Retry

from cardservice.settings import Settings
from merchant_api.ratelimit import RateLimiter
from projections.health import Check

log = logging.getLogger("merchant_api.shared_limit")

PREFIX = "cardservice:ratelimit:"
SOCKET_TIMEOUT = 0.2
RETRY_SECONDS = 1.0
MAX_CONNECTIONS = 32

# KEYS[1] bucket; ARGV: rate, burst, now (seconds, float), expiry (ms).
# Returns 0 when a token was spent, else the whole seconds to wait (Retry-After, >= 1).
BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate)
  at = now
end
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.max(1, math.ceil((1 - tokens) / rate))
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'at', string.format('%.17g', at))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return wait
"""


class Limiter(Protocol):
    """What MerchantApi needs of a limiter (per process or shared)."""

    @property
    def enabled(self) -> bool: ...

    def take(self, key: str) -> int | None: ...

    def health(self) -> Check: ...

    def close(self) -> None: ...


class LocalLimiter(RateLimiter):
    """The per-process bucket as a `Limiter`: always healthy (per process by choice)."""

    def health(self) -> Check:
        return Check(True, {"shared": False})

    def close(self) -> None:
        return None


def client_for(url: str) -> redis.Redis:
    """A pooled sync client that fails fast: 0.2 s to connect or answer, and no retries
    of its own (the per-process fallback is the retry)."""
    return redis.Redis.from_url(
        url,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=SOCKET_TIMEOUT,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
        max_connections=MAX_CONNECTIONS,
    )


class SharedRateLimiter:
    """Buckets in Redis, this process's own buckets while Redis does not answer."""

    def __init__(
        self,
        rate: float,
        now: Callable[[], datetime],
        client: redis.Redis,
        *,
        prefix: str = PREFIX,
        retry_seconds: float = RETRY_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.local = LocalLimiter(rate, now)
        self.rate = self.local.rate
        self.burst = self.local.burst
        self.client = client
        self.prefix = prefix
        self.retry_seconds = retry_seconds
        self._now = now
        self._monotonic = monotonic
        self._sha = redis_sha(BUCKET_LUA)
        self._expiry_ms = str(math.ceil(self.burst / self.rate * 1000) + 1000) if self.rate else "0"
        self._lock = threading.Lock()
        self._down_until: float | None = None  # set while fallen back to per process
        self._last_ok = float("-inf")
        self.fallbacks = 0
        self._error = ""

    @property
    def enabled(self) -> bool:
        return self.local.enabled

    @property
    def shared(self) -> bool:
        return self._down_until is None

    def take(self, key: str) -> int | None:
        """Spend one token; None when allowed, else the seconds to wait (Retry-After)."""
        if not self.enabled:
            return None
        down = self._down_until
        if down is not None and self._monotonic() < down:
            return self.local.take(key)
        args = (self.rate, self.burst, self._now().timestamp(), self._expiry_ms)
        try:
            wait = self._evalsha(self.prefix + key, args)
        except (redis.RedisError, OSError) as exc:
            self._fell_back(exc)
            return self.local.take(key)
        self._recovered()
        return wait or None

    def _evalsha(self, key: str, args: tuple[Any, ...]) -> int:
        try:
            return int(self.client.evalsha(self._sha, 1, key, *args))
        except NoScriptError:
            self._sha = str(self.client.script_load(BUCKET_LUA))
            return int(self.client.evalsha(self._sha, 1, key, *args))

    def _fell_back(self, exc: BaseException) -> None:
        with self._lock:
            first = self._down_until is None
            self._down_until = self._monotonic() + self.retry_seconds
            self._error = type(exc).__name__
            if first:
                self.fallbacks += 1
        if first:
            log.warning("redis unreachable (%s): rate limits per process", self._error)

    def _recovered(self) -> None:
        self._last_ok = self._monotonic()
        if self._down_until is None:
            return
        with self._lock:
            self._down_until = None
        log.info("redis answers again: rate limits shared")

    def health(self) -> Check:
        """Ok while limits are shared. Asks Redis (PING) when it has not answered for a
        while and no back-off is running, so the probe notices a dead or recovered Redis
        without traffic."""
        now = self._monotonic()
        down = self._down_until
        stale = now - self._last_ok > self.retry_seconds
        if stale and (down is None or now >= down):
            try:
                self.client.ping()
            except (redis.RedisError, OSError) as exc:
                self._fell_back(exc)
            else:
                self._recovered()
        detail: dict[str, Any] = {"shared": self.shared, "fallbacks": self.fallbacks}
        if not self.shared:
            detail["error"] = self._error
        return Check(self.shared, detail)

    def close(self) -> None:
        self.client.close()


def redis_sha(script: str) -> str:
    """The name Redis gives a script (EVALSHA): its SHA-1, not a security use."""
    return hashlib.sha1(script.encode(), usedforsecurity=False).hexdigest()


def limiter_for(settings: Settings, now: Callable[[], datetime]) -> Limiter:
    """Shared through Redis when `CARDSERVICE_REDIS_URL` is set, else per process."""
    rate = settings.merchant_rate
    if not settings.redis_url or rate <= 0:
        return LocalLimiter(rate, now)
    return SharedRateLimiter(rate, now, client_for(settings.redis_url))
