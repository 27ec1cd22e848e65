"""What a verdict shows as `remaining`: each cached eligibility decision's limited benefits
made ready once (their counter key, the period that counts, the count), then per verdict
the counts left from the counter view, and which counters it found unused (the hint a
redemption that follows can use)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from merchant_api.counters import Used
from redemptions.domain import benefit_key

PERIODS = ("day", "month", "year", "ever")
"""The order of `merchant_api.counters.current_periods`."""


@dataclass(frozen=True, slots=True)
class Counted:
    """A limited benefit of an eligibility decision, made ready for its verdicts."""

    index: int
    """Its position in the decision's benefits."""
    key: str
    """Its counter's benefit key, `{region}/{id}`."""
    period: int
    """Which of the verification's periods counts (an index into `PERIODS`)."""
    count: int


def shown_and_counted(
    benefits: list[dict[str, Any]],
) -> tuple[tuple[dict[str, Any], ...], tuple[Counted, ...]]:
    """Once per eligibility decision: its benefits as a verdict shows them, each with
    `remaining: None`, and what a verdict must count for its limited ones."""
    shown = tuple({**b, "remaining": None} for b in benefits)
    counted = tuple(
        Counted(i, benefit_key(str(b["region"]), str(b["id"])), PERIODS.index(b["limit"]["per"]),
                int(b["limit"]["count"]))
        for i, b in enumerate(benefits)
        if b.get("limit")
    )  # fmt: skip
    return shown, counted


def with_remaining(
    shown: tuple[dict[str, Any], ...],
    counted: tuple[Counted, ...],
    used: Used,
    periods: Sequence[str],
) -> list[dict[str, Any]]:
    """The verdict's benefits, each limited one with `remaining` from the counter view in
    the verification's `periods` (copies of those: the decision is shared by every
    verdict it was cached for; the unlimited ones are shown as the decision holds them)."""
    out = list(shown)
    for c in counted:
        spent = used.get((c.key, periods[c.period]), 0)
        out[c.index] = {**shown[c.index], "remaining": max(0, c.count - spent)}
    return out


def unused_of(counted: tuple[Counted, ...], used: Used, periods: Sequence[str]) -> frozenset[str]:
    """The counter keys of `counted` with no use in the verification's periods."""
    return frozenset(c.key for c in counted if not used.get((c.key, periods[c.period])))
