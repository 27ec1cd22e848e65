"""The one source of time. Production uses the system clock; tests freeze and move it."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from cardservice.domain.policy import TIME_ZONE

SHANGHAI = ZoneInfo(TIME_ZONE)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to: the one thing tests are allowed to fake."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when


def today_in_shanghai(clock: Clock) -> date:
    """Contract dates are calendar dates in Asia/Shanghai, whatever the server's zone."""
    return clock.now().astimezone(SHANGHAI).date()
