"""Catalog versions folded into an effective catalog along the region chain (pure).

Which version of a region is in force at a date: among the versions published by `as_of`
(all, when None) with `effective_from <= date`, the one with the latest `effective_from`;
of several on that same day, the last published. So a correction effective today does not
cancel a version already scheduled for next month, and a new version with the same
`effective_from` replaces one scheduled earlier.

The effective catalog of a region folds the versions in force along its chain, root
first: a descendant's benefit with the same id overrides the ancestor's (keeping its place
in the list), and an id in a descendant's `withdrawn` removes the ancestor's benefit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from cardservice.domain.benefits import Benefit

__all__ = [
    "CatalogVersion",
    "EffectiveBenefit",
    "VersionDiff",
    "diff_versions",
    "effective_benefits",
    "next_version",
    "upcoming_benefits",
    "version_in_force",
    "versions_in_force",
    "versions_with_diffs",
]


# -- versions -------------------------------------------------------------------------------
@dataclass(frozen=True)
class CatalogVersion:
    """One published version of one region's catalog."""

    region: str
    number: int
    effective_from: date
    published_at: datetime
    benefits: tuple[Benefit, ...]
    withdrawn: tuple[str, ...] = ()
    actor: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "version": self.number,
            "effective_from": self.effective_from.isoformat(),
            "published_at": self.published_at.isoformat(),
            "benefits": [b.to_dict() for b in self.benefits],
            "withdrawn": list(self.withdrawn),
        }


@dataclass(frozen=True)
class EffectiveBenefit:
    """A benefit in an effective catalog, with the region that published it and the number
    and start date of that region's version."""

    benefit: Benefit
    region: str
    version: int
    effective_from: date

    @property
    def id(self) -> str:
        return self.benefit.id

    def to_dict(self) -> dict[str, Any]:
        """The contract's shape: the benefit plus `region` and `version`."""
        return {**self.benefit.to_dict(), "region": self.region, "version": self.version}


@dataclass(frozen=True)
class VersionDiff:
    """What a version changed against the one published before it (by benefit id)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    withdrawn_added: tuple[str, ...] = ()
    withdrawn_removed: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": list(self.changed),
            "withdrawn_added": list(self.withdrawn_added),
            "withdrawn_removed": list(self.withdrawn_removed),
        }


def diff_versions(prev: CatalogVersion | None, cur: CatalogVersion) -> VersionDiff:
    """Ids added, removed and changed (any field) from `prev` to `cur`; None: all added."""
    before = {b.id: b for b in prev.benefits} if prev else {}
    after = {b.id: b for b in cur.benefits}
    old_withdrawn = set(prev.withdrawn) if prev else set()
    return VersionDiff(
        added=tuple(i for i in after if i not in before),
        removed=tuple(i for i in before if i not in after),
        changed=tuple(i for i in after if i in before and before[i] != after[i]),
        withdrawn_added=tuple(i for i in cur.withdrawn if i not in old_withdrawn),
        withdrawn_removed=tuple(
            i for i in (prev.withdrawn if prev else ()) if i not in set(cur.withdrawn)
        ),
    )


def versions_with_diffs(
    history: Sequence[CatalogVersion],
) -> list[tuple[CatalogVersion, VersionDiff]]:
    """Each version (in publication order) with its diff to the one published before."""
    ordered = sorted(history, key=lambda v: v.number)
    return [(v, diff_versions(ordered[i - 1] if i else None, v)) for i, v in enumerate(ordered)]


# -- the fold -------------------------------------------------------------------------------
def _visible(history: Sequence[CatalogVersion], as_of: datetime | None) -> list[CatalogVersion]:
    return [v for v in history if as_of is None or v.published_at <= as_of]


def version_in_force(
    history: Sequence[CatalogVersion], at: date, as_of: datetime | None = None
) -> CatalogVersion | None:
    """The region's version in force on `at`, as published by `as_of` (module docstring)."""
    started = [v for v in _visible(history, as_of) if v.effective_from <= at]
    return max(started, key=lambda v: (v.effective_from, v.number), default=None)


def next_version(
    history: Sequence[CatalogVersion], at: date, as_of: datetime | None = None
) -> CatalogVersion | None:
    """The version that will come into force first after `at` (scheduled, not yet in force)."""
    scheduled = [v for v in _visible(history, as_of) if v.effective_from > at]
    return min(scheduled, key=lambda v: (v.effective_from, -v.number), default=None)


def effective_benefits(
    chains: Sequence[Sequence[CatalogVersion]], at: date, as_of: datetime | None = None
) -> list[EffectiveBenefit]:
    """The effective catalog: `chains` holds each region's history along the ancestor chain,
    root first; descendants override by id and withdraw by id."""
    folded: dict[str, EffectiveBenefit] = {}
    for history in chains:
        version = version_in_force(history, at, as_of)
        if version is None:
            continue
        for benefit_id in version.withdrawn:
            folded.pop(benefit_id, None)
        for benefit in version.benefits:
            folded[benefit.id] = EffectiveBenefit(
                benefit, version.region, version.number, version.effective_from
            )
    return list(folded.values())


def versions_in_force(
    chains: Sequence[Sequence[CatalogVersion]], at: date, as_of: datetime | None = None
) -> dict[str, int]:
    """{region: version number} of the versions the fold used (the verdict's
    `catalog_version`); regions with nothing in force are left out."""
    used: dict[str, int] = {}
    for history in chains:
        version = version_in_force(history, at, as_of)
        if version is not None:
            used[version.region] = version.number
    return used


def upcoming_benefits(
    chains: Sequence[Sequence[CatalogVersion]], at: date, as_of: datetime | None = None
) -> list[EffectiveBenefit]:
    """Benefits of each region's next scheduled version whose id is not in the effective
    catalog at `at`: what a holder will get later, for a `not_yet_effective` answer."""
    current = {b.id for b in effective_benefits(chains, at, as_of)}
    upcoming: dict[str, EffectiveBenefit] = {}
    for history in chains:
        version = next_version(history, at, as_of)
        if version is None:
            continue
        for benefit in version.benefits:
            if benefit.id not in current:
                upcoming[benefit.id] = EffectiveBenefit(
                    benefit, version.region, version.number, version.effective_from
                )
    return list(upcoming.values())
