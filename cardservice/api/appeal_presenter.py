"""Appeals as the contract shows them, and the verdict an appeal is about, replayed.

The verdict is rebuilt on the write side when the appeal is filed: the verification log
row (merchant, status, time), the merchant, and the merchant's effective catalog as of
the check's moment (`as_of` = checked_at), evaluated by the same eligibility rules the
verifier uses, reasons included. It is stored in the appeal as decided.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from cardservice.bootstrap.write import WriteSide
from cardservice.clock import SHANGHAI
from cardservice.domain import regions as region_table
from cardservice.domain.appeals import Appeal
from cardservice.domain.cards import Card
from cardservice.domain.eligibility import evaluate, not_yet_effective
from cardservice.domain.errors import InvalidInput, NotFound

NOT_THIS_CARD = "verification_id: not a verification of this card"


def refuse_controls(text: str, what: str) -> str:
    """Free text may break lines; no other control or format character (Cc, Cf)."""
    for ch in text:
        if ch not in "\n\r\t" and unicodedata.category(ch) in ("Cc", "Cf"):
            raise InvalidInput(f"{what}: control or format character U+{ord(ch):04X}")
    return text


def _log_row(svc: WriteSide, verification_id: str) -> tuple[Any, ...] | None:
    try:
        with svc.db.read() as tx:
            row: tuple[Any, ...] | None = tx.one(
                "SELECT verification_id, merchant_id, merchant_name, merchant_kind, "
                "merchant_region, card_id, status, presentation, checked_at "
                "FROM verification_log WHERE verification_id = ?",
                (verification_id,),
            )
            return row
    except Exception:  # no verification log here (an admin API without the merchant API)
        return None


def _event_time(event: Any, default: datetime) -> datetime:
    found = getattr(event, "at", None) or getattr(event, "timestamp", None)
    return found if isinstance(found, datetime) else default


def merchant_as_of(
    svc: WriteSide, merchant_id: str, when: datetime
) -> tuple[list[str], int | None]:
    """The merchant's categories and A-level as they were at `when` (its events' `at`)."""
    try:
        mid = UUID(merchant_id)
        current = svc.catalog.merchant(mid)
    except (NotFound, ValueError):
        return [], None
    versions = [
        int(ev.originator_version)
        for ev in svc.catalog.events.get(mid)
        if _event_time(ev, when) <= when
    ]
    past = svc.catalog.repository.get(mid, version=max(versions)) if versions else current
    return list(past.categories), past.a_level


def verdict_as_decided(svc: WriteSide, card: Card, verification_id: str) -> dict[str, Any]:
    """The verdict of this card's verification `verification_id`, replayed; 422 otherwise."""
    row = _log_row(svc, verification_id)
    if row is None or row[5] != str(card.id):
        raise InvalidInput(NOT_THIS_CARD)
    vid, merchant_id, merchant_name, merchant_kind, merchant_region = row[:5]
    status, presentation, checked_text = row[6], row[7], row[8]
    checked_at = datetime.fromisoformat(checked_text)
    benefits: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    versions: dict[str, int] = {}
    if status == "valid":
        categories, a_level = merchant_as_of(svc, merchant_id, checked_at)
        day = checked_at.astimezone(SHANGHAI).date()
        catalog = svc.catalog.effective_catalog(merchant_region, at=day, as_of=checked_at)
        table = region_table.regions()
        applicable, not_applicable = evaluate(
            catalog.benefits,
            card.category,
            card.region,
            merchant_region,
            categories,
            a_level,
            table.is_within,
            region_name=table.full_name,
        )
        benefits = [b.to_dict() for b in applicable]
        refused = [n.to_dict() for n in [*not_applicable, *not_yet_effective(catalog.upcoming)]]
        versions = dict(catalog.versions)
    return {
        "verification_id": vid,
        "merchant": {
            "merchant_id": merchant_id,
            "name": merchant_name,
            "kind": merchant_kind,
            "region": merchant_region,
        },
        "merchant_name": merchant_name,
        "merchant_region": merchant_region,
        "status": status,
        "valid": status == "valid",
        "presentation": presentation,
        "checked_at": checked_at.astimezone(UTC).isoformat(),
        "benefits": benefits,
        "not_applicable": refused,
        "catalog_version": versions,
    }


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def appeal_view(appeal: Appeal, text: str | None) -> dict[str, Any]:
    answer = None
    if appeal.status == "answered":
        answer = {
            "outcome": appeal.outcome,
            "reply": appeal.reply,
            "answered_at": _iso(appeal.answered_at),
        }
    return {
        "appeal_id": str(appeal.id),
        "card_id": appeal.card_id,
        "card_region": appeal.card_region,
        "merchant_region": appeal.merchant_region,
        "status": appeal.status,
        "text": text,
        "filed_at": _iso(appeal.filed_at),
        "verification": appeal.verification,
        "answer": answer,
    }
