"""Holder endpoints, opened by the token of the card's live session: the card, its QR
image, device binding, and ending the session ("remove from this phone")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import Response

from cardservice import credentials
from cardservice.api import presenters
from cardservice.api import responses as out
from cardservice.api.deps import (
    HolderCardId,
    ServicesDep,
    bearer,
    body_doc,
    json_body,
    unauthorized,
)
from cardservice.api.schemas import DeviceKeyIn
from cardservice.domain.errors import InvalidInput
from cardservice.domain.policy import DEVICE_BINDINGS_PER_DAY

router = APIRouter(prefix="/v1/cards", tags=["holder"])

NO_STORE = {"Cache-Control": "no-store"}


def _current_qr(svc: ServicesDep, card_id: Any) -> str:
    card = svc.ledger.refresh_signature(svc.ledger.card(card_id))
    return svc.ledger.credential_for(card)


@router.get("/{card_id}", response_model=out.HolderCardOut)
def holder_card(card_id: HolderCardId, svc: ServicesDep) -> dict[str, Any]:
    card = svc.ledger.card(card_id)
    view = presenters.card_view(card, svc.ledger.now())
    view.pop("holder_id", None)
    view["qr"] = _current_qr(svc, card_id)
    return view


@router.get(
    "/{card_id}/qr.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "The QR as SVG"}},
)
def qr_svg(card_id: HolderCardId, svc: ServicesDep) -> Response:
    svg = credentials.render_svg(_current_qr(svc, card_id))
    return Response(svg, media_type="image/svg+xml", headers=NO_STORE)


@router.get(
    "/{card_id}/qr.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The QR as PNG"}},
)
def qr_png(card_id: HolderCardId, svc: ServicesDep) -> Response:
    png = credentials.render_png(_current_qr(svc, card_id))
    return Response(png, media_type="image/png", headers=NO_STORE)


@router.post(
    "/{card_id}/device-key",
    response_model=out.DeviceKeyOut,
    openapi_extra=body_doc(DeviceKeyIn),
    responses={
        429: {
            "description": f"Bound {DEVICE_BINDINGS_PER_DAY} times today (Asia/Shanghai); "
            "Retry-After gives the seconds to the next day"
        }
    },
)
def bind_device_key(
    card_id: HolderCardId,
    body: Annotated[DeviceKeyIn, Depends(json_body(DeviceKeyIn))],
    svc: ServicesDep,
) -> dict[str, Any]:
    try:
        device_key = credentials.DeviceKey.from_jwk(body.jwk.model_dump())
    except credentials.CredentialError as exc:
        raise InvalidInput(f"jwk: {exc}") from None
    card = svc.ledger.bind_device_key(card_id, device_key)
    return {"qr": svc.ledger.credential_for(card), "version": card.card_version}


@router.delete(
    "/{card_id}/session",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "This phone's session ended"}},
)
def end_session(
    card_id: HolderCardId,
    svc: ServicesDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    """ "Remove from this phone": this phone's session ends; its token is refused from now on
    (on the merchant API's holder log within the view lag)."""
    token = bearer(authorization)
    if token is None or not svc.ledger.end_session(card_id, token):
        raise unauthorized()  # ended meanwhile (another phone activated)
    return Response(status_code=204, headers=NO_STORE)
