"""Calendar days in the contract's time zone, for limits counted per day."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cardservice.domain.policy import TIME_ZONE

_ZONE = ZoneInfo(TIME_ZONE)


def local_day(at: datetime) -> str:
    """The ISO date of `at` in Asia/Shanghai."""
    return at.astimezone(_ZONE).date().isoformat()


def seconds_to_next_day(at: datetime) -> int:
    """Seconds from `at` to the next midnight in Asia/Shanghai (at least 1): a Retry-After."""
    local = at.astimezone(_ZONE)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), _ZONE)
    return max(1, math.ceil((midnight - local).total_seconds()))
