"""The seam to the effective catalog and the eligibility rules (owned by the catalog work).

`catalog_for(source, region, day)` answers, for a merchant in `region`, the benefits in
force on `day` along its chain (the contract's shape: the benefit plus the `region` that
published it and its `version`), the benefits of versions scheduled after `day` (with their
`effective_from`), and the catalog version of each contributing region. The source is the
catalog view's reader (`projections.catalog.CatalogReader`: one precomputed row per region
and date range), given to the merchant API by its composition root.

`decide_benefits` applies `cardservice.domain.eligibility` to those dicts: what applies;
why each other benefit does not, rules in the contract's order; and a benefit that is only
scheduled, and would otherwise apply, is `not_yet_effective` with its start date.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from cardservice.domain import eligibility
from cardservice.domain.benefits import Benefit as DomainBenefit
from cardservice.domain.benefits import UsageLimit
from cardservice.domain.catalog_versions import EffectiveBenefit
from cardservice.domain.regions import regions

log = logging.getLogger("merchant_api.catalog")

Benefit = dict[str, Any]
CatalogLookup = Callable[[str, date], tuple[list[Benefit], dict[str, int]]]


class CatalogEntryLike(Protocol):
    @property
    def benefits(self) -> Sequence[Benefit]: ...
    @property
    def upcoming(self) -> Sequence[Benefit]: ...
    @property
    def versions(self) -> Mapping[str, int]: ...


class CatalogSource(Protocol):
    """The catalog view as the read side sees it."""

    def entry(self, region: str, day: date) -> CatalogEntryLike: ...
    def lookup(self, region: str, day: date) -> tuple[list[Benefit], dict[str, int]]: ...


def lookup_from(source: CatalogSource) -> CatalogLookup:
    return source.lookup


@dataclass(frozen=True)
class CatalogAnswer:
    """The merchant region's catalog on a day: the benefits in force, those of the next
    scheduled versions (with `effective_from`), and {region: version} the fold used."""

    benefits: list[Benefit]
    upcoming: list[Benefit]
    versions: dict[str, int]


def catalog_for(source: CatalogSource, region: str, day: date) -> CatalogAnswer:
    """One read of the catalog view (one precomputed row)."""
    found = source.entry(region, day)
    return CatalogAnswer(list(found.benefits), list(found.upcoming), dict(found.versions))


@dataclass(frozen=True)
class Decision:
    benefits: list[Benefit]
    not_applicable: list[dict[str, Any]]


def _effective(item: Any) -> EffectiveBenefit:
    """An `EffectiveBenefit` from the view's contract dict (or one already). Not
    re-validated: a benefit published under older rules must still be decided. Built
    field by field: this runs for every benefit of every verification."""
    if isinstance(item, EffectiveBenefit):
        return item
    start = item.get("effective_from")
    return EffectiveBenefit(
        benefit=DomainBenefit(
            id=str(item["id"]),
            title=str(item["title"]),
            partner=str(item["partner"]),
            category=str(item["category"]),
            discount=str(item["discount"]),
            holder_categories=tuple(item["holder_categories"]),
            local_only=bool(item.get("local_only", False)),
            merchant_categories=tuple(item.get("merchant_categories") or ()),
            min_a_level=item.get("min_a_level"),
            limit=_limit(item.get("limit")),
            companions=int(item.get("companions") or 0),
        ),
        region=str(item["region"]),
        version=int(item["version"]),
        effective_from=date.fromisoformat(start) if isinstance(start, str) else date.min,
    )


def _limit(value: Any) -> UsageLimit | None:
    return UsageLimit(int(value["count"]), str(value["per"])) if value else None


def _readable(items: Sequence[Any]) -> list[tuple[Any, EffectiveBenefit]]:
    out: list[tuple[Any, EffectiveBenefit]] = []
    for item in items:
        try:
            out.append((item, _effective(item)))
        except Exception as exc:  # a bad entry loses that benefit, never the verdict
            log.warning("skipping an unreadable catalog entry: %s", exc)
    return out


def _as_dict(item: Any) -> Benefit:
    if isinstance(item, Mapping):
        out = dict(item)
        out.pop("effective_from", None)
        return out
    result: Benefit = item.to_dict()
    return result


def decide_benefits(
    items: Sequence[Any],
    *,
    upcoming: Sequence[Any] = (),
    holder_category: str,
    card_region: str,
    merchant_region: str,
    merchant_categories: Sequence[str],
    merchant_a_level: int | None,
) -> Decision:
    """Which of the merchant's effective benefits apply to this card, and why not the rest
    (including the scheduled ones: their first failing rule, else `not_yet_effective`)."""
    if not items and not upcoming:
        return Decision([], [])
    table = regions()
    current = _readable(items)
    applicable, refused = eligibility.evaluate(
        [e for _, e in current],
        holder_category,
        card_region,
        merchant_region,
        list(merchant_categories),
        merchant_a_level,
        table.is_within,
        region_name=table.full_name,
    )
    for _, item in _readable(upcoming):
        if not table.is_within(merchant_region, item.region):
            continue
        why = eligibility.refusal(
            item,
            holder_category,
            card_region,
            list(merchant_categories),
            merchant_a_level,
            table.is_within,
            table.full_name,
        )
        refused.extend([why] if why is not None else eligibility.not_yet_effective([item]))
    original = {id(e): item for item, e in current}
    return Decision(
        [_as_dict(original.get(id(e), e)) for e in applicable],
        [r.to_dict() for r in refused],
    )
