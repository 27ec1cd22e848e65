"""Which benefits of a merchant's region chain apply to a holder, and why the others do not.

The contract's rules, checked in this order, the first failing one giving the reason:
1. `holder_category`: the holder's category is listed;
2. `merchant_category`: the benefit's merchant categories share one with the merchant
   (an empty list means any merchant);
3. `a_level`: the merchant's A-level meets `min_a_level` (a merchant without one never does);
4. `local_only`: the card was issued in the subtree of the region that published it.
Benefits scheduled in a version not yet in force are reported as `not_yet_effective`.

Every refusal carries a short text in Chinese first (`message`, for holders and gate staff,
many of them elderly) and in English (`message_en`). A refused out-of-region card says so
plainly, naming both regions, since "this site does not accept out-of-region cards" is the
complaint the product must explain.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the domain types only; this module runs on the stdlib alone
    from cardservice.domain.catalog_versions import EffectiveBenefit

HOLDER_CATEGORY = "holder_category"
MERCHANT_CATEGORY = "merchant_category"
A_LEVEL = "a_level"
LOCAL_ONLY = "local_only"
NOT_YET_EFFECTIVE = "not_yet_effective"
REASONS: tuple[str, ...] = (
    HOLDER_CATEGORY,
    MERCHANT_CATEGORY,
    A_LEVEL,
    LOCAL_ONLY,
    NOT_YET_EFFECTIVE,
)

HOLDER_CATEGORY_NAMES: dict[str, tuple[str, str]] = {
    "veteran": ("退役军人", "veterans"),
    "martyr_family": ("烈士遗属", "families of martyrs"),
    "duty_death_family": ("因公牺牲军人遗属", "families of servicemen who died on duty"),
    "illness_death_family": ("病故军人遗属", "families of servicemen who died of illness"),
    "disabled_veteran": ("残疾军人", "disabled veterans"),
    "active_family": ("现役军人家属", "families of active servicemen"),
}

RegionName = Callable[[str], str]


@dataclass(frozen=True)
class NotApplicable:
    """A benefit of the chain that does not apply here, with the first failing rule."""

    id: str
    reason: str
    message: str
    message_en: str
    title: str = ""
    region: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reason": self.reason,
            "message": self.message,
            "message_en": self.message_en,
            "title": self.title,
            "region": self.region,
        }


def _holder_names(categories: Sequence[str]) -> tuple[str, str]:
    zh = [HOLDER_CATEGORY_NAMES.get(c, (c, c))[0] for c in categories]
    en = [HOLDER_CATEGORY_NAMES.get(c, (c, c))[1] for c in categories]
    return "、".join(zh), ", ".join(en)


def _safe_name(region_name: RegionName | None, code: str) -> str:
    """A region's name for a message; the bare code when the name is unknown, so a message
    can never turn a verdict into an error."""
    if region_name is None:
        return code
    try:
        name = region_name(code)
    except (LookupError, ValueError):
        return code
    return name or code


def refusal(
    item: EffectiveBenefit,
    holder_category: str,
    card_region: str,
    merchant_categories: Sequence[str],
    merchant_a_level: int | None,
    is_within: Callable[[str, str], bool],
    region_name: RegionName | None = None,
) -> NotApplicable | None:
    """The first rule this benefit fails for this holder at this merchant, or None."""
    benefit = item.benefit

    def no(reason: str, message: str, message_en: str) -> NotApplicable:
        return NotApplicable(benefit.id, reason, message, message_en, benefit.title, item.region)

    if holder_category not in benefit.holder_categories:
        listed_zh, listed_en = _holder_names(benefit.holder_categories)
        own_zh, own_en = _holder_names([holder_category])
        return no(
            HOLDER_CATEGORY,
            f"本优惠仅适用于{listed_zh}，此卡持有人类别为{own_zh}",
            f"This benefit is for {listed_en}; this card holder is in the category {own_en}.",
        )
    if benefit.merchant_categories and not set(benefit.merchant_categories) & set(
        merchant_categories
    ):
        kinds = "、".join(benefit.merchant_categories)
        return no(
            MERCHANT_CATEGORY,
            f"本优惠不适用于本商户的经营类别（适用类别：{kinds}）",
            "This benefit does not apply to this kind of merchant "
            f"(it applies to: {', '.join(benefit.merchant_categories)}).",
        )
    if benefit.min_a_level is not None and (
        merchant_a_level is None or merchant_a_level < benefit.min_a_level
    ):
        need = benefit.min_a_level
        if merchant_a_level is None:
            return no(
                A_LEVEL,
                f"本优惠仅适用于{need}A级及以上旅游景区，本商户不是A级景区",
                f"This benefit applies only at {need}A-rated scenic sites or higher; "
                "this merchant has no A-level rating.",
            )
        return no(
            A_LEVEL,
            f"本优惠仅适用于{need}A级及以上旅游景区，本景区为{merchant_a_level}A级",
            f"This benefit applies only at {need}A-rated scenic sites or higher; "
            f"this site is rated {merchant_a_level}A.",
        )
    if benefit.local_only and not is_within(card_region, item.region):
        home = _safe_name(region_name, item.region)
        issued = _safe_name(region_name, card_region)
        return no(
            LOCAL_ONLY,
            f"本优惠仅限{home}发证的优待证，此卡由{issued}签发",
            f"This benefit is only for cards issued in {home} ({item.region}); "
            f"this card was issued in {issued} ({card_region}).",
        )
    return None


def evaluate(
    benefits: Sequence[EffectiveBenefit],
    holder_category: str,
    card_region: str,
    merchant_region: str,
    merchant_categories: Sequence[str],
    merchant_a_level: int | None,
    is_within: Callable[[str, str], bool],
    *,
    region_name: RegionName | None = None,
) -> tuple[list[EffectiveBenefit], list[NotApplicable]]:
    """Split the merchant's effective catalog into what applies and what does not (with the
    reason). `benefits` is the effective catalog of `merchant_region` (its chain, in force
    now); a benefit published outside that chain cannot apply there and is left out.
    `region_name` (e.g. `regions().full_name`) names regions in messages."""
    applicable: list[EffectiveBenefit] = []
    refused: list[NotApplicable] = []
    for item in benefits:
        if not is_within(merchant_region, item.region):
            continue
        why = refusal(
            item,
            holder_category,
            card_region,
            merchant_categories,
            merchant_a_level,
            is_within,
            region_name,
        )
        if why is None:
            applicable.append(item)
        else:
            refused.append(why)
    return applicable, refused


def not_yet_effective(upcoming: Sequence[EffectiveBenefit]) -> list[NotApplicable]:
    """Benefits of a version scheduled after today (see `catalog.upcoming_benefits`): the
    holder is told the date from which they apply."""
    out: list[NotApplicable] = []
    for item in upcoming:
        start = item.effective_from.isoformat()
        out.append(
            NotApplicable(
                item.id,
                NOT_YET_EFFECTIVE,
                f"本优惠自{start}起生效，目前尚未生效",
                f"This benefit takes effect on {start}; it is not in force yet.",
                item.benefit.title,
                item.region,
            )
        )
    return out
