"""The redemption aggregates: a counter per (card, benefit, period) and one per redemption.

Both ids are deterministic. Two merchants redeeming the last use of a counter at once both
load version n and both try to write version n+1: the event store takes one, refuses the
other, and the loser re-reads a counter that is used up. A redemption's own id makes a
retried or replayed redemption collide with the first instead of counting twice.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

PERIODS = ("day", "month", "year", "ever")

# Fixed namespace: counter and redemption ids must be the same on every replica, forever.
NAMESPACE = UUID("3c0b6a9e-2f41-5d7a-8e13-9b5d6c2a7f10")


class LimitReached(Exception):
    """The period's count is used up (409 `limit_reached`)."""


def period_of(per: str, moment: datetime) -> str:
    """The calendar period `moment` falls in: `2026-06-01`, `2026-06`, `2026` or `ever`.

    `moment` must already be in Asia/Shanghai (the caller converts; the domain imports no
    zone database)."""
    if per == "day":
        return moment.strftime("%Y-%m-%d")
    if per == "month":
        return moment.strftime("%Y-%m")
    if per == "year":
        return moment.strftime("%Y")
    if per == "ever":
        return "ever"
    raise ValueError(f"unknown period {per!r}")


def benefit_key(region: str, benefit_id: str) -> str:
    """Counters are per benefit as published by its region: `{region}/{id}`."""
    return f"{region}/{benefit_id}"


class UsageCounter(Aggregate):
    """How many times one card used one benefit in one period. Invariant: `used` never
    exceeds the limit through an online redemption (offline ones are recorded regardless,
    as the contract asks, and marked over the limit)."""

    @staticmethod
    def create_id(card_id: str, key: str, period: str) -> UUID:
        return uuid5(NAMESPACE, f"counter:{card_id}:{key}:{period}")

    @event("Opened")
    def __init__(self, card_id: str, key: str, period: str) -> None:
        self.card_id = card_id
        self.key = key
        self.period = period
        self.used = 0

    def use(self, redemption_id: UUID, count: int, *, force: bool = False) -> bool:
        """Count one use; returns whether it went over the limit. Online (not `force`)
        refuses a use past `count`."""
        over = self.used >= count
        if over and not force:
            raise LimitReached(f"{self.key}: {count} per period already used")
        self._used(redemption_id=redemption_id, over_limit=over)
        return over

    @event("Used")
    def _used(self, redemption_id: UUID, over_limit: bool) -> None:
        self.used += 1


class Redemption(Aggregate):
    """One benefit given once: who granted it, to which card, of which region's benefit."""

    @staticmethod
    def create_id(identity: str) -> UUID:
        return uuid5(NAMESPACE, identity)

    @staticmethod
    def online_identity(verification_id: str, benefit_id: str) -> str:
        return f"redemption:{verification_id}:{benefit_id}"

    @staticmethod
    def offline_identity(merchant_id: str, card_id: str, key: str, redeemed_at: str) -> str:
        return f"offline:{merchant_id}:{card_id}:{key}:{redeemed_at}"

    @event("Recorded")
    def __init__(
        self,
        *,
        identity: str,
        merchant_id: str,
        merchant_name: str,
        merchant_kind: str,
        merchant_region: str,
        card_id: str,
        card_region: str,
        benefit_id: str,
        benefit_region: str,
        companions: int,
        redeemed_at: str,
        day: str,
        verification_id: str | None,
        status: str,
        remaining: int | None,
    ) -> None:
        self.merchant_id = merchant_id
        self.merchant_name = merchant_name
        self.merchant_kind = merchant_kind
        self.merchant_region = merchant_region
        self.card_id = card_id
        self.card_region = card_region
        self.benefit_id = benefit_id
        self.benefit_region = benefit_region
        self.companions = companions
        self.redeemed_at = redeemed_at
        self.day = day
        self.verification_id = verification_id
        self.status = status
        self.remaining = remaining


class RequestKey(Aggregate):
    """An `Idempotency-Key` a merchant sent with a redemption: the body's digest and the
    redemption it made, saved with that redemption (so a retry finds both or neither)."""

    @staticmethod
    def create_id(scope: str) -> UUID:
        return uuid5(NAMESPACE, f"request-key:{scope}")

    @event("Used")
    def __init__(self, scope: str, digest: str, redemption_id: UUID, at: str) -> None:
        self.scope = scope
        self.digest = digest
        self.redemption_id = redemption_id
        self.at = at
