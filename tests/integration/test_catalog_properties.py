"""The catalog's defining properties, on SQLite and PostgreSQL, through the application and
the projected view (hypothesis state machine: publish versions, move the clock, ask).

1. The effective catalog at any date equals folding, along the region chain (root first),
   the latest version of each region with `effective_from` <= that date (ties: the last
   published), descendants overriding ancestors by id and withdrawing by id.
2. `as_of` never shows a version published after it.

The reference fold below is written independently of `cardservice.domain.catalog_versions`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from cardservice.bootstrap.write import WriteSide
from cardservice.clock import FrozenClock
from cardservice.domain.actors import Actor
from cardservice.domain.catalog_versions import effective_benefits, versions_in_force
from cardservice.domain.regions import regions
from projections.catalog import CatalogReader, CatalogView
from projections.service import runners_for
from tests.conftest import make_settings

PUBLISHING = ("000000", "500000", "500100", "500112", "110000", "110101")
ASKED = (*PUBLISHING, "500103", "500113", "110102", "440305")
START = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
DAY0 = date(2026, 5, 1)
# Few distinct start dates, so versions share them (ties) and ranges meet at them.
OFFSETS = (0, 30, 31, 61)
EDGE_DAYS = tuple(sorted({DAY0 + timedelta(days=o + d) for o in OFFSETS for d in (-1, 0, 1)}))
EDGE_REGIONS = ("000000", "500112", "500103", "110101")
NATIONAL = Actor(kind="admin", id="prop", role="admin", region="000000")


@dataclass(frozen=True)
class Published:
    region: str
    number: int
    effective_from: date
    published_at: datetime
    benefits: tuple[tuple[str, str], ...]  # (id, discount)
    withdrawn: tuple[str, ...]


Answer = tuple[list[tuple[str, str, int, str]], list[tuple[str, str, int]], dict[str, int]]


def reference(published: list[Published], region: str, at: date, as_of: datetime | None) -> Answer:
    """(benefits as (id, region, version, discount), upcoming as (id, region, version),
    versions) by the rules in the module docstring, nothing shared with the code under test."""
    chain = list(reversed(regions().ancestors(region)))
    seen = [p for p in published if as_of is None or p.published_at <= as_of]
    folded: dict[str, tuple[str, str, int, str]] = {}
    versions: dict[str, int] = {}
    for code in chain:
        started = [p for p in seen if p.region == code and p.effective_from <= at]
        if not started:
            continue
        latest = max(started, key=lambda p: (p.effective_from, p.number))
        versions[code] = latest.number
        for gone in latest.withdrawn:
            folded.pop(gone, None)
        for benefit_id, discount in latest.benefits:
            folded[benefit_id] = (benefit_id, code, latest.number, discount)
    upcoming: dict[str, tuple[str, str, int]] = {}
    for code in chain:
        later = [p for p in seen if p.region == code and p.effective_from > at]
        if not later:
            continue
        first = min(later, key=lambda p: (p.effective_from, -p.number))
        for benefit_id, _ in first.benefits:
            if benefit_id not in folded:
                upcoming[benefit_id] = (benefit_id, code, first.number)
    return list(folded.values()), list(upcoming.values()), versions


def benefit_body(benefit_id: str, discount: str) -> dict[str, Any]:
    return {
        "id": benefit_id,
        "title": f"优惠{benefit_id}",
        "partner": "合作方",
        "category": "scenic",
        "discount": discount,
        "holder_categories": ["veteran"],
    }


def from_dicts(benefits: list[dict[str, Any]], upcoming: list[dict[str, Any]]) -> Any:
    return (
        [(b["id"], b["region"], b["version"], b["discount"]) for b in benefits],
        [(b["id"], b["region"], b["version"]) for b in upcoming],
    )


def make_machine(backend: str, tmp_path: Path) -> type[RuleBasedStateMachine]:
    class CatalogMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.settings, self.schema = make_settings(backend, tmp_path / uuid.uuid4().hex)
            self.clock = FrozenClock(START)
            self.svc = WriteSide.build(self.settings, self.clock)
            (self.runner,) = runners_for(self.svc.sources(), [CatalogView()])
            self.runner.setup()
            self.reader = CatalogReader(self.svc.db)
            self.published: list[Published] = []

        def teardown(self) -> None:
            self.svc.close()
            if self.schema is not None:
                self.schema.drop()

        @rule(
            region=st.sampled_from(PUBLISHING),
            offset=st.one_of(st.sampled_from(OFFSETS), st.integers(0, 90)),
            ids=st.lists(st.sampled_from("abcde"), unique=True, max_size=4),
            withdraw=st.lists(st.sampled_from("abcde"), unique=True, max_size=2),
            discount=st.sampled_from(["免票", "半价", "八折"]),
            pause=st.sampled_from([0, 1, 60, 86_400]),
        )
        def publish(
            self,
            region: str,
            offset: int,
            ids: list[str],
            withdraw: list[str],
            discount: str,
            pause: int,
        ) -> None:
            self.clock.advance(timedelta(seconds=pause))
            effective_from = DAY0 + timedelta(days=offset)
            withdrawn = [i for i in withdraw if i not in ids]
            number = self.svc.catalog.publish_catalog(
                region,
                effective_from.isoformat(),
                [benefit_body(i, discount) for i in ids],
                NATIONAL,
                withdrawn=withdrawn,
            )
            mine = [p for p in self.published if p.region == region]
            assert number == len(mine) + 1
            self.published.append(
                Published(
                    region,
                    number,
                    effective_from,
                    self.clock.now(),
                    tuple((i, discount) for i in ids),
                    tuple(withdrawn),
                )
            )

        def _as_of(self, pick: int, nudge: int) -> datetime | None:
            if pick < 0 or not self.published:
                return None
            moment = self.published[pick % len(self.published)].published_at
            return moment + timedelta(microseconds=nudge)

        @rule(
            region=st.sampled_from(ASKED),
            offset=st.one_of(
                st.sampled_from([o + d for o in OFFSETS for d in (-1, 0, 1)]),
                st.integers(-10, 100),
            ),
            pick=st.integers(-1, 30),
            nudge=st.sampled_from([-1, 0, 1]),
        )
        def ask(self, region: str, offset: int, pick: int, nudge: int) -> None:
            at = DAY0 + timedelta(days=offset)
            as_of = self._as_of(pick, nudge)
            benefits, upcoming, versions = reference(self.published, region, at, as_of)

            # The application, folding the aggregates (read-your-writes).
            found = self.svc.catalog.effective_catalog(region, at, as_of)
            got = [(b.id, b.region, b.version, b.benefit.discount) for b in found.benefits]
            assert got == benefits
            assert [(b.id, b.region, b.version) for b in found.upcoming] == upcoming
            assert found.versions == versions

            # The view: the precomputed row (as_of None) or the versions table (as_of).
            self.runner.catch_up()
            entry = self.reader.at(region, at, as_of)
            assert from_dicts(entry.benefits, entry.upcoming) == (
                [tuple(b) for b in benefits],
                [tuple(u) for u in upcoming],
            )
            assert entry.versions == versions

            # Property 2, stated directly: nothing shown was published after as_of.
            if as_of is not None:
                when = {(p.region, p.number): p.published_at for p in self.published}
                for b in entry.benefits:
                    assert when[(b["region"], b["version"])] <= as_of
                for code, number in entry.versions.items():
                    assert when[(code, number)] <= as_of

        @invariant()
        def agree_on_every_start_date(self) -> None:
            """Around every start date (where ranges meet) in the regions of the chains:
            the aggregates' fold and the view's precomputed rows equal the reference."""
            self.runner.catch_up()
            for region in EDGE_REGIONS:
                chains = self.svc.catalog.catalog_chains(region)
                for day in EDGE_DAYS:
                    benefits, upcoming, versions = reference(self.published, region, day, None)
                    folded = effective_benefits(chains, day)
                    got = [(b.id, b.region, b.version, b.benefit.discount) for b in folded]
                    assert got == benefits, (region, day)
                    assert versions_in_force(chains, day) == versions
                    entry = self.reader.entry(region, day)
                    assert from_dicts(entry.benefits, entry.upcoming) == (benefits, upcoming)
                    assert entry.versions == versions

        @invariant()
        def versions_are_numbered_per_region(self) -> None:
            for code in PUBLISHING:
                numbers = [p.number for p in self.published if p.region == code]
                assert numbers == list(range(1, len(numbers) + 1))

    return CatalogMachine


def test_effective_catalog_is_the_chain_fold_and_as_of_hides_later_versions(
    backend: str, tmp_path: Path
) -> None:
    run_state_machine_as_test(
        make_machine(backend, tmp_path),
        settings=settings(
            max_examples=10 if backend == "postgres" else 25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
