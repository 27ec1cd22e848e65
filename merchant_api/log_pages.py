"""Pages of the verification log: a merchant's own, and a card's for its holder. Read from
the primary (the log is the read side's own table, written there)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from cardservice.storage import Database
from merchant_api import vlog
from projections.merchants import MerchantRow


def merchant_log(
    db: Database, merchant: MerchantRow, cursor: int | None, limit: int
) -> dict[str, Any]:
    with db.read() as tx:
        rows, after = vlog.page(
            tx,
            column="merchant_id",
            value=str(merchant.merchant_id),
            before=cursor,
            limit=limit,
        )
    items = [
        {
            "verification_id": r[1],
            "checked_at": r[10],
            "status": r[8],
            "valid": r[8] == "valid",
            "presentation": r[9],
            "card_number": r[7],
        }
        for r in rows
    ]
    return {"items": items, "next": str(after) if after is not None else None}


def card_log(db: Database, card_id: UUID, cursor: int | None, limit: int) -> dict[str, Any]:
    with db.read() as tx:
        rows, after = vlog.page(
            tx, column="card_id", value=str(card_id), before=cursor, limit=limit
        )
    items = [
        {
            "verification_id": r[1],
            "checked_at": r[10],
            "status": r[8],
            "valid": r[8] == "valid",
            "presentation": r[9],
            "merchant": {"name": r[3], "kind": r[4], "region": r[5]},
        }
        for r in rows
    ]
    return {"items": items, "next": str(after) if after is not None else None}
