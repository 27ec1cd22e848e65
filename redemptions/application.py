"""The Redemptions application: record a redemption once, within the limit, race-free.

Every command is: load the counter, decide, save the counter's new event and the new
redemption together (one `save`, one transaction). A lost race on the counter is retried;
a collision on the redemption id means it was already recorded, and its first answer is
returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from redemptions.domain import (
    LimitReached,
    Redemption,
    RequestKey,
    UsageCounter,
    benefit_key,
    period_of,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_ATTEMPTS = 200


@dataclass(frozen=True)
class Grant:
    """What a merchant asks to record: the card, the benefit as the verdict gave it (its
    publishing region and limit), when, and with how many companions."""

    merchant_id: str
    merchant_name: str
    merchant_kind: str
    merchant_region: str
    card_id: str
    card_region: str
    benefit_id: str
    benefit_region: str
    limit_count: int | None
    limit_per: str | None
    companions: int
    redeemed_at: datetime
    verification_id: str | None = None
    counter_unused: bool = False
    """The verdict saw no use of this benefit in its period: the first attempt creates the
    counter without reading it (one event-store read fewer for the common first use). A
    hint only: where the counter exists after all, the save collides and the next attempt
    reads it, so a wrong hint costs a retry and never a count."""

    @property
    def key(self) -> str:
        return benefit_key(self.benefit_region, self.benefit_id)

    def identity(self) -> str:
        if self.verification_id is not None:
            return Redemption.online_identity(self.verification_id, self.benefit_id)
        return Redemption.offline_identity(self.merchant_id, self.card_id, self.key, self.stamp)

    @property
    def stamp(self) -> str:
        return self.redeemed_at.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class Outcome:
    redemption: Redemption
    first: bool
    """False when this answers an earlier recording of the same redemption."""


class AlreadyRedeemed(Exception):
    """That verification already redeemed that benefit (409 `already_redeemed`)."""

    def __init__(self, redemption: Redemption) -> None:
        super().__init__(f"redemption {redemption.id} was already recorded")
        self.redemption = redemption


class KeyReused(Exception):
    """The Idempotency-Key was sent before with another body (422 `idempotency_mismatch`)."""


def shanghai(moment: datetime) -> datetime:
    return moment.astimezone(SHANGHAI)


class Redemptions(Application[UUID]):
    name = "Redemptions"
    is_snapshotting_enabled = False

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env=env)

    def _get(self, aggregate_id: UUID) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def redemption(self, redemption_id: UUID) -> Redemption | None:
        found = self._get(redemption_id)
        return found if isinstance(found, Redemption) else None

    def _refuse_recorded(self, redemption_id: UUID) -> None:
        existing = self.redemption(redemption_id)
        if existing is not None:
            raise AlreadyRedeemed(existing)

    @staticmethod
    def _new_redemption(
        grant: Grant, identity: str, local: datetime, status: str, remaining: int | None
    ) -> Redemption:
        return Redemption(
            identity=identity,
            merchant_id=grant.merchant_id,
            merchant_name=grant.merchant_name,
            merchant_kind=grant.merchant_kind,
            merchant_region=grant.merchant_region,
            card_id=grant.card_id,
            card_region=grant.card_region,
            benefit_id=grant.benefit_id,
            benefit_region=grant.benefit_region,
            companions=grant.companions,
            redeemed_at=grant.stamp,
            day=local.date().isoformat(),
            verification_id=grant.verification_id,
            status=status,
            remaining=remaining,
        )

    def request_key(self, scope: str) -> RequestKey | None:
        found = self._get(RequestKey.create_id(scope))
        return found if isinstance(found, RequestKey) else None

    def _replayed(self, scope: str, digest: str) -> Redemption | None:
        """The redemption this Idempotency-Key made (None: the key is new); KeyReused when
        it came with another body."""
        used = self.request_key(scope)
        if used is None:
            return None
        if used.digest != digest:
            raise KeyReused(f"Idempotency-Key {scope!r} reused with another body")
        return self.redemption(used.redemption_id)

    def redeem(
        self,
        grant: Grant,
        *,
        offline: bool = False,
        request: tuple[str, str] | None = None,
    ) -> Outcome:
        """Record `grant` once. Online: raises AlreadyRedeemed (checked first) or
        LimitReached. Offline: records past the limit as `over_limit`; a replay answers the
        first recording (`first` False). `request`: the (scope, body digest) of the
        Idempotency-Key, recorded with the redemption; the same key again answers the
        redemption it made (even when it races the first request), or raises KeyReused
        for another body."""
        identity = grant.identity()
        redemption_id = Redemption.create_id(identity)
        local = shanghai(grant.redeemed_at)
        for attempt in range(MAX_ATTEMPTS):
            if request is not None:
                replayed = self._replayed(*request)
                if replayed is not None:
                    return Outcome(replayed, first=False)
            pending: list[Any] = []
            status, remaining = "recorded", None
            if grant.limit_count is not None and grant.limit_per is not None:
                period = period_of(grant.limit_per, local)
                counter_id = UsageCounter.create_id(grant.card_id, grant.key, period)
                counter = None if attempt == 0 and grant.counter_unused else self._get(counter_id)
                if not isinstance(counter, UsageCounter):
                    counter = UsageCounter(card_id=grant.card_id, key=grant.key, period=period)
                try:
                    over = counter.use(redemption_id, grant.limit_count, force=offline)
                except LimitReached:
                    self._refuse_recorded(redemption_id)  # already_redeemed comes first
                    raise
                status = "over_limit" if over else "recorded"
                remaining = max(0, grant.limit_count - counter.used)
                pending.append(counter)
            redemption = self._new_redemption(grant, identity, local, status, remaining)
            pending.append(redemption)
            if request is not None:
                pending.append(
                    RequestKey(
                        scope=request[0],
                        digest=request[1],
                        redemption_id=redemption_id,
                        at=grant.stamp,
                    )
                )
            try:
                self.save(*pending)
            except IntegrityError:
                # The redemption exists (a retry, a replay) or a concurrent writer won the
                # counter: look which, and answer or re-read. A retry racing its original
                # under the same Idempotency-Key finds the key saved: the next turn of the
                # loop answers the first 201 (or refuses another body), not 409.
                if request is not None and self.request_key(request[0]) is not None:
                    continue
                existing = self.redemption(redemption_id)
                if existing is not None:
                    if offline:
                        return Outcome(existing, first=False)
                    raise AlreadyRedeemed(existing) from None
                continue
            return Outcome(redemption, first=True)
        raise LimitReached("too many concurrent redemptions; try again")
