"""Issuer keys (public) and health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from cardservice.api import presenters
from cardservice.api.deps import ServicesDep

router = APIRouter(tags=["public"])


@router.get("/v1/keys")
def issuer_keys(svc: ServicesDep) -> dict[str, Any]:
    return {"keys": presenters.public_keys(svc.ledger.keyring())}


@router.get("/healthz")
def healthz(svc: ServicesDep) -> JSONResponse:
    database_up = svc.db.ping()
    checks: dict[str, Any] = {"database": "ok" if database_up else "down"}
    # The other probes read the database too: with it down they would only wait for their
    # own timeouts, and health must answer fast exactly then.
    for name, probe in svc.extras.get("health", {}).items() if database_up else ():
        checks[name] = probe()
    degraded = any(v not in ("ok",) and not isinstance(v, dict) for v in checks.values())
    status = "degraded" if degraded else "ok"
    return JSONResponse({"status": status, "checks": checks}, status_code=503 if degraded else 200)
