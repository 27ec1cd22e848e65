"""`GET /livez`, `/readyz` and `/healthz` on an app, from a report function (the process's
`projections.health.Probes.report`): written once, served by both apps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

Report = Callable[[], tuple[int, dict[str, Any]]]


def install_probes(app: FastAPI, report: Report) -> None:
    """Add the three probes to an app (once, whichever app comes first)."""
    if any(getattr(route, "path", None) == "/livez" for route in app.routes):
        return

    @app.get("/livez", tags=["operations"], summary="The process answers")
    def livez() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="Ready to serve (503: database down)")
    def readyz() -> JSONResponse:
        status, body = report()
        body.pop("checks")
        return JSONResponse(body, status_code=status)

    @app.get("/healthz", tags=["operations"], summary="As /readyz, with each check's detail")
    def healthz() -> JSONResponse:
        status, body = report()
        return JSONResponse(body, status_code=status)
