"""Verify latency with limits ÷ without (part 2 of `bench.redemptions`), on PostgreSQL.

One merchant's region publishes 20 limited benefits (one a day, one a month, the rest ten
a month), another's the same benefits without limits; the same cards are verified at
both (`MerchantApi.adecide` on an event loop, the route's path). The cards carry the
counter history real ones build up: half have used the daily benefit every day for a
year and the monthly one every month (377 counter rows each), a quarter redeemed today
through the service, a quarter never. The history rows are written straight into the
counter view (what its fold of a year of redemptions would leave there; replaying 37k
redemptions through the application would take the benchmark's whole budget).

The two cases alternate request by request (which of them goes first alternating too),
so a burst of load from elsewhere on a shared machine falls on both alike; the figures are
medians over every sample, and the median of each round's ratio is reported beside them.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from bench.cluster import ACTOR
from bench.issuance import requests
from cardservice.bootstrap.write import WriteSide
from cardservice.clock import SHANGHAI, SystemClock
from cardservice.settings import Settings
from cardservice.storage import Database
from projections.service import runners_for
from redemptions.domain import UsageCounter, period_of
from redemptions.views import CounterRow, CounterView

CARDS = 200
DAYS_OF_HISTORY = 365


def _benefits() -> list[dict[str, Any]]:
    limits = [{"count": 2, "per": "day"}, {"count": 4, "per": "month"}]
    return [
        {
            "id": f"b{k}",
            "title": f"优惠{k}",
            "partner": "合作方",
            "category": "dining",
            "discount": "半价",
            "holder_categories": ["veteran"],
            "limit": limits[k] if k < len(limits) else {"count": 10, "per": "month"},
            "companions": 1,
        }
        for k in range(20)
    ]


def _history(db: Database, card_ids: list[str], now: datetime) -> int:
    """A year of daily use of b0 and a year of monthly use of b1 per card, before today."""
    local = now.astimezone(SHANGHAI)
    day_periods = [
        period_of("day", local - timedelta(days=d)) for d in range(1, DAYS_OF_HISTORY + 1)
    ]
    month_periods = sorted(
        {period_of("month", local - timedelta(days=d)) for d in range(1, DAYS_OF_HISTORY + 1)}
        - {period_of("month", local)}
    )
    changes: dict[UUID, tuple[None, CounterRow]] = {}
    for card in card_ids:
        for key, periods in (("500112/b0", day_periods), ("500112/b1", month_periods)):
            for period in periods:
                cid = UsageCounter.create_id(card, key, period)
                changes[cid] = (None, CounterRow(str(cid), card, key, period, 1))
    view = CounterView()
    items = list(changes.items())
    for start in range(0, len(items), 5000):
        with db.transaction() as tx:
            view.store(tx, dict(items[start : start + 5000]))
    return len(changes)


def verify_latency(
    settings: Settings, seconds: float, rounds: int, cards: int = CARDS
) -> dict[str, Any]:
    svc = WriteSide.build(settings, SystemClock())
    try:
        svc.ledger.keyring()
        merchant = svc.catalog.register_merchant(
            name="压测商户", region="500112", kind="merchant", categories=["dining"],
            a_level=None, require_device_binding=False, actor=ACTOR,
        )  # fmt: skip
        other = svc.catalog.register_merchant(
            name="压测商户2", region="500101", kind="merchant", categories=["dining"],
            a_level=None, require_device_binding=False, actor=ACTOR,
        )  # fmt: skip
        limited = _benefits()
        plain = [{k: v for k, v in b.items() if k not in ("limit", "companions")} for b in limited]
        today = (datetime.now(UTC) + timedelta(hours=8)).date().isoformat()
        svc.catalog.publish_catalog("500112", today, limited, actor=ACTOR)
        svc.catalog.publish_catalog("500100", today, plain, actor=ACTOR)
        outcomes = svc.ledger.issue_cards_bulk(requests(0, cards), ACTOR, source="bench")
        issued = [svc.ledger.card(o.card_id) for o in outcomes if o.card_id is not None]
        qrs = [svc.ledger.credential_for(card) for card in issued]
        for runner in runners_for(svc.sources()):
            runner.setup()
            runner.catch_up()
        api = svc.read.merchant_api
        with_limits = api.authenticate(merchant.api_key)
        without = api.authenticate(other.api_key)
        assert with_limits is not None and without is not None
        v1, _ = api.decide(with_limits, qrs[0])
        v2, _ = api.decide(without, qrs[0])
        assert v1["benefits"] and v1["benefits"][0]["remaining"] == 2, v1
        assert v2["benefits"] and v2["benefits"][0]["remaining"] is None, v2
        heavy = [str(card.id) for card in issued[: cards // 2]]
        history = _history(svc.db, heavy, datetime.now(UTC))
        # A quarter of the cards redeemed b0 today, through the service.
        for qr in qrs[cards // 2 : cards * 3 // 4]:
            verdict, record = api.decide(with_limits, qr)
            api.desk.remember(record)
            api.desk.redeem(with_limits, verdict["verification_id"], "b0", 0)
        with svc.db.transaction() as tx:
            tx.execute("ANALYZE view_redemption_counters")
        checked, _ = api.decide(with_limits, qrs[0])
        assert [b["remaining"] for b in checked["benefits"][:2]] == [2, 4], checked
        _wait_remaining(api, with_limits, qrs[cards * 3 // 4 - 1], [1, 4])  # the view lags

        loop = asyncio.new_event_loop()

        def once(who: Any, qr: str) -> float:
            began = time.perf_counter()
            loop.run_until_complete(api.adecide(who, qr))
            return time.perf_counter() - began

        def alternate(duration: float, i: int) -> list[tuple[bool, float, float]]:
            """(a card with a year of history?, with limits, without) per request pair."""
            pairs = []
            end = time.perf_counter() + duration
            while time.perf_counter() < end:
                i += 1
                n = i % len(qrs)
                if i % 2:
                    a = once(with_limits, qrs[n])
                    b = once(without, qrs[n])
                else:
                    b = once(without, qrs[n])
                    a = once(with_limits, qrs[n])
                pairs.append((n < cards // 2, a, b))
            return pairs

        alternate(min(1.0, seconds), 0)  # warm the pools, caches and prepared statements
        samples: list[tuple[bool, float, float]] = []
        ratios = []
        for r in range(rounds):
            pairs = alternate(seconds, r * 7919)
            samples += pairs
            ratios.append(_ratio(pairs))
        loop.run_until_complete(api.cards.aclose())
        loop.close()
        api.close()
        heavy_pairs = [p for p in samples if p[0]]
        return {
            "with_limits_us": statistics.median(p[1] for p in samples) * 1e6,
            "without_us": statistics.median(p[2] for p in samples) * 1e6,
            "ratio": _ratio(samples),
            "round_ratios_median": statistics.median(ratios),
            "year_of_history_ratio": _ratio(heavy_pairs),
            "samples_per_case": len(samples),
            "history_counter_rows": history,
            "goal": "<= 1.10",
        }
    finally:
        svc.close()


def _wait_remaining(api: Any, merchant: Any, qr: str, want: list[int]) -> None:
    end = time.monotonic() + 30
    while True:
        verdict, _ = api.decide(merchant, qr)
        found = [b["remaining"] for b in verdict["benefits"][: len(want)]]
        if found == want:
            return
        assert time.monotonic() < end, verdict
        time.sleep(0.05)


def _ratio(pairs: list[tuple[bool, float, float]]) -> float:
    return statistics.median(p[1] for p in pairs) / statistics.median(p[2] for p in pairs)
