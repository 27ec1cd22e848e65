"""The seam to the effective catalog and the eligibility rules (owned by the catalog work).

`CatalogLookup(region, day)` answers the benefits in force on `day` for a merchant in
`region` (its region and every ancestor) and the catalog version of each contributing
region. Until the catalog projection registers one in `Services.extras["catalog_lookup"]`,
the catalog is empty. Eligibility is `cardservice.domain.eligibility.evaluate` when that
module exists; otherwise nothing can be decided, so nothing is listed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import date
from typing import Any

Benefit = dict[str, Any]
CatalogLookup = Callable[[str, date], tuple[list[Benefit], dict[str, int]]]
Evaluate = Callable[..., Any]


def empty_catalog(region: str, day: date) -> tuple[list[Benefit], dict[str, int]]:
    return [], {}


def lookup_from(extras: dict[str, Any]) -> CatalogLookup:
    found = extras.get("catalog_lookup")
    return found if callable(found) else empty_catalog


def _load_evaluate() -> Evaluate | None:
    try:
        module = importlib.import_module("cardservice.domain.eligibility")
    except ImportError:
        return None
    found = getattr(module, "evaluate", None)
    return found if callable(found) else None


_EVALUATE: Evaluate | None = None
_LOADED = False


def evaluator() -> Evaluate | None:
    global _EVALUATE, _LOADED
    if not _LOADED:
        _EVALUATE = _load_evaluate()
        _LOADED = True
    return _EVALUATE
