"""`POST /v1/activate`: a phone redeems a one-time activation code for the card.

No credentials: the code is the credential, once. Refusals: 413/422 for the body, 429 per
client address (failed guesses spend a token), 404 an unknown code, 410 a code used,
expired or replaced by a newer one, 409 a revoked card.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from cardservice.api import presenters
from cardservice.api import responses as out
from cardservice.api.deps import (
    ActivationAttempt,
    ScopedIdempotencyKey,
    ServicesDep,
    body_doc,
    json_body,
)
from cardservice.api.schemas import ActivateIn
from cardservice.domain.activation import normalize_code

router = APIRouter(tags=["holder"])

NO_STORE = {"Cache-Control": "no-store"}

DEVICES = (
    ("harmonyos", "HarmonyOS"),
    ("iphone", "iPhone"),
    ("ipad", "iPad"),
    ("android", "Android"),
    ("windows", "Windows"),
    ("mac os", "Mac"),
    ("cros", "ChromeOS"),
    ("linux", "Linux"),
)


def device_hint(user_agent: str | None) -> str:
    """A coarse name of the phone's system for the card's history, never the whole
    User-Agent (which would fingerprint the holder)."""
    ua = (user_agent or "").lower()
    return next((name for needle, name in DEVICES if needle in ua), "")


def typed_code(body: Annotated[ActivateIn, Depends(json_body(ActivateIn))]) -> str:
    """The normalized code; a malformed one is 422 before it can spend a rate-limit token."""
    return normalize_code(body.code)


@router.post("/v1/activate", response_model=out.ActivatedOut, openapi_extra=body_doc(ActivateIn))
def activate(
    request: Request,
    code: Annotated[str, Depends(typed_code)],
    key: ScopedIdempotencyKey,
    attempt: ActivationAttempt,
    svc: ServicesDep,
) -> JSONResponse:
    """Redeem `{"code"}` → `{"card_id", "holder_token", "card"}`, the first time only.

    The token opens this phone's new session; the card's earlier session ends (a card is
    on one phone at a time)."""
    result = svc.ledger.activate(
        code, device_hint=device_hint(request.headers.get("user-agent")), command_id=key
    )
    attempt.succeeded()
    card = result.card
    payload = {
        "card_id": str(card.id),
        "holder_token": result.holder_token,
        "card": presenters.holder_view(svc.ledger, card),
    }
    headers = {**NO_STORE, **({"Idempotent-Replayed": "true"} if result.replayed else {})}
    return JSONResponse(payload, headers=headers)
