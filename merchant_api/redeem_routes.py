"""Redemption routes: parse, authenticate, call `RedemptionDesk`, render.

Order of refusals is the contract's: 401 (merchant key), 413 and 422 (body), then the
use case's 404, 422 and 409 (`already_redeemed` before `limit_reached`).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from cardservice.http.body import BodyKind, parse_json_object, read_body, text_problem
from cardservice.http.jsonbody import IdempotencyKey, body_doc, json_body, validation_text
from cardservice.http.problems import ApiError
from merchant_api.redeem import Refused
from merchant_api.routes import (
    PAGE_DEFAULT,
    ApiDep,
    Cursor,
    Limit,
    LogPage,
    MerchantDep,
    errors,
    parse_cursor,
)
from merchant_api.sessions import SessionCardId

router = APIRouter(tags=["redemptions"])

OFFLINE_ITEMS = 500
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
Identifier = Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
Companions = Annotated[StrictInt, Field(ge=0, le=10)]


class RedeemIn(BaseModel):
    """Redeem one benefit of a verdict this merchant received (within 15 minutes)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "verification_id": "5b0e4c1e-8d1f-4c33-a2f4-3f2f4f7f9a10",
                    "benefit_id": "scenic-free",
                    "companions": 1,
                }
            ]
        },
    )
    verification_id: Identifier
    benefit_id: Identifier
    companions: Companions = 0


class RedemptionOut(BaseModel):
    redemption_id: str
    verification_id: str | None
    benefit_id: str
    benefit_region: str
    companions: int
    remaining: int | None
    redeemed_at: str
    status: str


class OfflineItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    qr: Annotated[StrictStr, Field(max_length=4096)]
    benefit_id: Identifier
    redeemed_at: Annotated[StrictStr, Field(max_length=40)]
    companions: Companions = 0


class OfflineIn(BaseModel):
    """What a merchant granted offline, each item judged as of its `redeemed_at`."""

    model_config = ConfigDict(extra="forbid")
    items: Annotated[list[OfflineItem], Field(max_length=OFFLINE_ITEMS)]


class OfflineResult(BaseModel):
    model_config = ConfigDict(extra="allow")
    index: int
    redemption_id: str | None
    status: str


class OfflineOut(BaseModel):
    results: list[OfflineResult]


def parse_moment(value: str, where: str) -> datetime:
    """RFC 3339 with an offset, ASCII digits only."""
    if not value.isascii() or not _RFC3339.fullmatch(value):
        raise ApiError(422, "invalid", f"{where}: not an RFC 3339 time with an offset")
    try:
        return datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        raise ApiError(422, "invalid", f"{where}: not a calendar time") from None


async def offline_body(request: Request) -> OfflineIn:
    raw = await read_body(request, BodyKind.OFFLINE_BATCH)
    # Every string is clean text, but a `qr` that is no card is judged per item (refused).
    data = parse_json_object(raw, exempt=frozenset({"items"}))
    items = data.get("items")
    for item in items if isinstance(items, list) else ():
        problem = text_problem(item, frozenset({"qr"})) if isinstance(item, dict) else None
        if problem:
            raise ApiError(422, "invalid", f"items: {problem}")
    try:
        return OfflineIn.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "invalid", validation_text(exc)) from None


def refused(exc: Refused) -> ApiError:
    return ApiError(exc.status, exc.code, exc.detail)


@router.post(
    "/v1/redemptions",
    status_code=201,
    response_model=RedemptionOut,
    responses=errors(401, 404, 409, 413, 422),
    openapi_extra=body_doc(RedeemIn),
)
def redeem(
    request: Request,
    who: MerchantDep,
    api: ApiDep,
    body: Annotated[RedeemIn, Depends(json_body(RedeemIn))],
    key: IdempotencyKey,
) -> JSONResponse:
    try:
        answer = api.desk.redeem(
            who,
            body.verification_id,
            body.benefit_id,
            body.companions,
            key=key,
            digest=request.state.body_digest,
        )
    except Refused as exc:
        raise refused(exc) from None
    return JSONResponse(answer, status_code=201)


@router.post(
    "/v1/redemptions/offline",
    response_model=OfflineOut,
    responses=errors(401, 413, 422),
    openapi_extra=body_doc(OfflineIn),
)
def redeem_offline(
    who: MerchantDep, api: ApiDep, body: Annotated[OfflineIn, Depends(offline_body)]
) -> dict[str, Any]:
    items = [
        {
            "qr": item.qr,
            "benefit_id": item.benefit_id,
            "redeemed_at": parse_moment(item.redeemed_at, f"items[{i}].redeemed_at"),
            "companions": item.companions,
        }
        for i, item in enumerate(body.items)
    ]
    return {"results": api.desk.offline(who, items)}


@router.get("/v1/redemptions", response_model=LogPage, responses=errors(401, 422))
def merchant_redemptions(
    who: MerchantDep, api: ApiDep, cursor: Cursor = None, limit: Limit = PAGE_DEFAULT
) -> dict[str, Any]:
    return api.desk.page("merchant_id", str(who.merchant_id), parse_cursor(cursor), limit)


@router.get("/v1/cards/{card_id}/redemptions", response_model=LogPage, responses=errors(401, 422))
def card_redemptions(
    card_id: SessionCardId, api: ApiDep, cursor: Cursor = None, limit: Limit = PAGE_DEFAULT
) -> dict[str, Any]:
    return api.desk.page("card_id", str(card_id), parse_cursor(cursor), limit)
