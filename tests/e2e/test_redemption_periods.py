"""A verdict's `remaining` counts the periods the verification falls in, and only those:
a card's counters of earlier days, months and years stay in the view and change nothing
(both engines; the verdict reads them by (card, period)). And a card whose benefits at a
merchant carry no limit is answered without its counters, beside cards whose do."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from cardservice.clock import SHANGHAI, FrozenClock
from tests.merchant_support import MerchantEnv, build_env
from tests.redemption_support import (
    LIMITED,
    NATIONAL,
    benefit,
    publish,
    redeem,
    remaining,
    valid_verdict,
    wait_remaining,
)


@pytest.fixture
def env(backend: str, tmp_path: Path, clock: FrozenClock) -> Iterator[MerchantEnv]:
    yield from build_env(backend, tmp_path, clock)


def _noon(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 12, 0, tzinfo=SHANGHAI)


def _use(env: MerchantEnv, merchant: dict[str, str], qr: str, benefit_id: str) -> None:
    verdict = valid_verdict(env, qr, merchant, benefit_id)
    answer = redeem(env, merchant, verdict["verification_id"], benefit_id)
    assert answer.status_code == 201, answer.text


def test_counters_of_earlier_periods_do_not_count_against_remaining(env: MerchantEnv) -> None:
    publish(env, NATIONAL, LIMITED, "2026-01-01")
    merchant = env.merchant()
    card = env.issue()
    qr = card["qr"]
    # Across a month end and a year end: the daily benefit used up every day, the monthly
    # and yearly ones in each month and year, the lifetime one once.
    uses = {
        (2026, 12, 30): ["daily", "daily", "monthly", "yearly", "once"],
        (2026, 12, 31): ["daily", "daily"],
        (2027, 1, 1): ["daily", "daily", "monthly", "yearly"],
        (2027, 1, 2): ["daily", "daily"],
    }
    for day, benefits in uses.items():
        env.clock.set(_noon(*day))
        for benefit_id in benefits:
            _use(env, merchant, qr, benefit_id)
    wait_remaining(env, qr, merchant, "daily", 0)  # the view has every use

    env.clock.set(_noon(2027, 1, 3))
    verdict = valid_verdict(env, qr, merchant, "daily")
    left = {b: remaining(verdict, b) for b in ("daily", "monthly", "yearly", "once", "free")}
    assert left == {"daily": 2, "monthly": 0, "yearly": 0, "once": 0, "free": None}

    env.clock.set(_noon(2027, 2, 1))
    verdict = valid_verdict(env, qr, merchant, "daily")
    left = {b: remaining(verdict, b) for b in ("daily", "monthly", "yearly", "once")}
    assert left == {"daily": 2, "monthly": 1, "yearly": 0, "once": 0}

    # The earlier periods' counters are still in the view (4 days, 2 months, 2 years, ever).
    with env.svc.db.read() as tx:
        rows = tx.all(
            "SELECT benefit_key, period, used FROM view_redemption_counters WHERE card_id = ?",
            (card["card_id"],),
        )
    assert sorted((k.split("/")[1], p, int(u)) for k, p, u in rows) == [
        ("daily", "2026-12-30", 2),
        ("daily", "2026-12-31", 2),
        ("daily", "2027-01-01", 2),
        ("daily", "2027-01-02", 2),
        ("monthly", "2026-12", 1),
        ("monthly", "2027-01", 1),
        ("once", "ever", 1),
        ("yearly", "2026", 1),
        ("yearly", "2027", 1),
    ]


def test_the_counters_are_indexed_by_card_and_period(env: MerchantEnv) -> None:
    with env.svc.db.read() as tx:
        if tx.dialect == "postgres":
            found = tx.all(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename = 'view_redemption_counters'"
            )
        else:
            found = tx.all(
                "SELECT sql FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = 'view_redemption_counters' AND sql IS NOT NULL"
            )
    assert [d for (d,) in found if "(card_id, period)" in d], found
    assert not [d for (d,) in found if "(card_id)" in d], found  # its prefix went


def test_limits_of_one_holder_category_leave_another_unlimited(env: MerchantEnv) -> None:
    catalog = [
        benefit("meal", limit={"count": 1, "per": "day"}),  # veterans only
        benefit("free", holder_categories=["veteran", "martyr_family"]),
    ]
    publish(env, NATIONAL, catalog, "2026-01-01")
    merchant = env.merchant()
    veteran, family = env.issue(), env.issue(name="王建国", category="martyr_family")
    for _ in range(2):  # the decision made, then remembered
        verdict = valid_verdict(env, family["qr"], merchant, "free")
        assert [(b["id"], b["remaining"]) for b in verdict["benefits"]] == [("free", None)]
        assert [n["id"] for n in verdict["not_applicable"]] == ["meal"]
    _use(env, merchant, veteran["qr"], "meal")
    used_up = wait_remaining(env, veteran["qr"], merchant, "meal", 0)
    assert remaining(used_up, "free") is None
    verdict = valid_verdict(env, family["qr"], merchant, "free")
    assert [(b["id"], b["remaining"]) for b in verdict["benefits"]] == [("free", None)]
