"""The bureau console's lists and edits: merchants, tokens and imports over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ConfigDict, Field, StringConstraints

from cardservice.api import responses as out
from cardservice.api.deps import (
    AdminActor,
    IdempotencyKey,
    ScopedIdempotencyKey,
    ServicesDep,
    body_doc,
    json_body,
    parse_id,
)
from cardservice.api.errors import ApiError
from cardservice.api.routes import console_examples as ex
from cardservice.api.routes.access import merchant_view
from cardservice.api.routes.search import page_limit
from cardservice.api.schemas import Strict
from cardservice.application import require_region, require_scope
from cardservice.domain.errors import InvalidInput, NotFound
from cardservice.domain.merchants import KINDS
from cardservice.http.fields import PRINTABLE_PATTERN
from projections.admin_cards import subtree_prefix
from projections.merchants import MerchantRow, list_merchants
from projections.tokens import list_tokens

router = APIRouter(prefix="/v1/admin", tags=["admin: console"])


def _patch_schema(schema: dict[str, Any]) -> None:
    """What the route checks by hand, stated: at least one field, only `a_level` may be
    null, names and categories printable without surrounding spaces."""
    schema["minProperties"] = 1
    fields = schema["properties"]
    for key in ("name", "categories", "require_device_binding"):
        fields[key] = {**fields[key].pop("anyOf")[0], "title": fields[key]["title"]}
    fields["name"]["pattern"] = PRINTABLE_PATTERN
    fields["categories"]["items"]["pattern"] = PRINTABLE_PATTERN


class MerchantPatchIn(Strict):
    """The fields to change (at least one); `a_level: null` removes the A-level."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_patch_schema)

    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
        | None
    ) = None
    categories: (
        Annotated[
            list[Annotated[str, StringConstraints(min_length=1, max_length=40)]],
            Field(max_length=20),
        ]
        | None
    ) = None
    a_level: Annotated[int, Field(ge=1, le=5, strict=True)] | None = None
    require_device_binding: Annotated[bool, Field(strict=True)] | None = None


MAX_IMPORT_BYTES = 20 * 1024 * 1024
CSV_TYPES = ("text/csv",)


def _scope(actor: Any, region: str | None) -> str:
    scope = actor.region if region is None else region
    require_region(scope)
    require_scope(actor, scope, "read")
    return scope


def _row_view(row: MerchantRow) -> dict[str, Any]:
    return {
        "merchant_id": str(row.merchant_id),
        "name": row.name,
        "region": row.region,
        "kind": row.kind,
        "categories": list(row.categories),
        "a_level": row.a_level,
        "require_device_binding": row.require_device_binding,
        "active": row.active,
    }


@router.get("/merchants", response_model=out.MerchantPageOut, responses=ex.MERCHANTS)
def merchants(
    actor: AdminActor,
    svc: ServicesDep,
    region: str | None = None,
    kind: str | None = None,
    active: str | None = None,
    cursor: str | None = None,
    limit: str | None = None,
) -> dict[str, Any]:
    """Merchants and scenic sites in the caller's subtree (`region` narrows), by `kind`
    and `active` (`true`|`false`); `next` pages on. Reads a view (may lag)."""
    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}")
    if active not in (None, "true", "false"):
        raise InvalidInput("active must be true or false")
    if cursor is not None and parse_id(cursor) is None:
        raise InvalidInput("cursor is not one this server gave")
    size = page_limit(limit)
    scope = _scope(actor, region)
    rows, after = list_merchants(
        svc.db,
        region_prefix=subtree_prefix(scope),
        kind=kind,
        active=None if active is None else active == "true",
        after=None if cursor is None else str(parse_id(cursor)),
        limit=size,
    )
    return {"items": [_row_view(r) for r in rows], "next": after}


