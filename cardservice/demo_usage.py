"""A few weeks of demo usage: verifications at the demo merchants and the redemptions they
led to, so the bureau's dashboard shows something on the first run.

Written through the same parts the merchant API writes with (the verification log's batch
writer, the redemption context's application), dated in the past. Deterministic and
idempotent: verification ids are derived from the day and the draw, the log writer skips
ids already present, and a redemption replayed under its verification id answers the
first recording.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from cardservice.clock import SHANGHAI
from merchant_api import vlog
from merchant_api.catalog import Decision, decide_benefits
from merchant_api.redeem import applied_json, refusals_json
from redemptions.application import Grant
from redemptions.service import RedemptionContext

DAYS = 21
NAMESPACE = uuid.UUID("0b5e3c1c-4d1e-4a3f-9a52-6f1de0e2d7a1")
# Refusals a gate sees now and then, beside the valid checks.
OTHER_STATUSES = ["expired", "revoked", "unknown_card", "stale_presentation", "bad_signature"]


def subtree(code: str, region: str) -> bool:
    """Whether `code` lies in `region`'s subtree (GB/T 2260 codes zero their lower levels)."""
    if region == "000000":
        return True
    if region.endswith("0000"):
        return code[:2] == region[:2]
    if region.endswith("00"):
        return code[:4] == region[:4]
    return code == region


def decided(
    catalogs: dict[str, list[dict[str, Any]]], merchant: dict[str, Any], card: dict[str, Any]
) -> Decision:
    """The live path's decision (which benefits apply, and why not the others) over the
    demo catalogs of the merchant's region chain."""
    items = [  # the catalog version is only read, never written to the log
        {**b, "region": region, "version": 1}
        for region, benefits in catalogs.items()
        if subtree(merchant["region"], region)
        for b in benefits
    ]
    return decide_benefits(
        items,
        holder_category=card["category"],
        card_region=card["region"],
        merchant_region=merchant["region"],
        merchant_categories=merchant["categories"],
        merchant_a_level=merchant.get("a_level"),
    )


def period(per: str, local: datetime) -> str:
    return {
        "day": local.strftime("%Y-%m-%d"),
        "month": local.strftime("%Y-%m"),
        "year": local.strftime("%Y"),
        "ever": "ever",
    }[per]


def seed_usage(
    svc: Any,
    catalogs: dict[str, list[dict[str, Any]]],
    merchants: Sequence[dict[str, Any]],
    cards: Sequence[dict[str, Any]],
) -> tuple[int, int]:
    """Write the demo's usage history; returns (verifications, redemptions) written now."""
    context = RedemptionContext(svc.settings, svc.db)
    context.setup()
    draw = random.Random(20240801)  # noqa: S311 - demo data, not a secret
    now = svc.clock.now().astimezone(SHANGHAI)
    records: list[vlog.Record] = []
    grants: list[Grant] = []
    used: dict[tuple[str, str, str], int] = {}
    for back in range(DAYS, 0, -1):
        day = (now - timedelta(days=back)).replace(hour=9, minute=0, second=0, microsecond=0)
        for n in range(draw.randint(6, 14)):
            merchant = draw.choice(merchants)
            card = draw.choice(cards)
            at = day + timedelta(minutes=draw.randint(0, 600))
            vid = str(uuid.uuid5(NAMESPACE, f"{day.date()}:{n}"))
            if merchant.get("require_device_binding"):
                status = "static_not_allowed"
            elif draw.random() < 0.12:
                status = draw.choice(OTHER_STATUSES)
            else:
                status = "valid"
            decision = decided(catalogs, merchant, card) if status == "valid" else None
            benefits = [(b["region"], b) for b in decision.benefits] if decision else []
            trusted = status != "bad_signature"
            records.append(
                vlog.Record(
                    verification_id=vid,
                    merchant_id=merchant["merchant_id"],
                    merchant_name=merchant["name"],
                    merchant_kind=merchant["kind"],
                    merchant_region=merchant["region"],
                    card_id=card["card_id"] if trusted else None,
                    card_number=card["card_number"] if trusted else None,
                    status=status,
                    presentation="static",
                    checked_at=at.isoformat(),
                    # As the live path writes them: NULL where it writes NULL.
                    card_region=card["region"] if trusted else None,
                    benefits=applied_json(decision.benefits) if decision and benefits else None,
                    refusals=refusals_json(decision.not_applicable) if decision else None,
                )
            )
            if not benefits or draw.random() > 0.7:
                continue
            region, benefit = draw.choice(benefits)
            limit = benefit.get("limit")
            if limit:
                key = (card["card_id"], f"{region}/{benefit['id']}", period(limit["per"], at))
                if used.get(key, 0) >= limit["count"]:
                    continue
                used[key] = used.get(key, 0) + 1
            grants.append(
                Grant(
                    merchant_id=merchant["merchant_id"],
                    merchant_name=merchant["name"],
                    merchant_kind=merchant["kind"],
                    merchant_region=merchant["region"],
                    card_id=card["card_id"],
                    card_region=card["region"],
                    benefit_id=benefit["id"],
                    benefit_region=region,
                    limit_count=limit["count"] if limit else None,
                    limit_per=limit["per"] if limit else None,
                    companions=draw.randint(0, int(benefit.get("companions", 0))),
                    redeemed_at=at + timedelta(seconds=40),
                    verification_id=vid,
                )
            )
    with svc.db.transaction() as tx:
        before = tx.one("SELECT COUNT(*) FROM verification_log")[0]
        vlog.write(tx, records, retry=True)
        after = tx.one("SELECT COUNT(*) FROM verification_log")[0]
    written = sum(1 for g in grants if context.app.redeem(g, offline=True).first)
    context.catch_up()
    context.close()
    return int(after) - int(before), written
