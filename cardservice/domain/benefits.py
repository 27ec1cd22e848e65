"""Catalog benefits: the Benefit and UsageLimit value objects and the rules for input.

`Benefit.from_dict` and the `validate_*` functions check what an administrator publishes
(raising `BenefitInvalid`, which names the field); `Benefit.from_event` rebuilds a stored
benefit without re-validating, so old events always replay after the rules tighten.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from cardservice.domain.errors import InvalidInput
from cardservice.domain.policy import HOLDER_CATEGORIES

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
    "LIMIT_PERIODS",
    "Benefit",
    "BenefitInvalid",
    "UsageLimit",
    "parse_effective_from",
    "validate_benefits",
    "validate_withdrawn",
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


class BenefitInvalid(InvalidInput):
    """A catalog version that cannot be published; the message names the field (422)."""


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
