"""The holder's inbox: `GET /v1/cards/{card_id}/notices` (holder token), newest first."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from cardservice.api.deps import HolderCardId, ServicesDep
from cardservice.clock import today_in_shanghai
from projections.notices import notices_of_card

router = APIRouter(prefix="/v1/cards", tags=["holder"])

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


@router.get("/{card_id}/notices", response_model=NoticePage)
def notices(card_id: HolderCardId, svc: ServicesDep) -> NoticePage:
    """Status changes, reissues, new activation codes, appeal answers and "expires in 30
    days", newest first. A view: a notice may trail its event by the projection lag."""
    card = svc.ledger.card(card_id)
    expires_on = None if card.status == "revoked" else str(card.expires_on)
    with svc.db.read() as tx:
        found = notices_of_card(tx, card_id, today_in_shanghai(svc.clock), expires_on)
    return NoticePage(items=[NoticeOut(**n.as_item()) for n in found])
