"""Administrator tokens and merchant registration, scoped by region subtree."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from cardservice.api import responses as out
from cardservice.api.deps import (
    AdminActor,
    ScopedIdempotencyKey,
    ServicesDep,
    body_doc,
    json_body,
    parse_id,
)
from cardservice.api.schemas import MerchantIn, MintTokenIn, ReasonIn
from cardservice.domain.errors import NotFound
from cardservice.domain.merchants import Merchant

router = APIRouter(prefix="/v1/admin", tags=["admin: access"])


def merchant_view(merchant: Merchant) -> dict[str, Any]:
    return {
        "merchant_id": str(merchant.id),
        "name": merchant.name,
        "region": merchant.region,
        "kind": merchant.kind,
        "categories": merchant.categories,
        "a_level": merchant.a_level,
        "require_device_binding": merchant.require_device_binding,
        "active": merchant.active,
    }


@router.post(
    "/tokens",
    status_code=201,
    response_model=out.TokenOut,
    openapi_extra=body_doc(MintTokenIn),
)
def mint_token(
    request: Request,
    response: Response,
    actor: AdminActor,
    body: Annotated[MintTokenIn, Depends(json_body(MintTokenIn))],
    svc: ServicesDep,
    key: ScopedIdempotencyKey,
) -> dict[str, Any]:
    """A new token, its secret shown once; a replay under the same `Idempotency-Key`
    answers the same token with `token: null` and mints nothing."""
    minted = svc.catalog.mint(
        body.role,
        body.region,
        actor,
        body.expires_in_days,
        command_id=key,
        request_digest=request.state.body_digest,
    )
    view: dict[str, Any] = {
        "token": minted.token,
        "token_id": str(minted.token_id),
        "role": body.role,
        "region": body.region,
        "expires_at": minted.expires_at.astimezone(UTC).isoformat(),
    }
    if minted.token is None:
        view["detail"] = "replayed: the token was shown once and is not stored"
        response.headers["Idempotent-Replayed"] = "true"
    return view


@router.post(
    "/tokens/{token_id}/revoke",
    response_model=out.TokenRevokedOut,
    openapi_extra=body_doc(ReasonIn),
)
def revoke_token(
    request: Request,
    token_id: str,
    actor: AdminActor,
    body: Annotated[ReasonIn, Depends(json_body(ReasonIn))],
    svc: ServicesDep,
    key: ScopedIdempotencyKey,
) -> dict[str, Any]:
    parsed = parse_id(token_id)
    if parsed is None:
        raise NotFound(f"no token {token_id}")
    svc.catalog.revoke_token(
        parsed, body.reason, actor, command_id=key, request_digest=request.state.body_digest
    )
    return {"token_id": token_id, "revoked": True}


@router.post(
    "/merchants",
    status_code=201,
    response_model=out.MerchantCreatedOut,
    openapi_extra=body_doc(MerchantIn),
)
def register_merchant(
    request: Request,
    actor: AdminActor,
    body: Annotated[MerchantIn, Depends(json_body(MerchantIn))],
    svc: ServicesDep,
    key: ScopedIdempotencyKey,
) -> JSONResponse:
    result = svc.catalog.register_merchant(
        name=body.name,
        region=body.region,
        kind=body.kind,
        categories=body.categories,
        a_level=body.a_level,
        require_device_binding=body.require_device_binding,
        actor=actor,
        command_id=key,
        request_digest=request.state.body_digest,
    )
    view = merchant_view(result.merchant)
    if result.api_key is not None:
        view["api_key"] = result.api_key
    else:
        view["api_key"] = None
        view["detail"] = "replayed: the API key was shown once and is not stored"
    return JSONResponse(view, status_code=201)


def _merchant_id(merchant_id: str) -> Any:
    parsed = parse_id(merchant_id)
    if parsed is None:
        raise NotFound(f"no merchant {merchant_id}")
    return parsed


@router.get("/merchants/{merchant_id}", response_model=out.MerchantOut)
def get_merchant(merchant_id: str, actor: AdminActor, svc: ServicesDep) -> dict[str, Any]:
    from cardservice.application import require_scope

    merchant = svc.catalog.merchant(_merchant_id(merchant_id))
    require_scope(actor, merchant.region, "read")
    return merchant_view(merchant)


@router.post(
    "/merchants/{merchant_id}/deactivate",
    response_model=out.MerchantOut,
    openapi_extra=body_doc(ReasonIn),
)
def deactivate_merchant(
    request: Request,
    merchant_id: str,
    actor: AdminActor,
    body: Annotated[ReasonIn, Depends(json_body(ReasonIn))],
    svc: ServicesDep,
    key: ScopedIdempotencyKey,
) -> dict[str, Any]:
    merchant = svc.catalog.deactivate_merchant(
        _merchant_id(merchant_id),
        body.reason,
        actor,
        command_id=key,
        request_digest=request.state.body_digest,
    )
    return merchant_view(merchant)


@router.post("/merchants/{merchant_id}/rotate-key", response_model=out.MerchantKeyOut)
def rotate_merchant_key(
    merchant_id: str,
    response: Response,
    actor: AdminActor,
    svc: ServicesDep,
    key: ScopedIdempotencyKey,
) -> dict[str, Any]:
    """A new API key, shown once; a replay under the same `Idempotency-Key` answers
    `api_key: null` and rotates nothing."""
    api_key = svc.catalog.rotate_merchant_key(_merchant_id(merchant_id), actor, command_id=key)
    view: dict[str, Any] = {"merchant_id": merchant_id, "api_key": api_key}
    if api_key is None:
        view["detail"] = "replayed: the API key was shown once and is not stored"
        response.headers["Idempotent-Replayed"] = "true"
    return view
