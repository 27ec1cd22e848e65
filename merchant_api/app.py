"""The merchant verification service as an ASGI app, alone or inside `cardservice serve`.

Alone (any number of replicas against one PostgreSQL):
    uvicorn merchant_api.app:create_app --factory
It serves /v1/verify, /v1/verifications, /v1/cards/{id}/verifications, /v1/offline-bundle,
/v1/keys (from the issuer-keys view), /livez, /readyz, /healthz and /metrics; the
projections run elsewhere (`cardservice worker`). Inside `cardservice serve`, `install`
adds the same routes to the main app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from cardservice.bootstrap.read import ReadSide
from cardservice.http.client import ForwardedPolicy
from cardservice.http.openapi import install_openapi
from cardservice.http.openapi_docs import add_examples
from cardservice.http.probes import install_probes
from cardservice.http.problems import PROBLEM_SCHEMA, install_problem_handlers
from cardservice.http.schemas import KeysOut, jwk
from cardservice.logs import RequestLogMiddleware, configure_logging
from cardservice.migrations import SchemaBehind
from merchant_api import examples
from merchant_api.photos import router as photos_router
from merchant_api.redeem_routes import router as redemption_router
from merchant_api.routes import ApiDep, metrics_router, router


def install(app: FastAPI, read: ReadSide) -> None:
    """Mount the merchant API on an app (`cardservice serve` mounts it on the main app)."""
    if getattr(app.state, "merchant_api", None) is not None:
        return
    app.state.merchant_api = read.merchant_api
    app.include_router(router)
    app.include_router(photos_router)
    app.include_router(redemption_router)
    add_examples(app, examples.EXAMPLES, examples.PARAMETERS)
    if not any(getattr(r, "path", None) == "/metrics" for r in app.routes):
        app.include_router(metrics_router)


def create_app(read: ReadSide | None = None) -> FastAPI:
    """The standalone merchant API (`uvicorn merchant_api.app:create_app --factory`): its
    own read side, from `DATABASE_URL` alone, unless given one (which it then leaves open)."""
    try:
        side = read or ReadSide.build()
    except SchemaBehind as exc:  # a start-up refusal in one line, not a traceback
        raise SystemExit(f"merchant_api: {exc}") from None
    own = read is None
    if own:  # started by uvicorn itself: this is the process's logging set-up
        configure_logging(side.settings.log_format)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        side.lifecycle.start()
        yield
        await side.loop_ending()
        if own:
            side.close()

    app = FastAPI(
        title="Merchant verification API",
        version="1.0",
        description="Verify 优待证 QR codes against the projected views; stateless replicas.",
        lifespan=lifespan,
    )
    app.add_middleware(RequestLogMiddleware)
    app.state.forwarded_policy = ForwardedPolicy.parse(side.settings.forwarded_allow_ips)
    app.state.max_body_bytes = side.settings.max_body_bytes
    install_problem_handlers(app)
    install(app, side)

    @app.get("/v1/keys", tags=["public"], response_model=KeysOut)
    def issuer_keys(api: ApiDep) -> dict[str, Any]:
        rows = api.keys.refresh(min_age=1.0).rows
        return {"keys": [jwk(k.kid, k.public_key, k.use, k.status, k.not_after) for k in rows]}

    install_probes(app, side.probes.report)
    install_openapi(app)
    documented = app.openapi

    def openapi() -> dict[str, Any]:
        return error_schemas(documented())

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def error_schemas(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI documents 422 as its own `HTTPValidationError`; ours is a problem."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    if "HTTPValidationError" in components:
        components["HTTPValidationError"] = {**PROBLEM_SCHEMA, "title": "HTTPValidationError"}
    return schema
