"""Bureau endpoints of holder services: the printed card (`card.pdf`) for a holder without a
smartphone."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from cardservice.api.deps import AdminActor, ServicesDep
from cardservice.api.routes.cards import load_card_id
from cardservice.domain import regions as region_table
from cardservice.domain.errors import Conflict
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
        photo=None,
    )
    pdf = render_card_pdf(printed)
    headers = {
        "Cache-Control": "no-store",
        "Content-Disposition": f'inline; filename="card-{card.card_number}.pdf"',
    }
    return Response(pdf, media_type="application/pdf", headers=headers)
