"""Appeals: the holder files and reads them (holder token); bureaus of either side list and
answer them (admin tokens)."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import Field, StrictStr

from cardservice.api import responses as out
from cardservice.api.appeal_presenter import appeal_view, refuse_controls, verdict_as_decided
from cardservice.api.deps import (
    AdminActor,
    HolderCardId,
    IdempotencyKey,
    ServicesDep,
    body_doc,
    json_body,
    parse_id,
)
from cardservice.api.schemas import Strict
from cardservice.application.base import require_region
from cardservice.domain import regions as region_table
from cardservice.domain.appeals import MAX_TEXT
from cardservice.domain.errors import Forbidden, InvalidInput, NotFound
from cardservice.http.fields import REQUIRED_FREE_PATTERN
from projections.appeals import appeals_in, appeals_of_card

router = APIRouter(tags=["holder services: appeals"])
FREE_TEXT: dict[str, Any] = {"maxLength": MAX_TEXT, "pattern": REQUIRED_FREE_PATTERN}
"""What the schema states: 1-1000 characters after trimming, line breaks allowed."""


class AppealIn(Strict):
    """`text`: 1-1000 characters (line breaks allowed); `verification_id`: a check of this
    card from "who checked my card" (else 422)."""

    text: Annotated[StrictStr, Field(max_length=4000, json_schema_extra=FREE_TEXT)]
    verification_id: Annotated[StrictStr, Field(min_length=1, max_length=100)] | None = None


class AnswerIn(Strict):
    outcome: Literal["upheld", "rejected"]
    reply: Annotated[StrictStr, Field(max_length=4000, json_schema_extra=FREE_TEXT)]


APPEAL_EXAMPLE = {
    "appeal_id": "0d1f6c1e-7a53-4b7e-9a55-6c0f0d1e2a3b",
    "card_id": "7b1e0c2a-3d4f-4a5b-8c6d-9e0f1a2b3c4d",
    "status": "open",
    "text": "景区说外地证不能用",
    "filed_at": "2026-06-01T02:00:00+00:00",
    "verification": None,
    "answer": None,
}


@router.post(
    "/v1/cards/{card_id}/appeals",
    status_code=201,
    response_model=out.AppealFiledOut,
    openapi_extra=body_doc(AppealIn),
    responses={
        201: {"content": {"application/json": {"example": {"appeal_id": "…", "status": "open"}}}}
    },
)
def file_appeal(
    card_id: HolderCardId,
    body: Annotated[AppealIn, Depends(json_body(AppealIn))],
    svc: ServicesDep,
    key: IdempotencyKey,
) -> JSONResponse:
    text = refuse_controls(body.text, "text")
    card = svc.ledger.card(card_id)
    verification = None
    if body.verification_id is not None:
        verification = verdict_as_decided(svc, card, refuse_controls(body.verification_id, "id"))
    appeal, replayed = svc.ledger.file_appeal(
        card_id, text, verification=verification, command_id=key
    )
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse(
        {"appeal_id": str(appeal.id), "status": appeal.status}, status_code=201, headers=headers
    )


@router.get(
    "/v1/cards/{card_id}/appeals",
    response_model=out.AppealPageOut,
    responses={
        200: {
            "content": {"application/json": {"example": {"items": [APPEAL_EXAMPLE], "next": None}}}
        }
    },
)
def card_appeals(card_id: HolderCardId, svc: ServicesDep) -> dict[str, Any]:
    """The card's appeals and their answers, newest first (an index view: may lag)."""
    with svc.db.read() as tx:
        rows = appeals_of_card(tx, card_id)
    items = []
    for row in rows:
        appeal = svc.ledger.appeal(row.appeal_id)
        items.append(appeal_view(appeal, svc.ledger.appeal_text(appeal)))
    return {"items": items, "next": None}


def _cursor_in(cursor: str | None) -> tuple[str, str] | None:
    if not cursor:
        return None
    try:
        filed_at, appeal_id = base64.urlsafe_b64decode(cursor.encode() + b"==").decode().split("|")
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("cursor: not a cursor this API returned") from None
    if parse_id(appeal_id) is None or len(filed_at) != 32:
        raise InvalidInput("cursor: not a cursor this API returned")
    return filed_at, appeal_id


def _cursor_out(after: tuple[str, str] | None) -> str | None:
    if after is None:
        return None
    return base64.urlsafe_b64encode("|".join(after).encode()).decode().rstrip("=")


@router.get(
    "/v1/admin/appeals",
    response_model=out.AppealPageOut,
    responses={
        200: {
            "content": {"application/json": {"example": {"items": [APPEAL_EXAMPLE], "next": None}}}
        }
    },
)
def admin_appeals(
    actor: AdminActor,
    svc: ServicesDep,
    region: Annotated[str | None, Query(max_length=6)] = None,
    status: Annotated[Literal["open", "answered"] | None, Query()] = None,
    card: Annotated[str | None, Query(max_length=36)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> dict[str, Any]:
    """Appeals of cards issued in the caller's subtree or about checks at merchants in it
    (`region` narrows to either side in that subtree; `card`, a card_id, to one card's),
    each with the verdict as decided."""
    card_id = None if card is None else parse_id(card)
    if card is not None and card_id is None:
        raise InvalidInput("card must be a card_id (a UUID)")
    where = actor.region
    if region is not None:
        require_region(region)
        if not region_table.regions().is_within(region, actor.region):
            raise Forbidden(f"region {region} is outside the caller's region {actor.region}")
        where = region
    before = _cursor_in(cursor)
    with svc.db.read() as tx:
        rows, after = appeals_in(
            tx, where, status=status, before=before, limit=limit, card_id=card_id
        )
    items = []
    for row in rows:
        appeal = svc.ledger.appeal(row.appeal_id)
        items.append(appeal_view(appeal, svc.ledger.appeal_text(appeal)))
    return {"items": items, "next": _cursor_out(after)}


@router.post(
    "/v1/admin/appeals/{appeal_id}/answer",
    response_model=out.AppealOut,
    openapi_extra=body_doc(AnswerIn),
)
def answer_appeal(
    appeal_id: str,
    actor: AdminActor,
    body: Annotated[AnswerIn, Depends(json_body(AnswerIn))],
    svc: ServicesDep,
    key: IdempotencyKey,
) -> dict[str, Any]:
    """Once (a second answer is 409 `already_answered`); the holder gets a notice."""
    reply = refuse_controls(body.reply, "reply")
    parsed = parse_id(appeal_id)
    if parsed is None:
        raise NotFound(f"no appeal {appeal_id}")
    if key:
        current = svc.ledger.appeal_for(parsed, actor)
        if current.status == "answered" and current.reply == reply.strip():
            return appeal_view(current, svc.ledger.appeal_text(current))
    appeal = svc.ledger.answer_appeal(parsed, body.outcome, reply, actor)
    return appeal_view(appeal, svc.ledger.appeal_text(appeal))
