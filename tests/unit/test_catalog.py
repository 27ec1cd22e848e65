"""RegionCatalog: validation, versions, diffs and the bitemporal fold along the chain."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.application import Application
from hypothesis import given, settings
from hypothesis import strategies as st

from cardservice.domain.benefits import (
    Benefit,
    BenefitInvalid,
    parse_effective_from,
    validate_benefits,
)
from cardservice.domain.catalog import RegionCatalog
from cardservice.domain.catalog_versions import (
    CatalogVersion,
    diff_versions,
    effective_benefits,
    upcoming_benefits,
    version_in_force,
    versions_in_force,
    versions_with_diffs,
)
from cardservice.domain.errors import InvalidInput

ACTOR = {"kind": "admin", "id": "t", "role": "admin", "region": "000000"}
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def benefit(id: str, **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": id,
        "title": f"优惠 {id}",
        "partner": "合作方",
        "category": "scenic",
        "discount": "免票",
        "holder_categories": ["veteran"],
        "local_only": False,
        "merchant_categories": [],
    }
    data.update(over)
    return data


# -- validation ---------------------------------------------------------------------------------
def test_benefit_round_trip() -> None:
    raw = benefit("a", min_a_level=3, merchant_categories=["scenic"], local_only=True)
    raw.update(limit={"count": 2, "per": "month"}, companions=1)
    parsed = Benefit.from_dict(raw)
    assert parsed.to_dict() == raw
    assert Benefit.from_event(parsed.to_dict()) == parsed


def test_limit_and_companions_default_to_unlimited_and_none() -> None:
    parsed = Benefit.from_dict(benefit("a"))
    assert parsed.to_dict()["limit"] is None
    assert parsed.to_dict()["companions"] == 0
    # Events recorded before limits existed replay as unlimited.
    old = benefit("a", min_a_level=None)
    assert Benefit.from_event(old) == parsed


@pytest.mark.parametrize(
    "over",
    [
        {"limit": {"count": 0, "per": "day"}},
        {"limit": {"count": 1001, "per": "day"}},
        {"limit": {"count": True, "per": "day"}},
        {"limit": {"count": 1.0, "per": "day"}},
        {"limit": {"count": 1, "per": "week"}},
        {"limit": {"count": 1}},
        {"limit": {"count": 1, "per": "day", "extra": 1}},
        {"limit": [1, "day"]},
        {"companions": -1},
        {"companions": 11},
        {"companions": False},
        {"companions": "1"},
    ],
)
def test_hostile_limits_and_companions(over: dict[str, Any]) -> None:
    with pytest.raises(BenefitInvalid):
        Benefit.from_dict(benefit("a", **over))


def test_optional_fields_default() -> None:
    raw = benefit("a")
    del raw["local_only"], raw["merchant_categories"]
    parsed = Benefit.from_dict(raw)
    assert parsed.local_only is False
    assert parsed.merchant_categories == ()
    assert parsed.min_a_level is None


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (benefit("a", category="food"), "category"),
        (benefit("a", holder_categories=["soldier"]), "holder_categories"),
        (benefit("a", holder_categories=[]), "holder_categories"),
        (benefit("a", holder_categories="veteran"), "holder_categories"),
        (benefit("a", min_a_level=0), "min_a_level"),
        (benefit("a", min_a_level=6), "min_a_level"),
        (benefit("a", min_a_level=True), "min_a_level"),
        (benefit("a", min_a_level="5"), "min_a_level"),
        (benefit("a", local_only="yes"), "local_only"),
        (benefit("a", title=""), "title"),
        (benefit("a", title="   "), "title"),
        (benefit("a", title="x" * 101), "title"),
        (benefit("a", discount="x" * 201), "discount"),
        (benefit("a", partner="a\nb"), "partner"),
        (benefit("a", merchant_categories=["x" * 41]), "merchant_categories"),
        (benefit("a", merchant_categories=[1]), "merchant_categories"),
        (benefit("a", extra=1), "unknown field"),
        (benefit(""), "id"),
        (benefit("has space"), "id"),
        (benefit("x" * 65), "id"),
        ({"id": "a"}, "missing"),
        ("not an object", "object"),
    ],
)
def test_invalid_benefit(raw: Any, fragment: str) -> None:
    with pytest.raises(BenefitInvalid, match=fragment):
        validate_benefits([raw])


def test_ids_unique_within_a_version() -> None:
    with pytest.raises(BenefitInvalid, match=r"benefits\[1\]\.id: 'a' appears twice"):
        validate_benefits([benefit("a"), benefit("a", title="again")])


def test_benefit_invalid_is_a_422() -> None:
    assert issubclass(BenefitInvalid, InvalidInput)


@pytest.mark.parametrize("value", ["2026-13-01", "20260101", "2026-1-1", "", None, 20260101])
def test_effective_from_must_be_an_iso_date(value: object) -> None:
    with pytest.raises(BenefitInvalid, match="effective_from"):
        parse_effective_from(value)


# -- the aggregate ------------------------------------------------------------------------------
def test_publish_numbers_versions_and_replays() -> None:
    app: Application[Any] = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    catalog = RegionCatalog("500112")
    assert catalog.id == RegionCatalog.create_id("500112")
    assert RegionCatalog.create_id("500112") != RegionCatalog.create_id("500000")
    assert catalog.publish("2026-02-01", [benefit("a")], published_at=T0, actor=ACTOR) == 1
    assert (
        catalog.publish(
            date(2026, 3, 1),
            [benefit("a", title="改"), benefit("b")],
            published_at=T0 + timedelta(days=1),
            actor=ACTOR,
            withdrawn=["national-x"],
            command_id="cmd-2",
        )
        == 2
    )
    # a retried command records nothing new
    assert catalog.publish("2026-03-01", [], published_at=T0, actor=ACTOR, command_id="cmd-2") == 2
    app.save(catalog)
    loaded: Any = app.repository.get(RegionCatalog.create_id("500112"))
    assert isinstance(loaded, RegionCatalog)
    assert loaded.published_count == 2
    assert loaded.history == catalog.history
    assert loaded.latest is not None and loaded.latest.withdrawn == ("national-x",)
    assert loaded.history[0].effective_from == date(2026, 2, 1)
    assert loaded.command_ids == {"cmd-2": 2}


def test_invalid_version_records_nothing() -> None:
    catalog = RegionCatalog("500112")
    with pytest.raises(BenefitInvalid):
        catalog.publish("2026-02-01", [benefit("a"), benefit("a")], published_at=T0, actor=ACTOR)
    with pytest.raises(BenefitInvalid, match="withdrawn"):
        catalog.publish("2026-02-01", [benefit("a")], published_at=T0, actor=ACTOR, withdrawn=["a"])
    assert catalog.published_count == 0
    assert len(catalog.collect_events()) == 1  # Created only


# -- the fold -----------------------------------------------------------------------------------
def version(
    region: str,
    number: int,
    effective: date,
    ids: list[str] | dict[str, str],
    published: datetime | None = None,
    withdrawn: tuple[str, ...] = (),
) -> CatalogVersion:
    titles = ids if isinstance(ids, dict) else {i: f"t-{i}" for i in ids}
    return CatalogVersion(
        region=region,
        number=number,
        effective_from=effective,
        published_at=published or T0 + timedelta(hours=number),
        benefits=tuple(Benefit.from_dict(benefit(i, title=t)) for i, t in titles.items()),
        withdrawn=withdrawn,
    )


def view(items: list[Any]) -> dict[str, tuple[str, int, str]]:
    return {e.id: (e.region, e.version, e.benefit.title) for e in items}


def test_descendant_overrides_and_withdraws() -> None:
    national = [version("000000", 1, date(2026, 1, 1), ["rail", "bank", "scenic"])]
    chongqing = [
        version("500000", 1, date(2026, 1, 1), {"scenic": "重庆景区"}, withdrawn=("bank",))
    ]
    yubei = [version("500112", 1, date(2026, 1, 1), ["yubei-clinic"])]
    at = date(2026, 2, 1)
    got = effective_benefits([national, chongqing, yubei], at)
    assert [e.id for e in got] == ["rail", "scenic", "yubei-clinic"]
    assert view(got)["scenic"] == ("500000", 1, "重庆景区")
    assert got[0].to_dict()["region"] == "000000" and got[0].to_dict()["version"] == 1
    # a sibling district sees the national bank benefit withdrawn by Chongqing, not Yubei's
    assert [e.id for e in effective_benefits([national, chongqing, []], at)] == ["rail", "scenic"]
    assert versions_in_force([national, chongqing, yubei], at) == {
        "000000": 1,
        "500000": 1,
        "500112": 1,
    }


def test_nothing_before_the_first_version() -> None:
    history = [version("500112", 1, date(2026, 3, 1), ["a"])]
    assert effective_benefits([history], date(2026, 2, 28)) == []
    assert versions_in_force([history], date(2026, 2, 28)) == {}
    assert effective_benefits([[], []], date(2026, 2, 28)) == []


def test_scheduled_version_and_correction() -> None:
    v1 = version("500112", 1, date(2026, 1, 1), {"a": "v1"})
    v2 = version("500112", 2, date(2026, 3, 1), {"a": "v2", "b": "v2"})  # scheduled
    v3 = version("500112", 3, date(2026, 1, 1), {"a": "v3"})  # corrects v1, not v2
    history = [v1, v2, v3]
    assert view(effective_benefits([history], date(2026, 2, 1))) == {"a": ("500112", 3, "v3")}
    assert view(effective_benefits([history], date(2026, 3, 1)))["a"] == ("500112", 2, "v2")
    # bitemporal: on 2026-02-01, as published before v3 existed
    before_v3 = v3.published_at - timedelta(seconds=1)
    assert view(effective_benefits([history], date(2026, 2, 1), before_v3)) == {
        "a": ("500112", 1, "v1")
    }
    up = upcoming_benefits([history], date(2026, 2, 1))
    assert [(e.id, e.version, e.effective_from) for e in up] == [("b", 2, date(2026, 3, 1))]


def test_diffs() -> None:
    v1 = version("500112", 1, date(2026, 1, 1), {"a": "x", "b": "x"})
    v2 = version("500112", 2, date(2026, 2, 1), {"a": "changed", "c": "x"}, withdrawn=("n",))
    d = diff_versions(v1, v2)
    assert (d.added, d.removed, d.changed) == (("c",), ("b",), ("a",))
    assert d.withdrawn_added == ("n",)
    assert diff_versions(None, v1).added == ("a", "b")
    listed = versions_with_diffs([v2, v1])
    assert [(v.number, diff.to_dict()["added"]) for v, diff in listed] == [
        (1, ["a", "b"]),
        (2, ["c"]),
    ]


# -- the property ------------------------------------------------------------------------------
IDS = ["a", "b", "c", "d"]
CHAIN = ["000000", "500000", "500112"]
DAY0 = date(2026, 1, 1)


@st.composite
def histories(draw: st.DrawFn) -> list[list[CatalogVersion]]:
    """Random histories for the chain, each published in order at increasing times."""
    chains: list[list[CatalogVersion]] = []
    for region in CHAIN:
        count = draw(st.integers(0, 4))
        times = sorted(
            draw(st.lists(st.integers(0, 1000), min_size=count, max_size=count, unique=True))
        )
        history = []
        for n in range(1, count + 1):
            kept = draw(st.lists(st.sampled_from(IDS), unique=True, max_size=4))
            gone = draw(
                st.lists(st.sampled_from([i for i in IDS if i not in kept] or IDS), unique=True)
            )
            gone = [g for g in gone if g not in kept]
            history.append(
                version(
                    region,
                    n,
                    DAY0 + timedelta(days=draw(st.integers(0, 60))),
                    {i: f"{region}-v{n}-{i}" for i in kept},
                    published=T0 + timedelta(hours=times[n - 1]),
                    withdrawn=tuple(gone),
                )
            )
        chains.append(history)
    return chains


def reference(
    chains: list[list[CatalogVersion]], at: date, as_of: datetime | None
) -> dict[str, tuple[str, int, str]]:
    """Written independently of the fold: per id, the deepest region whose version in force
    mentions it decides (kept: that region's benefit; withdrawn: gone)."""
    in_force: list[CatalogVersion] = []
    for history in chains:
        seen = [v for v in history if as_of is None or v.published_at <= as_of]
        started = [v for v in seen if v.effective_from <= at]
        latest_day = max((v.effective_from for v in started), default=None)
        same_day = [v for v in started if v.effective_from == latest_day]
        if same_day:
            in_force.append(max(same_day, key=lambda v: v.published_at))
    out: dict[str, tuple[str, int, str]] = {}
    for benefit_id in IDS:
        for v in reversed(in_force):
            kept = {b.id: b for b in v.benefits}
            if benefit_id in kept:
                out[benefit_id] = (v.region, v.number, kept[benefit_id].title)
                break
            if benefit_id in v.withdrawn:
                break
    return out


@settings(max_examples=300, deadline=None)
@given(
    histories(),
    st.integers(-5, 70).map(lambda d: DAY0 + timedelta(days=d)),
    st.none() | st.integers(-1, 1001).map(lambda h: T0 + timedelta(hours=h)),
)
def test_fold_equals_latest_version_per_region(
    chains: list[list[CatalogVersion]], at: date, as_of: datetime | None
) -> None:
    got = effective_benefits(chains, at, as_of)
    assert len({e.id for e in got}) == len(got)
    assert view(got) == reference(chains, at, as_of)
    # as_of never shows a version published later
    if as_of is not None:
        assert all(
            next(
                v for h in chains for v in h if (v.region, v.number) == (e.region, e.version)
            ).published_at
            <= as_of
            for e in got
        )
        earlier = [[v for v in h if v.published_at <= as_of] for h in chains]
        assert view(effective_benefits(earlier, at)) == view(got)
    used = versions_in_force(chains, at, as_of)
    assert all(used[e.region] == e.version for e in got)
    for history in chains:
        current = version_in_force(history, at, as_of)
        assert (current is None) == (not history or history[0].region not in used)


@settings(max_examples=200, deadline=None)
@given(histories(), st.integers(0, 60).map(lambda d: DAY0 + timedelta(days=d)))
def test_later_versions_do_not_change_the_past(
    chains: list[list[CatalogVersion]], at: date
) -> None:
    """Publishing a version effective after `at` changes nothing at `at`."""
    before = view(effective_benefits(chains, at))
    last = chains[-1]
    extra = version(
        "500112",
        len(last) + 1,
        at + timedelta(days=1),
        {i: "future" for i in IDS},
        withdrawn=(),
    )
    assert view(effective_benefits([*chains[:-1], [*last, extra]], at)) == before
    upcoming = upcoming_benefits([*chains[:-1], [*last, extra]], at)
    assert {e.id for e in upcoming} == set(IDS) - set(before)
