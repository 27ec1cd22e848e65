"""The catalog and audit folds without storage: date ranges equal the per-day fold, events
fold into histories, the merchant seam decides current and scheduled benefits."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import reduce
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardservice.domain.access import AdminToken
from cardservice.domain.benefits import Benefit
from cardservice.domain.cards import Card
from cardservice.domain.catalog import RegionCatalog
from cardservice.domain.catalog_versions import (
    CatalogVersion,
    effective_benefits,
    upcoming_benefits,
    versions_in_force,
)
from merchant_api.catalog import catalog_for, decide_benefits
from projections.audit import apply_audit, region_path
from projections.catalog import (
    EMPTY_ENTRY,
    CatalogEntry,
    apply_catalog,
    benefit_dict,
    chain_of,
    effective_ranges,
    upcoming_dict,
)
from projections.view import ProjectionError

T0 = datetime(2026, 6, 1, 2, tzinfo=UTC)
WHO = {"kind": "admin", "id": "tok", "role": "admin", "region": "500000"}
CHAIN = ("000000", "500000", "500112")
DAY0 = date(2026, 5, 1)


def benefit(id: str, **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": id,
        "title": f"优惠{id}",
        "partner": "合作方",
        "category": "scenic",
        "discount": "免票",
        "holder_categories": ["veteran"],
        "local_only": False,
        "merchant_categories": [],
        "min_a_level": None,
        "limit": None,
        "companions": 0,
    }
    data.update(over)
    return data


# -- effective ranges ---------------------------------------------------------------------------
version_specs = st.lists(
    st.tuples(
        st.integers(0, 2),  # region index along CHAIN
        st.integers(0, 60),  # effective_from, days after DAY0
        st.lists(st.sampled_from("abcd"), unique=True, max_size=3),
        st.lists(st.sampled_from("abcd"), unique=True, max_size=2),
        st.sampled_from(["免票", "半价"]),
    ),
    max_size=8,
)


def histories_from(specs: list[Any]) -> list[list[CatalogVersion]]:
    chains: list[list[CatalogVersion]] = [[] for _ in CHAIN]
    for n, (level, offset, ids, gone, discount) in enumerate(specs):
        history = chains[level]
        history.append(
            CatalogVersion(
                region=CHAIN[level],
                number=len(history) + 1,
                effective_from=DAY0 + timedelta(days=offset),
                published_at=T0 + timedelta(minutes=n),
                benefits=tuple(Benefit.from_dict(benefit(i, discount=discount)) for i in ids),
                withdrawn=tuple(i for i in gone if i not in ids),
            )
        )
    return chains


@settings(max_examples=300, deadline=None)
@given(version_specs, st.integers(-5, 70))
def test_the_range_holding_a_day_is_the_fold_on_that_day(specs: list[Any], offset: int) -> None:
    chains = histories_from(specs)
    day = DAY0 + timedelta(days=offset)
    ranges = effective_ranges(chains)
    holding = [
        r for r in ranges if r.valid_from <= day and (r.valid_until is None or day < r.valid_until)
    ]
    assert len(holding) == 1
    (found,) = holding
    assert list(found.benefits) == effective_benefits(chains, day)
    assert list(found.upcoming) == upcoming_benefits(chains, day)
    assert dict(found.versions) == versions_in_force(chains, day)


@settings(max_examples=100, deadline=None)
@given(version_specs)
def test_ranges_tile_all_time_without_repeating_themselves(specs: list[Any]) -> None:
    ranges = effective_ranges(histories_from(specs))
    assert ranges[0].valid_from == date.min
    assert ranges[-1].valid_until is None
    for before, after in pairwise(ranges):
        assert before.valid_until == after.valid_from
        assert not before.same_content(after)


def test_no_versions_is_one_empty_range() -> None:
    (only,) = effective_ranges([[], [], []])
    assert (only.benefits, only.upcoming, dict(only.versions)) == ((), (), {})


# -- the fold of RegionCatalog events -----------------------------------------------------------
def published(region: str, *versions: tuple[str, list[dict[str, Any]]]) -> list[Any]:
    catalog = RegionCatalog(region)
    for n, (effective_from, items) in enumerate(versions):
        catalog.publish(
            effective_from, items, published_at=T0 + timedelta(hours=n), actor=WHO, withdrawn=()
        )
    return list(catalog.collect_events())


def test_events_fold_into_the_region_history() -> None:
    events = published("500112", ("2026-05-01", [benefit("a")]), ("2026-07-01", [benefit("b")]))
    state = reduce(apply_catalog, events, None)
    assert state is not None
    assert state.region == "500112"
    assert [(v.number, v.effective_from.isoformat()) for v in state.versions] == [
        (1, "2026-05-01"),
        (2, "2026-07-01"),
    ]
    assert state.versions[1].benefits[0].id == "b"
    # Applying a version again (a replayed window) changes nothing.
    assert apply_catalog(state, events[-1]) == state


def test_a_version_of_an_unknown_catalog_is_an_error() -> None:
    events = published("500112", ("2026-05-01", [benefit("a")]))
    with pytest.raises(ProjectionError):
        apply_catalog(None, events[-1])


def test_unknown_codes_still_have_a_chain() -> None:
    assert chain_of("500112") == ["500112", "500100", "500000", "000000"]
    assert chain_of("999999") == ["999999", "000000"]
    assert chain_of("000000") == ["000000"]


# -- the audit fold -------------------------------------------------------------------------------
def test_audit_remembers_a_cards_region_for_later_events() -> None:
    card = Card(
        card_id=uuid.uuid4(),
        holder_id=uuid.uuid4(),
        card_number="500112202600000017",
        category="veteran",
        region="500112",
        masked_name="张*明",
        issued_at=T0,
        expires_on="2036-06-01",
        status_index=1,
        kid="k",
        actor=WHO,
        command_id="",
        request_digest="",
    )
    card.suspend("lost", WHO, T0 + timedelta(minutes=1))
    issued, suspended = card.collect_events()
    state = apply_audit(None, issued)
    state = apply_audit(replace(state, entries=()), suspended)  # as loaded back
    (entry,) = state.entries
    assert (entry.type, entry.region, entry.reason) == ("Card.Suspended", "500112", "lost")
    assert entry.card_id == str(card.id)
    assert entry.actor == WHO


def test_audit_keeps_secrets_out_of_the_details() -> None:
    token = AdminToken(token_hash="h" * 64, role="issuer", region="500112", actor=WHO, at=T0)
    state = apply_audit(None, token.collect_events()[0])
    (entry,) = state.entries
    assert entry.details == {"role": "issuer"}
    assert entry.region == "500112"


def test_region_paths_make_subtrees_prefixes() -> None:
    assert region_path("500112") == "000000/500000/500100/500112/"
    assert region_path("500112").startswith(region_path("500000"))
    assert not region_path("110101").startswith(region_path("500000"))


# -- the merchant seam -------------------------------------------------------------------------
def placed(item: dict[str, Any], region: str, version: int = 1) -> dict[str, Any]:
    return {**item, "region": region, "version": version}


def test_scheduled_benefits_are_not_yet_effective_unless_a_rule_fails_first() -> None:
    current = [placed(benefit("now"), "500112")]
    upcoming = [
        {**placed(benefit("later"), "500112", 2), "effective_from": "2026-07-01"},
        {**placed(benefit("never", holder_categories=["martyr_family"]), "500112", 2)}
        | {"effective_from": "2026-07-01"},
        {**placed(benefit("elsewhere"), "110101", 1), "effective_from": "2026-07-01"},
    ]
    decision = decide_benefits(
        current,
        upcoming=upcoming,
        holder_category="veteran",
        card_region="500112",
        merchant_region="500112",
        merchant_categories=["scenic"],
        merchant_a_level=4,
    )
    assert [b["id"] for b in decision.benefits] == ["now"]
    assert "effective_from" not in decision.benefits[0]
    reasons = {n["id"]: n["reason"] for n in decision.not_applicable}
    assert reasons == {"later": "not_yet_effective", "never": "holder_category"}
    later = next(n for n in decision.not_applicable if n["id"] == "later")
    assert "2026-07-01" in later["message"] and "2026-07-01" in later["message_en"]


class OneEntry:
    """A catalog source answering one entry (the view's reader has the same two reads)."""

    def __init__(self, entry: CatalogEntry) -> None:
        self._entry = entry

    def entry(self, region: str, day: date) -> CatalogEntry:
        return self._entry

    def lookup(self, region: str, day: date) -> tuple[list[Any], dict[str, int]]:
        return self._entry.benefits, self._entry.versions


def test_the_seam_reads_one_view_entry_with_its_upcoming_benefits() -> None:
    later = {**placed(benefit("b"), "500000"), "effective_from": "2026-07-01"}
    entry = CatalogEntry([placed(benefit("a"), "000000")], [later], {"000000": 3})
    answer = catalog_for(OneEntry(entry), "500112", DAY0)
    assert (answer.benefits, answer.upcoming, answer.versions) == (
        entry.benefits,
        [later],
        {"000000": 3},
    )
    none = catalog_for(OneEntry(EMPTY_ENTRY), "500112", DAY0)
    assert (none.benefits, none.upcoming, none.versions) == ([], [], {})
    assert EMPTY_ENTRY.benefits == []


def test_benefit_dicts_have_the_contract_shape() -> None:
    chains = histories_from([(2, 0, ["a"], [], "免票"), (2, 30, ["a", "b"], [], "半价")])
    (item,) = effective_benefits(chains, DAY0)
    assert benefit_dict(item) == placed(benefit("a"), "500112")
    (later,) = upcoming_benefits(chains, DAY0)
    assert upcoming_dict(later)["effective_from"] == (DAY0 + timedelta(days=30)).isoformat()
