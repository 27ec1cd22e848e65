"""Facts of the contract defined once, in Python, and served to the browser.

Issuance, verification, the views, the CLI and the pages all read these names; the pages
get them from `GET /web/policy.json` (cardservice.web.policy) and never re-type them.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

HOLDER_CATEGORIES: Final[tuple[str, ...]] = (
    "veteran",
    "martyr_family",
    "duty_death_family",
    "illness_death_family",
    "disabled_veteran",
    "active_family",
)
"""The contract's holder categories (exact strings)."""

TIME_ZONE: Final = "Asia/Shanghai"
"""Every contract date is a calendar date in this zone, whatever the server's own."""

CLOCK_SKEW_SECONDS: Final = 300
"""How far in the future a card's `iat` may be before it is `not_yet_valid` (default)."""

PRESENTATION_WINDOW_SECONDS: Final = 60
"""A PTP1 is fresh when `|now - t|` is at most this (default); else `stale_presentation`."""

PRESENTATION_REFRESH_SECONDS: Final = 30
"""The holder page makes a new PTP1 this often."""

STATUS_LIST_CODES: Final = MappingProxyType(
    {"active": 0, "suspended": 1, "revoked": 2, "superseded": 3}
)
"""The offline bundle's status list: 2 bits per status index, these codes."""

DEVICE_BINDINGS_PER_DAY: Final = 5
"""Device-key bindings (each one a reissue with a new status index) per card per day."""
