"""Redemption aggregates and their folds, on real domain events (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from redemptions.domain import LimitReached, Redemption, UsageCounter, benefit_key, period_of
from redemptions.stats import RangeInvalid, Scope, code_prefix, settlement_csv
from redemptions.views import apply_counter, apply_redemption

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("utc", "per", "expected"),
    [
        # 15:59:59 UTC is 23:59:59 in Shanghai; 16:00 UTC is the next Shanghai day.
        (datetime(2026, 6, 1, 15, 59, 59, tzinfo=UTC), "day", "2026-06-01"),
        (datetime(2026, 6, 1, 16, 0, 0, tzinfo=UTC), "day", "2026-06-02"),
        (datetime(2026, 6, 30, 15, 59, 59, tzinfo=UTC), "month", "2026-06"),
        (datetime(2026, 6, 30, 16, 0, 0, tzinfo=UTC), "month", "2026-07"),
        (datetime(2026, 12, 31, 16, 0, 0, tzinfo=UTC), "year", "2027"),
        (datetime(2026, 2, 28, 16, 0, 0, tzinfo=UTC), "month", "2026-03"),
        (datetime(2030, 1, 1, tzinfo=UTC), "ever", "ever"),
    ],
)
def test_periods_are_shanghai_calendar_periods(utc: datetime, per: str, expected: str) -> None:
    assert period_of(per, utc.astimezone(SHANGHAI)) == expected


def test_unknown_period_is_refused() -> None:
    with pytest.raises(ValueError):
        period_of("week", datetime(2026, 1, 1, tzinfo=SHANGHAI))


def test_counter_ids_are_deterministic_and_distinct() -> None:
    key = benefit_key("500000", "meal")
    assert key == "500000/meal"
    a = UsageCounter.create_id("card", key, "2026-06-01")
    assert a == UsageCounter.create_id("card", key, "2026-06-01")
    assert a != UsageCounter.create_id("card", key, "2026-06-02")
    assert a != UsageCounter.create_id("card", "000000/meal", "2026-06-01")
    assert a != UsageCounter.create_id("other", key, "2026-06-01")


def test_counter_refuses_online_past_the_limit_and_records_offline_over_it() -> None:
    counter = UsageCounter(card_id="c", key="000000/meal", period="2026-06")
    rid = Redemption.create_id("x")
    assert counter.use(rid, 2) is False
    assert counter.use(rid, 2) is False
    with pytest.raises(LimitReached):
        counter.use(rid, 2)
    assert counter.used == 2
    assert counter.use(rid, 2, force=True) is True
    assert counter.used == 3
    state = None
    for event in counter.collect_events():
        state = apply_counter(state, event)
    assert state is not None and (state.used, state.period) == (3, "2026-06")


def test_redemption_fold() -> None:
    redemption = Redemption(
        identity=Redemption.online_identity("v1", "meal"),
        merchant_id="m",
        merchant_name="店",
        merchant_kind="merchant",
        merchant_region="500112",
        card_id="c",
        card_region="110101",
        benefit_id="meal",
        benefit_region="000000",
        companions=2,
        redeemed_at="2026-06-01T02:00:00+00:00",
        day="2026-06-01",
        verification_id="v1",
        status="recorded",
        remaining=1,
    )
    assert redemption.id == Redemption.create_id("redemption:v1:meal")
    (event,) = redemption.collect_events()
    row = apply_redemption(None, event)
    assert row is not None and (row.card_region, row.companions) == ("110101", 2)
    assert row.redemption_id == str(redemption.id)


def test_scope_ranges() -> None:
    from datetime import date

    assert len(Scope("500000", date(2025, 6, 2), date(2026, 6, 2)).days()) == 366
    with pytest.raises(RangeInvalid):
        Scope("500000", date(2025, 6, 1), date(2026, 6, 2))
    with pytest.raises(RangeInvalid):
        Scope("500000", date(2026, 6, 2), date(2026, 6, 1))
    assert code_prefix("000000") == "%"
    assert code_prefix("500000") == "50%"
    assert code_prefix("500100") == "5001%"
    assert code_prefix("500112") == "500112"


def test_settlement_csv_has_a_bom_and_lf_line_ends() -> None:
    data = settlement_csv([("500112", "110101", "meal", "000000", 3, 1)])
    assert (
        data
        == (
            "\ufeffmerchant_region,card_region,benefit_id,benefit_region,redemptions,companions\n"
            "500112,110101,meal,000000,3,1\n"
        ).encode()
    )
