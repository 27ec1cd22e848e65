"""Regional benefit catalogs: complete versions, never edited, folded along the region chain.

Each region publishes complete versions of its catalog, numbered 1, 2, ... and dated
`effective_from`; a correction is a new version, so the history answers both "what applies
on DATE" and "what did the catalog say at DATE, as published by TIMESTAMP" (bitemporal).

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

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from cardservice.domain.errors import InvalidInput
from cardservice.domain.identity import HOLDER_CATEGORIES

BENEFIT_CATEGORIES: tuple[str, ...] = (
    "travel",
    "dining",
    "shopping",
    "scenic",
    "transport",
    "telecom",
    "finance",
    "medical",
    "other",
)
__all__ = [
    "BENEFIT_CATEGORIES",
    "HOLDER_CATEGORIES",
    "LIMIT_PERIODS",
    "Benefit",
    "BenefitInvalid",
    "CatalogVersion",
    "EffectiveBenefit",
    "RegionCatalog",
    "UsageLimit",
    "VersionDiff",
    "diff_versions",
    "effective_benefits",
    "next_version",
    "parse_effective_from",
    "upcoming_benefits",
    "validate_benefits",
    "validate_withdrawn",
    "version_in_force",
    "versions_in_force",
    "versions_with_diffs",
]

MAX_BENEFITS = 500
MAX_ID = 64
MAX_TITLE = 100
MAX_PARTNER = 100
MAX_DISCOUNT = 200
MAX_MERCHANT_CATEGORIES = 20
MAX_MERCHANT_CATEGORY = 40
MIN_A_LEVEL, MAX_A_LEVEL = 1, 5

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FIELDS = frozenset(
    {
        "id",
        "title",
        "partner",
        "category",
        "discount",
        "holder_categories",
        "local_only",
        "merchant_categories",
        "min_a_level",
        "limit",
        "companions",
    }
)
LIMIT_PERIODS: tuple[str, ...] = ("day", "month", "year", "ever")
MAX_LIMIT_COUNT = 1000
MAX_COMPANIONS = 10
_REQUIRED = ("id", "title", "partner", "category", "discount", "holder_categories")

# Fixed namespace: a region's catalog id must be the same on every machine and forever.
CATALOG_NAMESPACE = UUID("6f1c3a52-4d0e-5b8a-9c57-2f7e0d1b9a40")


class BenefitInvalid(InvalidInput):
    """A catalog version that cannot be published; the message names the field (422)."""


# -- benefits ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class UsageLimit:
    """At most `count` redemptions per card in each calendar `per` (Asia/Shanghai)."""

    count: int
    per: str

    @classmethod
    def from_dict(cls, data: object, where: str) -> UsageLimit:
        if not isinstance(data, Mapping) or set(data) != {"count", "per"}:
            raise BenefitInvalid(f"{where}: must be an object with exactly count and per")
        count, per = data["count"], data["per"]
        if type(count) is not int or not 1 <= count <= MAX_LIMIT_COUNT:
            raise BenefitInvalid(f"{where}.count: must be an integer 1..{MAX_LIMIT_COUNT}")
        if not isinstance(per, str) or per not in LIMIT_PERIODS:
            raise BenefitInvalid(f"{where}.per: must be one of {', '.join(LIMIT_PERIODS)}")
        return cls(count, per)

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "per": self.per}


def _limit_from_event(value: object) -> UsageLimit | None:
    if not isinstance(value, Mapping):
        return None
    return UsageLimit(int(value["count"]), str(value["per"]))


@dataclass(frozen=True)
class Benefit:
    """One benefit as an administrator published it (validated by `from_dict`)."""

    id: str
    title: str
    partner: str
    category: str
    discount: str
    holder_categories: tuple[str, ...]
    local_only: bool = False
    merchant_categories: tuple[str, ...] = ()
    min_a_level: int | None = None
    limit: UsageLimit | None = None
    companions: int = 0

    @classmethod
    def from_dict(cls, data: object, where: str = "benefit") -> Benefit:
        """Validate an administrator's input; raise BenefitInvalid naming the bad field."""
        if not isinstance(data, Mapping):
            raise BenefitInvalid(f"{where}: must be an object")
        unknown = sorted(str(k) for k in data if k not in _FIELDS)
        if unknown:
            raise BenefitInvalid(f"{where}: unknown field(s) {', '.join(unknown)}")
        missing = [k for k in _REQUIRED if k not in data]
        if missing:
            raise BenefitInvalid(f"{where}: missing field(s) {', '.join(missing)}")
        benefit_id = _benefit_id(data["id"], f"{where}.id")
        where = f"{where} {benefit_id!r}" if where == "benefit" else where
        category = data["category"]
        if not isinstance(category, str) or category not in BENEFIT_CATEGORIES:
            raise BenefitInvalid(
                f"{where}.category: {category!r} is not one of {', '.join(BENEFIT_CATEGORIES)}"
            )
        holders = _string_list(data["holder_categories"], f"{where}.holder_categories")
        if not holders:
            raise BenefitInvalid(f"{where}.holder_categories: list at least one category")
        for holder in holders:
            if holder not in HOLDER_CATEGORIES:
                raise BenefitInvalid(
                    f"{where}.holder_categories: {holder!r} is not one of "
                    f"{', '.join(HOLDER_CATEGORIES)}"
                )
        local_only = data.get("local_only", False)
        if not isinstance(local_only, bool):
            raise BenefitInvalid(f"{where}.local_only: must be true or false")
        merchant_categories = _string_list(
            data.get("merchant_categories", []), f"{where}.merchant_categories"
        )
        if len(merchant_categories) > MAX_MERCHANT_CATEGORIES:
            raise BenefitInvalid(
                f"{where}.merchant_categories: at most {MAX_MERCHANT_CATEGORIES} entries"
            )
        for merchant_category in merchant_categories:
            _text(merchant_category, f"{where}.merchant_categories", MAX_MERCHANT_CATEGORY)
        min_a_level = data.get("min_a_level")
        if min_a_level is not None and (
            type(min_a_level) is not int or not MIN_A_LEVEL <= min_a_level <= MAX_A_LEVEL
        ):
            raise BenefitInvalid(
                f"{where}.min_a_level: must be an integer {MIN_A_LEVEL}..{MAX_A_LEVEL}"
            )
        raw_limit = data.get("limit")
        limit = None if raw_limit is None else UsageLimit.from_dict(raw_limit, f"{where}.limit")
        companions = data.get("companions", 0)
        if type(companions) is not int or not 0 <= companions <= MAX_COMPANIONS:
            raise BenefitInvalid(f"{where}.companions: must be an integer 0..{MAX_COMPANIONS}")
        return cls(
            id=benefit_id,
            title=_text(data["title"], f"{where}.title", MAX_TITLE),
            partner=_text(data["partner"], f"{where}.partner", MAX_PARTNER),
            category=category,
            discount=_text(data["discount"], f"{where}.discount", MAX_DISCOUNT),
            holder_categories=holders,
            local_only=local_only,
            merchant_categories=tuple(m.strip() for m in merchant_categories),
            min_a_level=min_a_level,
            limit=limit,
            companions=companions,
        )

    @classmethod
    def from_event(cls, data: Mapping[str, Any]) -> Benefit:
        """Rebuild from a stored event without re-validating: old events must always replay,
        even after the rules for new input tighten."""
        return cls(
            id=str(data["id"]),
            title=str(data["title"]),
            partner=str(data["partner"]),
            category=str(data["category"]),
            discount=str(data["discount"]),
            holder_categories=tuple(data["holder_categories"]),
            local_only=bool(data.get("local_only", False)),
            merchant_categories=tuple(data.get("merchant_categories") or ()),
            min_a_level=data.get("min_a_level"),
            limit=_limit_from_event(data.get("limit")),
            companions=int(data.get("companions") or 0),
        )

    def to_dict(self) -> dict[str, Any]:
        """The contract's benefit object (lists, `min_a_level` null when absent)."""
        return {
            "id": self.id,
            "title": self.title,
            "partner": self.partner,
            "category": self.category,
            "discount": self.discount,
            "holder_categories": list(self.holder_categories),
            "local_only": self.local_only,
            "merchant_categories": list(self.merchant_categories),
            "min_a_level": self.min_a_level,
            "limit": self.limit.to_dict() if self.limit is not None else None,
            "companions": self.companions,
        }


