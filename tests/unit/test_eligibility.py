"""Eligibility at a merchant: each reason, in the contract's order, with the real region table."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardservice.domain.benefits import Benefit
from cardservice.domain.catalog_versions import (
    CatalogVersion,
    EffectiveBenefit,
    effective_benefits,
    upcoming_benefits,
)
from cardservice.domain.eligibility import (
    A_LEVEL,
    HOLDER_CATEGORY,
    LOCAL_ONLY,
    MERCHANT_CATEGORY,
    NOT_YET_EFFECTIVE,
    NotApplicable,
    evaluate,
    not_yet_effective,
)
from cardservice.domain.policy import HOLDER_CATEGORIES
from cardservice.domain.regions import regions

TABLE = regions()
TODAY = date(2026, 6, 1)
T0 = datetime(2026, 5, 1, tzinfo=UTC)
ALL = list(HOLDER_CATEGORIES)


def item(region: str, id: str, **over: Any) -> EffectiveBenefit:
    data: dict[str, Any] = {
        "id": id,
        "title": f"优惠 {id}",
        "partner": "合作方",
        "category": "scenic",
        "discount": "免票",
        "holder_categories": ALL,
    }
    data.update(over)
    return EffectiveBenefit(Benefit.from_dict(data), region, 1, date(2026, 1, 1))


def run(
    benefits: list[EffectiveBenefit],
    *,
    holder: str = "veteran",
    card_region: str = "500112",
    merchant_region: str = "500112",
    categories: list[str] | None = None,
    a_level: int | None = 4,
) -> tuple[list[str], dict[str, NotApplicable]]:
    ok, refused = evaluate(
        benefits,
        holder,
        card_region,
        merchant_region,
        ["scenic"] if categories is None else categories,
        a_level,
        TABLE.is_within,
        region_name=TABLE.full_name,
    )
    return [b.id for b in ok], {r.id: r for r in refused}


# The demo's Yubei scenic site: a 4A site in 500112 with a local-only family benefit.
YUBEI_SCENIC = item(
    "500112", "yubei-scenic-family", local_only=True, min_a_level=3, merchant_categories=["scenic"]
)
NATIONAL_SCENIC = item("000000", "scenic-free", min_a_level=1, merchant_categories=["scenic"])


def test_local_card_at_the_yubei_scenic_site() -> None:
    ok, refused = run([NATIONAL_SCENIC, YUBEI_SCENIC], card_region="500112")
    assert ok == ["scenic-free", "yubei-scenic-family"]
    assert refused == {}


def test_out_of_region_card_at_the_same_site_is_told_why() -> None:
    ok, refused = run([NATIONAL_SCENIC, YUBEI_SCENIC], card_region="500103")
    assert ok == ["scenic-free"]
    why = refused["yubei-scenic-family"]
    assert why.reason == LOCAL_ONLY
    assert why.message == "本优惠仅限重庆市渝北区发证的优待证，此卡由重庆市渝中区签发"
    assert "only for cards issued in 重庆市渝北区 (500112)" in why.message_en
    assert "issued in 重庆市渝中区 (500103)" in why.message_en
    assert why.to_dict()["reason"] == "local_only" and why.region == "500112"


def test_local_only_accepts_the_whole_subtree_of_the_publisher() -> None:
    chongqing_bus = item("500000", "cq-bus", local_only=True, merchant_categories=["bus"])
    for card_region in ("500000", "500112", "500229"):
        ok, _ = run([chongqing_bus], card_region=card_region, categories=["bus"])
        assert ok == ["cq-bus"]
    ok, refused = run([chongqing_bus], card_region="110101", categories=["bus"])
    assert ok == [] and refused["cq-bus"].reason == LOCAL_ONLY
    assert "北京市东城区" in refused["cq-bus"].message


def test_holder_category() -> None:
    clinic = item("500112", "yubei-clinic", holder_categories=["veteran", "disabled_veteran"])
    ok, refused = run([clinic], holder="martyr_family")
    assert ok == []
    assert refused["yubei-clinic"].reason == HOLDER_CATEGORY
    assert refused["yubei-clinic"].message == (
        "本优惠仅适用于退役军人、残疾军人，此卡持有人类别为烈士遗属"
    )
    assert run([clinic], holder="disabled_veteran")[0] == ["yubei-clinic"]


def test_merchant_category_empty_means_any() -> None:
    anywhere = item("000000", "anywhere", merchant_categories=[])
    fuel = item("000000", "fuel", merchant_categories=["fuel", "shopping"])
    ok, refused = run([anywhere, fuel], categories=["scenic"])
    assert ok == ["anywhere"]
    assert refused["fuel"].reason == MERCHANT_CATEGORY
    assert "fuel" in refused["fuel"].message
    assert run([anywhere, fuel], categories=["shopping", "dining"])[0] == ["anywhere", "fuel"]
    assert run([anywhere], categories=[])[0] == ["anywhere"]


@pytest.mark.parametrize(
    ("a_level", "applies", "text"),
    [(5, True, ""), (3, True, ""), (2, False, "本景区为2A级"), (None, False, "不是A级景区")],
)
def test_a_level(a_level: int | None, applies: bool, text: str) -> None:
    benefit = item("500000", "cq-3a", min_a_level=3)
    ok, refused = run([benefit], a_level=a_level)
    assert (ok == ["cq-3a"]) is applies
    if not applies:
        assert refused["cq-3a"].reason == A_LEVEL
        assert text in refused["cq-3a"].message
        assert refused["cq-3a"].message.startswith("本优惠仅适用于3A级及以上旅游景区")


def test_no_min_a_level_applies_without_a_level() -> None:
    assert run([item("000000", "x")], a_level=None)[0] == ["x"]


def test_first_failing_rule_wins() -> None:
    everything_wrong = item(
        "500112",
        "strict",
        holder_categories=["veteran"],
        merchant_categories=["taxi"],
        min_a_level=5,
        local_only=True,
    )
    reasons = [
        run([everything_wrong], holder="active_family", card_region="110101", a_level=1),
        run([everything_wrong], holder="veteran", card_region="110101", a_level=1),
        run([everything_wrong], categories=["taxi"], card_region="110101", a_level=1),
        run([everything_wrong], categories=["taxi"], card_region="110101", a_level=5),
        run([everything_wrong], categories=["taxi"], card_region="500112", a_level=5),
    ]
    assert [refused.get("strict", None) and refused["strict"].reason for _, refused in reasons] == [
        HOLDER_CATEGORY,
        MERCHANT_CATEGORY,
        A_LEVEL,
        LOCAL_ONLY,
        None,
    ]


def test_benefits_outside_the_merchants_chain_are_left_out() -> None:
    beijing = item("110000", "bj")
    assert run([beijing], merchant_region="500112") == ([], {})


def test_unknown_region_name_falls_back_to_the_code() -> None:
    ok, refused = evaluate(
        [YUBEI_SCENIC],
        "veteran",
        "999999",
        "500112",
        ["scenic"],
        4,
        TABLE.is_within,
        region_name=TABLE.full_name,
    )
    assert ok == []
    assert refused[0].message == "本优惠仅限重庆市渝北区发证的优待证，此卡由999999签发"


def test_not_yet_effective_from_a_scheduled_version() -> None:
    current = CatalogVersion("500112", 1, date(2026, 5, 1), T0, (YUBEI_SCENIC.benefit,), ())
    taxi = Benefit.from_dict(
        {
            "id": "yubei-taxi",
            "title": "巡游出租车起步价优惠2元",
            "partner": "渝北区交通局",
            "category": "transport",
            "discount": "起步价减2元",
            "holder_categories": ALL,
            "local_only": True,
            "merchant_categories": ["taxi"],
        }
    )
    scheduled = CatalogVersion(
        "500112", 2, date(2026, 7, 1), T0 + timedelta(days=1), (YUBEI_SCENIC.benefit, taxi), ()
    )
    chains = [[], [], [current, scheduled]]
    assert [b.id for b in effective_benefits(chains, TODAY)] == ["yubei-scenic-family"]
    upcoming = upcoming_benefits(chains, TODAY)
    refused = not_yet_effective(upcoming)
    assert [(r.id, r.reason) for r in refused] == [("yubei-taxi", NOT_YET_EFFECTIVE)]
    assert refused[0].message == "本优惠自2026-07-01起生效，目前尚未生效"
    assert "2026-07-01" in refused[0].message_en
    # on its first day it is simply in force
    assert upcoming_benefits(chains, date(2026, 7, 1)) == []


@settings(max_examples=200, deadline=None)
@given(
    holder=st.sampled_from(ALL),
    holders=st.lists(st.sampled_from(ALL), min_size=1, unique=True),
    wanted=st.lists(st.sampled_from(["scenic", "bus", "taxi"]), unique=True),
    merchant=st.lists(st.sampled_from(["scenic", "bus", "taxi"]), unique=True),
    min_a=st.none() | st.integers(1, 5),
    a_level=st.none() | st.integers(1, 5),
    local=st.booleans(),
    card_region=st.sampled_from(["500112", "500103", "500229", "110101", "500000"]),
    publisher=st.sampled_from(["000000", "500000", "500100", "500112"]),
)
def test_rules_partition_the_chain(
    holder: str,
    holders: list[str],
    wanted: list[str],
    merchant: list[str],
    min_a: int | None,
    a_level: int | None,
    local: bool,
    card_region: str,
    publisher: str,
) -> None:
    """Every benefit lands in exactly one list, and applies exactly when all four rules hold."""
    b = item(
        publisher,
        "b",
        holder_categories=holders,
        merchant_categories=wanted,
        min_a_level=min_a,
        local_only=local,
    )
    ok, refused = run(
        [b], holder=holder, card_region=card_region, categories=merchant, a_level=a_level
    )
    applies = (
        holder in holders
        and (not wanted or bool(set(wanted) & set(merchant)))
        and (min_a is None or (a_level is not None and a_level >= min_a))
        and (not local or TABLE.is_within(card_region, publisher))
    )
    assert (ok == ["b"]) is applies
    assert (refused == {}) is applies
    if not applies:
        assert refused["b"].message and refused["b"].message_en
