"""Query parameters read by hand, so a malformed one is the contract's 422 with a clear
detail (and never reaches the application as a half-parsed value)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from uuid import UUID

from cardservice.clock import SHANGHAI
from cardservice.domain.errors import InvalidInput

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_TIMESTAMP_LENGTH = 40


def parse_day(value: str, name: str) -> date:
    """A calendar date, strictly YYYY-MM-DD (Asia/Shanghai by the contract)."""
    if not _ISO_DATE.fullmatch(value):
        raise InvalidInput(f"{name}: {value[:40]!r} is not an ISO date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name}: {value!r} is not a calendar date") from None


def parse_instant(value: str, name: str) -> datetime:
    """An ISO 8601 timestamp; without an offset it is read in Asia/Shanghai."""
    if not value or len(value) > MAX_TIMESTAMP_LENGTH or not value[:4].isdigit():
        raise InvalidInput(f"{name}: {value[:40]!r} is not an ISO timestamp")
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=SHANGHAI)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(f"{name}: {value[:40]!r} is not an ISO timestamp") from None


def parse_uuid(value: str, name: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise InvalidInput(f"{name}: {value[:40]!r} is not a UUID") from None