def _benefit_id(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise BenefitInvalid(f"{where}: must be a non-empty string")
    if len(value) > MAX_ID or not _ID.fullmatch(value):
        raise BenefitInvalid(
            f"{where}: {value[:MAX_ID]!r} must be 1..{MAX_ID} letters, digits, '.', '_', ':' "
            "or '-', starting with a letter or digit"
        )
    return value


def _text(value: object, where: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BenefitInvalid(f"{where}: must be a non-empty string")
    text = value.strip()
    if len(text) > limit:
        raise BenefitInvalid(f"{where}: longer than {limit} characters")
    if _CONTROL.search(text):
        raise BenefitInvalid(f"{where}: contains control characters")
    return text


def _string_list(value: object, where: str) -> tuple[str, ...]:
    """A list of strings, duplicates dropped (order kept)."""
    if not isinstance(value, list | tuple):
        raise BenefitInvalid(f"{where}: must be a list of strings")
    out: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise BenefitInvalid(f"{where}: must be a list of strings")
        if item not in out:
            out.append(item)
    return tuple(out)


def validate_benefits(items: object) -> tuple[Benefit, ...]:
    """A whole version's benefits: each valid, ids unique within the version."""
    if not isinstance(items, list | tuple):
        raise BenefitInvalid("benefits: must be a list")
    if len(items) > MAX_BENEFITS:
        raise BenefitInvalid(f"benefits: at most {MAX_BENEFITS} in one version")
    out: list[Benefit] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        benefit = Benefit.from_dict(item, where=f"benefits[{index}]")
        if benefit.id in seen:
            raise BenefitInvalid(f"benefits[{index}].id: {benefit.id!r} appears twice")
        seen.add(benefit.id)
        out.append(benefit)
    return tuple(out)


def validate_withdrawn(items: object, benefits: Sequence[Benefit] = ()) -> tuple[str, ...]:
    """Ancestor benefit ids this version removes; an id cannot be both withdrawn and kept."""
    ids = _string_list(items, "withdrawn")
    if len(ids) > MAX_BENEFITS:
        raise BenefitInvalid(f"withdrawn: at most {MAX_BENEFITS} ids")
    kept = {b.id for b in benefits}
    for index, benefit_id in enumerate(ids):
        _benefit_id(benefit_id, f"withdrawn[{index}]")
        if benefit_id in kept:
            raise BenefitInvalid(
                f"withdrawn[{index}]: {benefit_id!r} is also among this version's benefits"
            )
    return ids


def parse_effective_from(value: object) -> date:
    """A calendar date, strictly YYYY-MM-DD (Asia/Shanghai by the contract)."""
    if type(value) is date:
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise BenefitInvalid(f"effective_from: {value!r} is not an ISO date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BenefitInvalid(f"effective_from: {value!r} is not a calendar date") from None


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


# -- the aggregate ---------------------------------------------------------------------------
class RegionCatalog(Aggregate):
    """One region's catalog history. The id is derived from the region code, so two
    administrators publishing the first version at once cannot create two catalogs."""

    @staticmethod
    def create_id(region: str) -> UUID:
        return uuid5(CATALOG_NAMESPACE, f"region-catalog:{region}")

    @event("Created")
    def __init__(self, region: str) -> None:
        self.region = region
        self.history: list[CatalogVersion] = []
        self.command_ids: dict[str, int] = {}

    @property
    def latest(self) -> CatalogVersion | None:
        return self.history[-1] if self.history else None

    @property
    def published_count(self) -> int:
        return len(self.history)

    def publish(
        self,
        effective_from: date | str,
        benefits: Sequence[Mapping[str, Any]],
        *,
        published_at: datetime,
        actor: Mapping[str, Any],
        withdrawn: Sequence[str] = (),
        command_id: str | None = None,
    ) -> int:
        """Publish a complete new version and return its number. A retried command (same
        `command_id`) returns the version it made the first time and records nothing."""
        if command_id and command_id in self.command_ids:
            return self.command_ids[command_id]
        day = parse_effective_from(effective_from)
        parsed = validate_benefits(benefits)
        gone = validate_withdrawn(list(withdrawn), parsed)
        number = len(self.history) + 1
        self._version_published(
            version=number,
            effective_from=day.isoformat(),
            benefits=[b.to_dict() for b in parsed],
            withdrawn=list(gone),
            published_at=published_at,
            actor=dict(actor),
            command_id=command_id,
        )
        return number

    @event("VersionPublished")
    def _version_published(
        self,
        version: int,
        effective_from: str,
        benefits: list[dict[str, Any]],
        withdrawn: list[str],
        published_at: datetime,
        actor: dict[str, Any],
        command_id: str | None = None,
    ) -> None:
        self.history.append(
            CatalogVersion(
                region=self.region,
                number=version,
                effective_from=date.fromisoformat(effective_from),
                published_at=published_at,
                benefits=tuple(Benefit.from_event(b) for b in benefits),
                withdrawn=tuple(withdrawn),
                actor=actor,
            )
        )
        if command_id:
            self.command_ids[command_id] = version
