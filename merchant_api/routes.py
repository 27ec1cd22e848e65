"""Merchant API routes: parse, authenticate, call `MerchantApi`, render. Nothing else.

Order of refusals is the contract's: 401 (merchant key), 413 and 422 (body), 429 (rate).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict

from cardservice.http.auth import bearer, unauthorized
from cardservice.http.jsonbody import body_doc, json_body
from cardservice.http.problems import PROBLEM_MEDIA_TYPE, ApiError
from merchant_api import log_pages
from merchant_api.core import STATUSES
from merchant_api.metrics import scrape_allowed
from merchant_api.service import MerchantApi
from merchant_api.sessions import SessionCardId
from projections.merchants import MerchantRow

router = APIRouter(tags=["merchant"])

PAGE_DEFAULT = 50
PAGE_MAX = 500
COSE_MEDIA_TYPE = "application/cose"


async def merchant_api(request: Request) -> MerchantApi:
    api: MerchantApi = request.app.state.merchant_api
    return api


ApiDep = Annotated[MerchantApi, Depends(merchant_api)]


def merchant_of(request: Request) -> MerchantRow:
    """The merchant behind the `Authorization: Bearer` API key (401 otherwise).

    Reads the header directly: this runs on every verification, and a declared header
    parameter costs FastAPI more than the lookup itself."""
    api: MerchantApi = request.app.state.merchant_api
    found = api.authenticate(bearer(request.headers.get("authorization")))
    if found is None:
        raise unauthorized()
    return found


def merchant(request: Request) -> MerchantRow:
    """A worker thread's dependency: a cache refill must not stall the event loop."""
    return merchant_of(request)


MerchantDep = Annotated[MerchantRow, Depends(merchant)]


class VerifyIn(BaseModel):
    """`qr` is never refused: text that is no card (any value, any character) is the
    verdict `malformed`."""

    model_config = ConfigDict(extra="ignore")
    qr: Annotated[str, BeforeValidator(lambda v: v if isinstance(v, str) else "")]


class CardOut(BaseModel):
    card_number: str
    masked_name: str
    category: str
    region: str
    expires: str


class NotApplicableOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    reason: str
    message: str


class VerdictOut(BaseModel):
    valid: bool
    status: Literal[STATUSES]  # type: ignore[valid-type]
    card: CardOut | None
    benefits: list[dict[str, Any]]
    not_applicable: list[NotApplicableOut]
    presentation: Literal["static", "device_bound"] | None
    catalog_version: dict[str, int]
    checked_at: str
    verification_id: str
    photo_url: str | None = None
    """Valid verdicts of a card with a photo: GET it with the same key within 120 s."""


class ErrorOut(BaseModel):
    """Every refusal: RFC 9457 problem details with our `error` code."""

    type: str
    title: str
    status: int
    detail: str
    error: str


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorOut, "content": {PROBLEM_MEDIA_TYPE: {}}} for status in statuses}


class LogPage(BaseModel):
    items: list[dict[str, Any]]
    next: str | None


