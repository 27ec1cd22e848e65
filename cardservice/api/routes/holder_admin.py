"""Bureau endpoints of holder services: the photo at the gate, the printed card
(`card.pdf`) for a holder without a smartphone, and unbinding a card from a phone."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from cardservice.api import responses as out
from cardservice.api.deps import (
    AdminActor,
    IdempotencyKey,
    ServicesDep,
    body_doc,
    json_body,
)
from cardservice.api.errors import ApiError
from cardservice.api.presenters import card_view
from cardservice.api.routes.cards import load_card_id
from cardservice.api.schemas import ReasonIn
from cardservice.application.photos import is_image
from cardservice.domain import regions as region_table
from cardservice.domain.errors import Conflict
from cardservice.http.body import BodyKind, read_body
from cardservice.printing import PrintedCard, render_card_pdf

router = APIRouter(prefix="/v1/admin/cards", tags=["admin: holder services"])


class CardBound(Conflict):
    """A card bound to a phone lives only as live presentations: no static print."""

    code = "card_bound"


class CardNotPrintable(Conflict):
    code = "card_revoked"


PDF_EXAMPLE = {"application/pdf": {"example": "%PDF-1.3 ..."}}


@router.get(
    "/{card_id}/card.pdf",
    response_class=Response,
    responses={200: {"content": PDF_EXAMPLE, "description": "A printable card (A6)"}},
)
def card_pdf(card_id: str, actor: AdminActor, svc: ServicesDep) -> Response:
    """The printable card (full name, category, number, photo, static QR 40 mm wide);
    409 `card_bound` for a card bound to a phone (unbind it first), 409 for a revoked one."""
    card = svc.ledger.card_for(load_card_id(card_id), actor, "cards")
    if card.device_key is not None:
        raise CardBound("the card is bound to a phone; unbind it before printing it")
    if card.status == "revoked":
        raise CardNotPrintable("a revoked card cannot be printed")
    personal = svc.ledger.holder_personal(card.holder_id)
    if personal is None:
        raise CardNotPrintable("the holder's personal data was erased")
    card = svc.ledger.refresh_signature(card)
    printed = PrintedCard(
        full_name=str(personal["name"]),
        category=card.category,
        card_number=card.card_number,
        region_name=region_table.regions().full_name(card.region),
        expires=card.expires_on,
        qr=svc.ledger.credential_for(card),
        photo=photo[1] if (photo := svc.ledger.photo_of(card.holder_id)) else None,
    )
    pdf = render_card_pdf(printed)
    headers = {
        "Cache-Control": "no-store",
        "Content-Disposition": f'inline; filename="card-{card.card_number}.pdf"',
    }
    return Response(pdf, media_type="application/pdf", headers=headers)


@router.put(
    "/{card_id}/photo",
    status_code=204,
    response_class=Response,
    responses={415: {"description": "Not a JPEG or PNG (by type and magic bytes)"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                "image/png": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def put_photo(
    request: Request, card_id: str, actor: AdminActor, svc: ServicesDep
) -> Response:
    """The holder's photo (`image/jpeg` or `image/png`, at most 100 KiB; 413 over it, 415
    for any other type or bytes that are not one): sealed with the holder's data key."""
    data = await read_body(request, BodyKind.PHOTO)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not is_image(content_type, data):
        raise ApiError(
            415, "unsupported_media_type", "send a JPEG or PNG photo (image/jpeg, image/png)"
        )
    svc.ledger.set_photo(load_card_id(card_id), content_type, data, actor)
    return Response(status_code=204)


@router.post("/{card_id}/unbind", response_model=out.CardOut, openapi_extra=body_doc(ReasonIn))
def unbind(
    card_id: str,
    actor: AdminActor,
    body: Annotated[ReasonIn, Depends(json_body(ReasonIn))],
    svc: ServicesDep,
    key: IdempotencyKey,
) -> dict[str, Any]:
    """Reissue the card without a device key (the holder gave up the phone): the phone's
    codes become `superseded`; 409 for a card not bound to a phone."""
    card = svc.ledger.unbind(load_card_id(card_id), body.reason, actor, key or "")
    return card_view(card, svc.ledger.now())
