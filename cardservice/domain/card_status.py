"""A card's statuses and the rules for the reasons that change them (pure).

active ⇄ suspended; any non-revoked → revoked (terminal); expiry is by date, derived, so no
clock has to run to expire a card. The `Card` aggregate (`domain.cards`) records the
changes; this module holds the words and what a verifier sees on a given day.
"""

from __future__ import annotations

from datetime import date

from cardservice.domain.errors import InvalidInput

ACTIVE = "active"
SUSPENDED = "suspended"
REVOKED = "revoked"
EXPIRED = "expired"

UNBOUND = "unbound"
"""The reason of the reissue that unbinds a card from its phone (then `: why`, if given)."""

MAX_REASON = 500


def status_on(status: str, expires_on: str, today: date) -> str:
    """Status as a verifier sees it on a calendar day: revoked > suspended > expired."""
    if status in (REVOKED, SUSPENDED):
        return status
    if today > date.fromisoformat(expires_on):
        return EXPIRED
    return ACTIVE


def clean_reason(reason: str, *, required: bool) -> str:
    """The reason as recorded (trimmed); InvalidInput when required and empty, or too long."""
    text = (reason or "").strip()
    if required and not text:
        raise InvalidInput("a reason is required")
    if len(text) > MAX_REASON:
        raise InvalidInput(f"reason longer than {MAX_REASON} characters")
    return text
