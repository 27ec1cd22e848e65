"""Realistic demo data, idempotent: regions' catalogs, merchants, scenic sites and cards.

Every write carries a fixed command id, so running the demo again finds what it made and
changes nothing. Merchant keys and the generated admin token exist only in the first run's
output: they are stored hashed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from cardservice.application import IssueCardRequest
from cardservice.bootstrap.write import WriteSide
from cardservice.demo_usage import seed_usage
from cardservice.domain.actors import Actor
from cardservice.domain.identity import mod11_2_check
from cardservice.domain.policy import HOLDER_CATEGORIES

DEMO_ACTOR = Actor(kind="admin", id="demo", role="admin", region="000000")

ALL = list(HOLDER_CATEGORIES)


def _benefit(
    id: str,
    title: str,
    partner: str,
    category: str,
    discount: str,
    merchant_categories: list[str],
    *,
    holders: list[str] | None = None,
    local_only: bool = False,
    min_a_level: int | None = None,
    limit: dict[str, Any] | None = None,
    companions: int = 0,
) -> dict[str, Any]:
    benefit: dict[str, Any] = {
        "id": id,
        "title": title,
        "partner": partner,
        "category": category,
        "discount": discount,
        "holder_categories": holders or ALL,
        "local_only": local_only,
        "merchant_categories": merchant_categories,
    }
    if min_a_level is not None:
        benefit["min_a_level"] = min_a_level
    if limit is not None:
        benefit["limit"] = limit
    if companions:
        benefit["companions"] = companions
    return benefit


CATALOGS: dict[str, list[dict[str, Any]]] = {
    "000000": [
        _benefit(
            "bank-card-fee",
            "借记卡免年费、免小额账户管理费",
            "中国工商银行",
            "finance",
            "免年费",
            ["bank"],
        ),
        _benefit(
            "unionpay-dining",
            "指定餐饮商户满100元减20元",
            "中国银联",
            "dining",
            "满100减20",
            ["dining"],
        ),
        _benefit(
            "sinopec-fuel", "加油每升优惠0.30元", "中国石化", "transport", "每升减0.30元", ["fuel"]
        ),
        _benefit(
            "mobile-data",
            "每月赠送10GB国内流量",
            "中国移动",
            "telecom",
            "每月10GB",
            ["telecom"],
            limit={"count": 1, "per": "month"},
        ),
        _benefit(
            "scenic-free",
            "A级旅游景区门票免费",
            "文化和旅游部",
            "scenic",
            "门票免费",
            ["scenic"],
            min_a_level=1,
        ),
        _benefit(
            "rail-priority",
            "火车站优先购票、优先安检、优先进站",
            "中国国家铁路集团",
            "travel",
            "优先通行",
            ["rail"],
        ),
    ],
    "500000": [
        _benefit(
            "cq-bus",
            "重庆市内公交、轨道交通免费乘坐",
            "重庆市交通局",
            "transport",
            "免费乘坐",
            ["bus"],
            local_only=True,
        ),
        _benefit(
            "cq-5a-no-booking",
            "5A级景区免预约、优先入园",
            "重庆市文化和旅游委员会",
            "scenic",
            "免预约",
            ["scenic"],
            min_a_level=5,
        ),
    ],
    "500112": [
        _benefit(
            "yubei-clinic",
            "区属公立医院普通门诊挂号费全免",
            "渝北区卫生健康委",
            "medical",
            "挂号费全免",
            ["hospital"],
            holders=["veteran", "disabled_veteran"],
            local_only=True,
        ),
        _benefit(
            "yubei-scenic-family",
            "景区门票免费，同行一名家属半价",
            "渝北区文化旅游委",
            "scenic",
            "同行家属半价",
            ["scenic"],
            local_only=True,
            min_a_level=3,
            limit={"count": 1, "per": "day"},
            companions=1,
        ),
    ],
}

# A Yubei version scheduled for next month: the product shows it changes nothing today.
NEXT_MONTH_YUBEI = [
    *CATALOGS["500112"],
    _benefit(
        "yubei-taxi",
        "巡游出租车起步价优惠2元",
        "渝北区交通局",
        "transport",
        "起步价减2元",
        ["taxi"],
        local_only=True,
    ),
]

MERCHANTS: list[dict[str, Any]] = [
    {
        "name": "中国石化重庆渝北两路加油站",
        "region": "500112",
        "kind": "merchant",
        "categories": ["fuel", "shopping"],
    },
    {
        "name": "重庆统景温泉风景区",
        "region": "500112",
        "kind": "scenic_site",
        "categories": ["scenic"],
        "a_level": 4,
    },
    {"name": "渝北区人民医院", "region": "500112", "kind": "merchant", "categories": ["hospital"]},
    {
        "name": "重庆洪崖洞民俗风貌区",
        "region": "500103",
        "kind": "scenic_site",
        "categories": ["scenic"],
        "a_level": 4,
    },
    {
        "name": "重庆公交集团（需手机绑定）",
        "region": "500000",
        "kind": "merchant",
        "categories": ["bus"],
        "require_device_binding": True,
    },
    {
        "name": "故宫博物院",
        "region": "110101",
        "kind": "scenic_site",
        "categories": ["scenic"],
        "a_level": 5,
    },
    {"name": "全聚德前门店", "region": "110101", "kind": "merchant", "categories": ["dining"]},
    {
        "name": "中国移动渝北营业厅",
        "region": "500112",
        "kind": "merchant",
        "categories": ["telecom"],
    },
]

CARDS: list[tuple[str, str, str, str, str]] = [
    # name, region of the ID number, born, category, issuing region
    ("张建明", "500112", "19580312", "veteran", "500112"),
    ("李秀英", "500103", "19620805", "martyr_family", "500103"),
    ("王德华", "110101", "19550120", "disabled_veteran", "110101"),
    ("刘洋", "500112", "19900716", "active_family", "500112"),
    ("陈国强", "440305", "19600228", "duty_death_family", "440305"),
    ("欧阳小红", "500112", "19680909", "illness_death_family", "500112"),
    ("赵卫东", "110101", "19500601", "veteran", "110101"),
]


def demo_id_number(region: str, born: str, seq: int) -> str:
    body = f"{region}{born}{seq:03d}"
    return body + mod11_2_check(body)


@dataclass
class DemoResult:
    first_run: bool
    admin_token: str | None = None
    merchants: list[dict[str, Any]] = field(default_factory=list)
    cards: list[dict[str, Any]] = field(default_factory=list)
    catalog_versions: dict[str, int] = field(default_factory=dict)
    usage: tuple[int, int] = (0, 0)
    """(verifications, redemptions) of demo history written by this run."""


def seed(svc: WriteSide) -> DemoResult:
    first_run = svc.db.allocate("demo_runs") == 1
    result = DemoResult(first_run=first_run)
    if first_run and not svc.settings.admin_token:
        result.admin_token, _ = svc.catalog.mint_token("admin", "000000", DEMO_ACTOR)

    today = date.fromisoformat(svc.ledger.today().isoformat())
    for region, benefits in CATALOGS.items():
        version = svc.catalog.publish_catalog(
            region, today - timedelta(days=30), benefits, DEMO_ACTOR, command_id=f"demo:{region}:1"
        )
        result.catalog_versions[region] = version
    next_month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    svc.catalog.publish_catalog(
        "500112", next_month, NEXT_MONTH_YUBEI, DEMO_ACTOR, command_id="demo:500112:2"
    )

    for n, spec in enumerate(MERCHANTS):
        registered = svc.catalog.register_merchant(
            name=spec["name"],
            region=spec["region"],
            kind=spec["kind"],
            categories=spec["categories"],
            a_level=spec.get("a_level"),
            require_device_binding=spec.get("require_device_binding", False),
            actor=DEMO_ACTOR,
            command_id=f"demo:merchant:{n}",
            request_digest="demo",
        )
        result.merchants.append(
            {**spec, "merchant_id": str(registered.merchant.id), "api_key": registered.api_key}
        )

    for n, (name, id_region, born, category, region) in enumerate(CARDS):
        issued = svc.ledger.issue_card(
            IssueCardRequest(
                name=name,
                id_number=demo_id_number(id_region, born, 100 + n),
                category=category,
                region=region,
            ),
            DEMO_ACTOR,
            command_id=f"demo:card:{n}",
            request_digest="demo",
        )
        card = svc.ledger.card(issued.card.id)
        # A one-time activation link (never a permanent token): the pending code again, or a
        # new one when the last was used or has expired.
        grant = (
            svc.ledger.pending_activation(card)
            or (
                svc.ledger.new_activation_code(card.id, DEMO_ACTOR, "demo: a new activation link")
            ).grant
        )
        result.cards.append(
            {
                "card_id": str(card.id),
                "card_number": card.card_number,
                "masked_name": card.masked_name,
                "category": category,
                "region": region,
                "activation_code": grant.display,
                "activation_url": grant.url,
            }
        )
    result.usage = seed_usage(svc, CATALOGS, result.merchants, result.cards)
    return result
