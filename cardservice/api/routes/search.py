"""The bureau console's card search: by ID number, card number or exact full name.

Matching goes through keyed hashes (`cardservice.application.search`); answers carry the
masked name only, never the ID number. Reads the search view, which lags writes slightly.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from cardservice.api import responses as out
from cardservice.api.deps import AdminActor, ServicesDep
from cardservice.api.routes.console_examples import SEARCH as SEARCH_EXAMPLE
from cardservice.application.search import normal_card_number
from cardservice.bootstrap.write import WriteSide
from cardservice.domain.errors import InvalidInput
from projections.admin_cards import (
    MAX_LIMIT,
    STATUSES,
    AdminCardReader,
    BadCursor,
    CardQuery,
    decode_cursor,
)

router = APIRouter(prefix="/v1/admin", tags=["admin: console"])

DEFAULT_LIMIT = 50
MAX_PARAM = 200


def card_reader(svc: WriteSide) -> AdminCardReader:
    return svc.admin_cards


def page_limit(value: str | None, default: int = DEFAULT_LIMIT, top: int = MAX_LIMIT) -> int:
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= top:
        raise InvalidInput(f"limit must be an integer 1..{top}")
    return int(value)


def _param(name: str, value: str | None) -> str | None:
    if value is not None and (len(value) > MAX_PARAM or not value.strip()):
        raise InvalidInput(f"{name} must be 1 to {MAX_PARAM} characters")
    return value


@router.get("/cards", response_model=out.CardSearchOut, responses=SEARCH_EXAMPLE)
def search_cards(
    actor: AdminActor,
    svc: ServicesDep,
    id_number: str | None = None,
    card_number: str | None = None,
    name: str | None = None,
    region: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: str | None = None,
) -> dict[str, Any]:
    """Cards in the caller's subtree (`region` narrows), matched exactly by `id_number`
    (`x` = `X`), `card_number` or full `name` (after NFC), by `status`; `next` pages on."""
    terms = [t for t in (id_number, name) if _param("term", t) is not None]
    if len(terms) > 1:
        raise InvalidInput("give id_number or name, not both")
    number = (
        None
        if _param("card_number", card_number) is None
        else normal_card_number(card_number or "")
    )
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
    size = page_limit(limit)
    if _param("cursor", cursor) is not None:
        try:
            decode_cursor(cursor or "")
        except BadCursor as exc:
            raise InvalidInput(str(exc)) from None
    digest = None
    if id_number is not None:
        digest = svc.ledger.search_digest(id_number=id_number)
    elif name is not None:
        digest = svc.ledger.search_digest(name=name)
    scope = svc.ledger.search_scope(actor, region)
    query = CardQuery(
        region=scope,
        today=svc.ledger.today(),
        holder_digest=digest,
        card_number=number,
        status=status,
        cursor=cursor,
        limit=size,
    )
    items, after = card_reader(svc).page(query)
    return {"items": items, "next": after}