def parse_cursor(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 18:
        raise ApiError(422, "invalid", "cursor: not a cursor this API returned")
    return int(cursor)


Cursor = Annotated[str | None, Query(max_length=40)]
Limit = Annotated[int, Query(ge=1, le=PAGE_MAX)]


_verify_body = json_body(VerifyIn, digest=False, exempt=frozenset({"qr"}))


@router.post(
    "/v1/verify",
    response_model=None,
    responses={
        200: {"model": VerdictOut, "description": "The verdict (also for forged text)"},
        **errors(401, 413, 422, 429),
    },
    openapi_extra=body_doc(VerifyIn),
)
async def verify(request: Request) -> JSONResponse:
    """The hot path takes no FastAPI dependencies: solving them cost a seventh of the
    server's CPU per verification (py-spy). Same steps, same order of refusals."""
    api: MerchantApi = request.app.state.merchant_api
    token = bearer(request.headers.get("authorization"))
    answered, who = api.authenticate_from_memory(token)
    if not answered:
        who = await anyio.to_thread.run_sync(api.warm, token)
    if who is None:
        raise unauthorized()
    body = await _verify_body(request)
    retry = api.rate_limited(who)
    if retry is not None:
        raise ApiError(429, "rate_limited", "too many verifications", {"Retry-After": str(retry)})
    verdict, record = await api.adecide(who, body.qr)
    if not api.log.try_record(record):
        await anyio.to_thread.run_sync(api.log.record, record)  # back-pressure, off the loop
    return JSONResponse(verdict)


@router.get("/v1/verifications", response_model=LogPage, responses=errors(401, 422))
def merchant_verifications(
    who: MerchantDep, api: ApiDep, cursor: Cursor = None, limit: Limit = PAGE_DEFAULT
) -> dict[str, Any]:
    return log_pages.merchant_log(api.db, who, parse_cursor(cursor), limit)


@router.get("/v1/cards/{card_id}/verifications", response_model=LogPage, responses=errors(401, 422))
def card_verifications(
    card_id: SessionCardId, api: ApiDep, cursor: Cursor = None, limit: Limit = PAGE_DEFAULT
) -> dict[str, Any]:
    return log_pages.card_log(api.db, card_id, parse_cursor(cursor), limit)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


MERCHANT_POLICY_DOC = {
    "description": "The merchant's own policy for offline checks, beside the signed bundle "
    '(compact JSON): `{"kind", "categories", "a_level", "require_device_binding"}`',
    "schema": {"type": "string"},
    "example": '{"kind":"merchant","categories":["dining"],"a_level":null,'
    '"require_device_binding":false}',
}
ETAG_DOC = {"description": "The hash of the signed bytes", "schema": {"type": "string"}}


@router.get(
    "/v1/offline-bundle",
    response_class=Response,
    responses={
        200: {
            "content": {COSE_MEDIA_TYPE: {}},
            "description": "The bundle of the merchant's region as the write side signed "
            "and stored it (COSE_Sign1 by an active `bundle` key)",
            "headers": {"ETag": ETAG_DOC, "Merchant-Policy": MERCHANT_POLICY_DOC},
        },
        304: {
            "description": "Not modified (If-None-Match names the stored bundle's ETag)",
            "headers": {"ETag": ETAG_DOC, "Merchant-Policy": MERCHANT_POLICY_DOC},
        },
        **errors(401, 429, 503),
    },
)
def offline_bundle(
    who: MerchantDep,
    api: ApiDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Serves stored bytes: nothing is built, signed or scanned here (a 304 reads the
    stored ETag alone). Rate-limited per merchant, 304s included."""
    retry = api.bundles.rate_limited(who)
    if retry is not None:
        raise ApiError(
            429, "rate_limited", "too many bundle downloads", {"Retry-After": str(retry)}
        )
    etag = api.bundles.etag(who) if if_none_match else None
    if etag is not None and _etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=_bundle_headers(etag, who, api))
    stored = api.bundles.stored(who)
    if stored is None:
        raise ApiError(
            503, "unavailable", "no bundle is signed for this region yet", {"Retry-After": "5"}
        )
    headers = _bundle_headers(stored.etag, who, api)
    if _etag_matches(if_none_match, stored.etag):  # re-signed between the two reads
        return Response(status_code=304, headers=headers)
    return Response(stored.bundle, media_type=COSE_MEDIA_TYPE, headers=headers)


def _bundle_headers(etag: str, who: MerchantRow, api: MerchantApi) -> dict[str, str]:
    return {
        "ETag": etag,
        "Cache-Control": "no-cache",
        "Merchant-Policy": api.bundles.merchant_policy(who),
    }


metrics_router = APIRouter(tags=["operations"])


@metrics_router.get(
    "/metrics",
    response_class=Response,
    responses={401: {"description": "CARDSERVICE_METRICS_TOKEN is set and not presented"}},
)
def metrics(api: ApiDep, authorization: Annotated[str | None, Header()] = None) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST

    if not scrape_allowed(api.settings.metrics_token, bearer(authorization)):
        raise unauthorized("metrics need the metrics token")
    return Response(api.metrics.render(), media_type=CONTENT_TYPE_LATEST)
