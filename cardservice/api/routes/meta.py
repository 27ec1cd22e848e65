"""Issuer keys (public). The probes (/livez, /readyz, /healthz) are `projections.health`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from cardservice.api import presenters
from cardservice.api.deps import ServicesDep
from cardservice.http.schemas import KeysOut

router = APIRouter(tags=["public"])


@router.get("/v1/keys", response_model=KeysOut)
def issuer_keys(svc: ServicesDep) -> dict[str, Any]:
    return {"keys": presenters.public_keys(svc.ledger.keyring())}
