"""Administrators' card endpoints: issue, look up, suspend, reinstate, revoke, and a new
one-time activation code for a holder's (new) phone."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from cardservice.api import presenters
from cardservice.api import responses as out
from cardservice.api.deps import (
    AdminActor,
    ScopedIdempotencyKey,
    ServicesDep,
    body_doc,
    json_body,
    parse_id,
)
from cardservice.api.schemas import IssueCardIn, ReasonIn, RequiredReasonIn
from cardservice.application import ActivationGrant, IssueCardRequest
from cardservice.bootstrap.write import WriteSide
from cardservice.domain.actors import Actor
from cardservice.domain.cards import Card
from cardservice.domain.errors import NotFound

router = APIRouter(prefix="/v1/admin/cards", tags=["admin: cards"])


def load_card_id(card_id: str) -> Any:
    parsed = parse_id(card_id)
    if parsed is None:
        raise NotFound(f"no card {card_id}")
    return parsed


def activation_response(grant: ActivationGrant | None) -> dict[str, Any]:
    """The one-time code as typed (`ABCDE-23456`) and as a link (`/holder#activate=...`)."""
    if grant is None:  # a card issued before activation codes existed
        return {"activation_code": None, "activation_url": None, "activation_expires_at": None}
    return {
        "activation_code": grant.display,
        "activation_url": grant.url,
        "activation_expires_at": grant.expires_at.astimezone(UTC).isoformat(),
    }


def issued_response(
    svc: WriteSide, card: Card, activation: ActivationGrant | None = None
) -> dict[str, Any]:
    return {
        "card_id": str(card.id),
        "card_number": card.card_number,
        "status": "active",
        "qr": svc.ledger.credential_for(card),
        "expires": card.expires_on,
        "version": card.card_version,
        **activation_response(activation),
    }


@router.post(
    "",
    status_code=201,
    response_model=out.IssuedCardOut,
    openapi_extra=body_doc(IssueCardIn),
)
def issue_card(
    request: Request,
    actor: AdminActor,
    body: Annotated[IssueCardIn, Depends(json_body(IssueCardIn))],
    svc: ServicesDep,
    key: ScopedIdempotencyKey,
) -> JSONResponse:
    result = svc.ledger.issue_card(
        IssueCardRequest(
            name=body.holder.name,
            id_number=body.holder.id_number,
            category=body.holder.category,
            region=body.region,
            phone=body.holder.phone,
            valid_years=body.valid_years,
        ),
        actor,
        command_id=key,
        request_digest=request.state.body_digest,
    )
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    body_out = issued_response(svc, result.card, result.activation)
    return JSONResponse(body_out, status_code=201, headers=headers)


@router.get("/{card_id}", response_model=out.CardWithHistoryOut)
def get_card(card_id: str, actor: AdminActor, svc: ServicesDep) -> dict[str, Any]:
    card = svc.ledger.card_for(load_card_id(card_id), actor)
    view = presenters.card_view(card, svc.ledger.now())
    view["history"] = presenters.history(svc.ledger, card.id)
    return view


@router.post(
    "/{card_id}/activation",
    status_code=201,
    response_model=out.ActivationCodeOut,
    openapi_extra=body_doc(ReasonIn),
)
def new_activation_code(
    card_id: str,
    actor: AdminActor,
    body: Annotated[ReasonIn, Depends(json_body(ReasonIn))],
    svc: ServicesDep,
    key: ScopedIdempotencyKey,
) -> JSONResponse:
    """A fresh one-time activation code (a new or lost phone); older unused codes stop
    working. Body `{"reason"?}`."""
    result = svc.ledger.new_activation_code(load_card_id(card_id), actor, body.reason, key)
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    payload = {"card_id": str(result.grant.card_id), **activation_response(result.grant)}
    return JSONResponse(payload, status_code=201, headers=headers)


def _change(
    svc: WriteSide, card_id: str, action: str, reason: str, actor: Actor, key: str | None
) -> dict[str, Any]:
    card = svc.ledger.change_status(load_card_id(card_id), action, reason, actor, key or "")
    return presenters.card_view(card, svc.ledger.now())


# One route per transition, so each documents its own body (revoke and suspend need a reason).
_STATUS_ROUTE: dict[str, Any] = {"response_model": out.CardOut}


@router.post("/{card_id}/revoke", openapi_extra=body_doc(RequiredReasonIn), **_STATUS_ROUTE)
def revoke_card(
    card_id: str,
    actor: AdminActor,
    body: Annotated[RequiredReasonIn, Depends(json_body(RequiredReasonIn))],
    svc: ServicesDep,
    key: ScopedIdempotencyKey,
) -> dict[str, Any]:
    return _change(svc, card_id, "revoke", body.reason, actor, key)


@router.post("/{card_id}/suspend", openapi_extra=body_doc(RequiredReasonIn), **_STATUS_ROUTE)
def suspend_card(
    card_id: str,
    actor: AdminActor,
    body: Annotated[RequiredReasonIn, Depends(json_body(RequiredReasonIn))],
    svc: ServicesDep,
    key: ScopedIdempotencyKey,
) -> dict[str, Any]:
    return _change(svc, card_id, "suspend", body.reason, actor, key)


@router.post("/{card_id}/reinstate", openapi_extra=body_doc(ReasonIn), **_STATUS_ROUTE)
def reinstate_card(
    card_id: str,
    actor: AdminActor,
    body: Annotated[ReasonIn, Depends(json_body(ReasonIn))],
    svc: ServicesDep,
    key: ScopedIdempotencyKey,
) -> dict[str, Any]:
    return _change(svc, card_id, "reinstate", body.reason, actor, key)
