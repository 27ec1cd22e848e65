"""The holder's inbox: `GET /v1/cards/{card_id}/notices` (holder token), newest first;
the same notices for the bureau's card detail at `GET /v1/admin/cards/{card_id}/notices`."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from cardservice.api.deps import AdminActor, HolderCardId, ServicesDep
from cardservice.api.routes.cards import load_card_id
from cardservice.clock import today_in_shanghai
from projections.notices import notices_of_card

router = APIRouter(prefix="/v1/cards", tags=["holder"])
admin_router = APIRouter(prefix="/v1/admin/cards", tags=["admin: cards"])

NoticeKind = Literal[
    "suspended",
    "reinstated",
    "revoked",
    "reissued",
    "activation_code",
    "expiring",
    "appeal_answered",
]


class NoticeOut(BaseModel):
    id: str
    at: str
    kind: NoticeKind
    message: str
    message_en: str


class NoticePage(BaseModel):
    items: list[NoticeOut]
    next: str | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": "5b0c7f0e-2f0a-5d7e-9c1b-0d4b6f1e2a3c",
                            "at": "2026-06-01T02:00:00+00:00",
                            "kind": "suspended",
                            "message": "您的优待证已被暂停使用。原因：核查中",
                            "message_en": "Your card has been suspended. Reason: under review",
                        }
                    ],
                    "next": None,
                }
            ]
        }
    )


def _page(svc: ServicesDep, card_id: UUID) -> NoticePage:
    card = svc.ledger.card(card_id)
    expires_on = None if card.status == "revoked" else str(card.expires_on)
    with svc.db.read() as tx:
        found = notices_of_card(tx, card_id, today_in_shanghai(svc.clock), expires_on)
    return NoticePage(items=[NoticeOut(**n.as_item()) for n in found])


@router.get("/{card_id}/notices", response_model=NoticePage)
def notices(card_id: HolderCardId, svc: ServicesDep) -> NoticePage:
    """Status changes, reissues, new activation codes, appeal answers and "expires in 30
    days", newest first. A view: a notice may trail its event by the projection lag."""
    return _page(svc, card_id)


@admin_router.get("/{card_id}/notices", response_model=NoticePage)
def card_notices(card_id: str, actor: AdminActor, svc: ServicesDep) -> NoticePage:
    """What the holder was told about this card, as in the holder's inbox, newest first
    (any role of the card's subtree: 403 outside it, 404 unknown; a view, may lag)."""
    card = svc.ledger.card_for(load_card_id(card_id), actor)
    return _page(svc, card.id)