@router.patch(
    "/merchants/{merchant_id}",
    response_model=out.MerchantOut,
    openapi_extra=body_doc(MerchantPatchIn),
    responses=ex.MERCHANT_EDITED,
)
def edit_merchant(
    request: Request,
    merchant_id: str,
    actor: AdminActor,
    body: Annotated[MerchantPatchIn, Depends(json_body(MerchantPatchIn))],
    svc: ServicesDep,
    key: ScopedIdempotencyKey,
) -> dict[str, Any]:
    """Change `name`, `categories`, `a_level` (null removes it) or
    `require_device_binding`; recorded as a `Merchant.Updated` event."""
    changes = {k: getattr(body, k) for k in body.model_fields_set}
    if not changes:
        raise InvalidInput("give at least one of name, categories, a_level, require_device_binding")
    for field in ("name", "categories", "require_device_binding"):
        if field in changes and changes[field] is None:
            raise InvalidInput(f"{field} may not be null")
    parsed = parse_id(merchant_id)
    if parsed is None:
        raise NotFound(f"no merchant {merchant_id}")
    merchant = svc.catalog.update_merchant(
        parsed, changes, actor, command_id=key, request_digest=request.state.body_digest
    )
    return merchant_view(merchant)


@router.get("/tokens", response_model=out.TokenPageOut, responses=ex.TOKENS)
def tokens(actor: AdminActor, svc: ServicesDep, region: str | None = None) -> dict[str, Any]:
    """Tokens whose region lies in the subtree; never the secret. `revoked` is true for a
    token minted under a revoked one too."""
    scope = _scope(actor, region)
    return {"items": list_tokens(svc.db, scope, svc.clock.now()), "next": None}


def _import_view(job: Any, now: datetime) -> dict[str, Any]:
    status, reason = job.state(now)
    view: dict[str, Any] = {
        "import_id": str(job.id),
        "status": status,
        "total": job.total,
        "imported": job.imported,
        "skipped": job.skipped,
        "rejected": job.rejected,
    }
    if status == "failed":
        view["reason"] = reason
    return view


@router.post(
    "/imports",
    status_code=202,
    response_model=out.ImportStartedOut,
    openapi_extra=ex.CSV_BODY,
    responses=ex.IMPORT_STARTED,
)
async def start_import(
    request: Request, actor: AdminActor, svc: ServicesDep, key: IdempotencyKey
) -> JSONResponse:
    """A CSV as for `cardservice import` (at most 20 MiB): 202 `{"import_id"}`, then poll
    `GET /v1/admin/imports/{import_id}`."""
    data = await read_csv(request)
    import_id, replayed = svc.ledger.start_import(data, actor, command_id=key)
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse({"import_id": str(import_id)}, status_code=202, headers=headers)


async def read_csv(request: Request) -> bytes:
    """The upload, 413 as soon as it passes 20 MiB (declared or streamed), then 415 unless
    it is text/csv: the contract's order."""
    declared = request.headers.get("content-length", "")
    if declared and (not declared.isascii() or not declared.isdigit()):
        raise ApiError(400, "bad_request", "invalid Content-Length")
    if declared and int(declared) > MAX_IMPORT_BYTES:
        raise ApiError(413, "payload_too_large", f"body over {MAX_IMPORT_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_IMPORT_BYTES:
            raise ApiError(413, "payload_too_large", f"body over {MAX_IMPORT_BYTES} bytes")
        chunks.append(chunk)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in CSV_TYPES:
        raise ApiError(415, "unsupported_media_type", "send the file as text/csv")
    return b"".join(chunks)


def _job(import_id: str, actor: Any, svc: Any) -> Any:
    parsed = parse_id(import_id)
    if parsed is None:
        raise NotFound(f"no import {import_id}")
    return svc.ledger.import_job(parsed, actor)


@router.get("/imports/{import_id}", response_model=out.ImportOut, responses=ex.IMPORT_PROGRESS)
def import_progress(import_id: str, actor: AdminActor, svc: ServicesDep) -> dict[str, Any]:
    """`running` or `done` with the counts so far (`failed` with a `reason`: the file could
    not be read, or the import was interrupted and recorded nothing for 5 minutes)."""
    return _import_view(_job(import_id, actor, svc), svc.clock.now())


@router.get("/imports/{import_id}/rejects.csv", response_class=Response, responses=ex.REJECTS)
def import_rejects(import_id: str, actor: AdminActor, svc: ServicesDep) -> Response:
    """The input's header plus `line,reason`, one rejected row a line."""
    job = _job(import_id, actor, svc)
    return Response(
        svc.ledger.rejects_csv(job).encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="rejects-{job.id}.csv"'},
    )
