"""Which benefits apply to a card at a merchant, decided once per catalog answer and kept
with it, with what its verdicts need made ready: the benefits as shown, the log's JSON,
and for each limited benefit its counter key and which period counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cardservice.credentials import CardClaims
from merchant_api.catalog import CatalogAnswer, decide_benefits
from merchant_api.core import Checked
from merchant_api.redeem import applied_json, refusals_json
from merchant_api.remaining import Counted, shown_and_counted
from projections.merchants import MerchantRow

DECISIONS_PER_CATALOG = 4096


@dataclass(frozen=True)
class Eligibility:
    benefits: list[dict[str, Any]]
    not_applicable: list[dict[str, Any]]
    versions: dict[str, int]
    applied: str | None = None
    """What the verification log keeps of it (JSON, made once per cached decision)."""
    refusals: str | None = None
    shown: tuple[dict[str, Any], ...] = ()
    """`benefits` as a verdict shows them, `remaining: None` (made once, shared)."""
    counted: tuple[Counted, ...] = ()
    """Its limited benefits, ready to count: a verdict reads counters only if any."""


NO_BENEFITS = Eligibility([], [], {})


@dataclass
class CachedCatalog:
    """A region's catalog answer for a day, when it was read, and the eligibility
    decisions made from it (they live and expire with it)."""

    read_at: float
    answer: CatalogAnswer
    decisions: dict[tuple[Any, ...], Eligibility] = field(default_factory=dict)
    limited: bool = False
    """Whether any benefit in force carries a limit: a verdict whose decision is not
    remembered yet reads counters then (one that is reads them if its own benefits do)."""


def decision_key(merchant: MerchantRow, claims: CardClaims) -> tuple[Any, ...]:
    """What an eligibility decision depends on besides the catalog answer."""
    return (merchant.categories, merchant.a_level, claims.category, claims.issuer_region)


def eligibility_at(cached: CachedCatalog, checked: Checked, merchant: MerchantRow) -> Eligibility:
    """The decision for this card at this merchant, remembered with the catalog answer it
    came from (so for as long as that answer is cached): it depends only on that answer,
    the merchant's categories and A-level, and the card's category and issuing region, and
    a region with a hundred benefits costs close to a millisecond to decide."""
    found = cached.answer
    if checked.parsed is None:
        return Eligibility([], [], found.versions)
    key = decision_key(merchant, checked.parsed.claims)
    remembered = cached.decisions.get(key)
    if remembered is not None:
        return remembered
    claims = checked.parsed.claims
    decision = decide_benefits(
        found.benefits,
        upcoming=found.upcoming,
        holder_category=claims.category,
        card_region=claims.issuer_region,
        merchant_region=merchant.region,
        merchant_categories=merchant.categories,
        merchant_a_level=merchant.a_level,
    )
    shown, counted = shown_and_counted(decision.benefits)
    answer = Eligibility(
        decision.benefits,
        decision.not_applicable,
        found.versions,
        applied=applied_json(decision.benefits) if decision.benefits else None,
        refusals=refusals_json(decision.not_applicable),
        shown=shown,
        counted=counted,
    )
    if len(cached.decisions) >= DECISIONS_PER_CATALOG:
        cached.decisions.clear()
    cached.decisions[key] = answer
    return answer
