"""`GET /web/policy.json`: the contract's facts for the pages, from their one Python home.

The pages' scripts read categories, verdict statuses, status-list codes, the time zone and
the policy numbers from here (the offline verifier keeps the copy it was set up with), so
JavaScript never re-types them. The numbers are this deployment's settings.
"""

from __future__ import annotations

from typing import Any

from cardservice.domain.policy import (
    CLOCK_SKEW_SECONDS,
    HOLDER_CATEGORIES,
    PRESENTATION_REFRESH_SECONDS,
    PRESENTATION_WINDOW_SECONDS,
    STATUS_LIST_CODES,
    TIME_ZONE,
)
from cardservice.settings import Settings
from merchant_api.core import STATUSES


def policy_document(settings: Settings) -> dict[str, Any]:
    return policy_with(settings.clock_skew_seconds, settings.presentation_window_seconds)


def policy_with(
    clock_skew_seconds: int = CLOCK_SKEW_SECONDS,
    presentation_window_seconds: int = PRESENTATION_WINDOW_SECONDS,
) -> dict[str, Any]:
    """The document for these numbers (the defaults: what the shared test vectors use)."""
    return {
        "holder_categories": list(HOLDER_CATEGORIES),
        "verdict_statuses": list(STATUSES),
        "status_list_codes": dict(STATUS_LIST_CODES),
        "time_zone": TIME_ZONE,
        "clock_skew_seconds": clock_skew_seconds,
        "presentation_window_seconds": presentation_window_seconds,
        "presentation_refresh_seconds": PRESENTATION_REFRESH_SECONDS,
    }
