"""The verdict's "unused" hint lets the first redemption of a period create its counter
without reading it. A hint is only that: on both engines, a stale one (the counter was
used meanwhile) still refuses past the limit online, records `over_limit` offline, and
of simultaneous hinted redemptions exactly the count succeed."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from cardservice.bootstrap.write import WriteSide
from redemptions.application import Grant, Redemptions
from redemptions.domain import LimitReached
from redemptions.service import RedemptionContext

AT = datetime(2026, 3, 14, 4, 0, tzinfo=UTC)


@pytest.fixture
def app(services: WriteSide) -> Iterator[Redemptions]:
    context = RedemptionContext(services.settings, services.db)
    context.setup()
    yield context.app
    context.close()


def grant(card: str, *, hint: bool, count: int = 1, offline: bool = False) -> Grant:
    return Grant(
        merchant_id="m1", merchant_name="商户", merchant_kind="merchant",
        merchant_region="500112", card_id=card, card_region="500112", benefit_id="meal",
        benefit_region="000000", limit_count=count, limit_per="day", companions=0,
        redeemed_at=AT, verification_id=None if offline else str(uuid.uuid4()),
        counter_unused=hint,
    )  # fmt: skip


def test_a_stale_hint_still_refuses_past_the_limit(app: Redemptions) -> None:
    first = app.redeem(grant("c1", hint=True))
    assert (first.first, first.redemption.status, first.redemption.remaining) == (
        True,
        "recorded",
        0,
    )
    with pytest.raises(LimitReached):
        app.redeem(grant("c1", hint=True))  # the verdict saw none: stale


def test_a_stale_hint_offline_records_over_the_limit(app: Redemptions) -> None:
    app.redeem(grant("c2", hint=True))
    late = app.redeem(grant("c2", hint=True, offline=True), offline=True)
    assert (late.first, late.redemption.status) == (True, "over_limit")


def test_simultaneous_hinted_redemptions_exactly_the_count(app: Redemptions) -> None:
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def attempt() -> None:
        start.wait()
        try:
            app.redeem(grant("c3", hint=True, count=3))
            outcome = "ok"
        except LimitReached:
            outcome = "limit_reached"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["limit_reached"] * 5 + ["ok"] * 3
