"""The seam to the effective catalog and the eligibility rules (owned by the catalog work).

`CatalogLookup(region, day)` answers the benefits in force on `day` for a merchant in
`region` (its region and every ancestor, in the contract's shape: the benefit plus the
`region` that published it and its `version`) and the catalog version of each contributing
region. Until the catalog projection registers one in `Services.extras["catalog_lookup"]`,
the catalog is empty. Eligibility is `cardservice.domain.eligibility.evaluate`; this module
only adapts the lookup's dicts to it.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

log = logging.getLogger("merchant_api.catalog")

Benefit = dict[str, Any]
CatalogLookup = Callable[[str, date], tuple[list[Benefit], dict[str, int]]]

_PLACEMENT = ("region", "version", "effective_from")


def empty_catalog(region: str, day: date) -> tuple[list[Benefit], dict[str, int]]:
    return [], {}


def lookup_from(extras: Mapping[str, Any]) -> CatalogLookup:
    found = extras.get("catalog_lookup")
    return found if callable(found) else empty_catalog


@dataclass(frozen=True)
class Decision:
    benefits: list[Benefit]
    not_applicable: list[dict[str, Any]]


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _effective(catalog: Any, item: Any) -> Any:
    """An `EffectiveBenefit` from the lookup's item (already one, or its contract dict)."""
    if not isinstance(item, Mapping):
        return item
    fields = {k: v for k, v in item.items() if k not in _PLACEMENT}
    start = item.get("effective_from")
    return catalog.EffectiveBenefit(
        benefit=catalog.Benefit.from_dict(fields),
        region=str(item["region"]),
        version=int(item["version"]),
        effective_from=date.fromisoformat(start) if isinstance(start, str) else date.min,
    )


def _as_dict(item: Any) -> Benefit:
    if isinstance(item, Mapping):
        return dict(item)
    result: Benefit = item.to_dict()
    return result


def decide_benefits(
    items: Sequence[Any],
    *,
    holder_category: str,
    card_region: str,
    merchant_region: str,
    merchant_categories: Sequence[str],
    merchant_a_level: int | None,
) -> Decision:
    """Which of the merchant's effective benefits apply to this card, and why not the rest."""
    if not items:
        return Decision([], [])
    eligibility = _module("cardservice.domain.eligibility")
    catalog = _module("cardservice.domain.catalog")
    regions = _module("cardservice.domain.regions")
    if eligibility is None or catalog is None or regions is None:
        return Decision([], [])
    effective: list[tuple[Any, Any]] = []
    for item in items:
        try:
            effective.append((item, _effective(catalog, item)))
        except Exception as exc:  # a bad entry loses that benefit, never the verdict
            log.warning("skipping an unreadable catalog entry: %s", exc)
    table = regions.regions()
    applicable, refused = eligibility.evaluate(
        [e for _, e in effective],
        holder_category,
        card_region,
        merchant_region,
        list(merchant_categories),
        merchant_a_level,
        table.is_within,
        region_name=table.full_name,
    )
    original = {id(e): item for item, e in effective}
    return Decision(
        [_as_dict(original.get(id(e), e)) for e in applicable],
        [r.to_dict() for r in refused],
    )
