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

from cardservice.api.responses import KeysOut
from cardservice.http.client import ForwardedPolicy
from cardservice.http.openapi_docs import add_examples
from cardservice.http.problems import PROBLEM_SCHEMA, install_problem_handlers
from cardservice.logs import RequestLogMiddleware, configure_logging
from cardservice.migrations import SchemaBehind
from cardservice.services import Services
from merchant_api import examples
from merchant_api.photos import router as photos_router
from merchant_api.redeem_routes import router as redemption_router
from merchant_api.routes import ApiDep, metrics_router, router
from merchant_api.service import MerchantApi
from projections.health import install_probes

EXTRAS_KEY = "merchant_api"


def merchant_api_for(svc: Services) -> MerchantApi:
    """One MerchantApi per Services (its caches, log writer and metrics), closed with it."""
    api = svc.extras.get(EXTRAS_KEY)
    if not isinstance(api, MerchantApi):
        api = MerchantApi(svc)
        api.setup()
        svc.extras[EXTRAS_KEY] = api
        svc.extras.setdefault("closers", []).append(api.close)
        svc.extras.setdefault("health", {})["verification_log"] = lambda: _log_health(api)
    return api


def _log_health(api: MerchantApi) -> Any:
    return {"queue_depth": api.log.depth, "written": api.log.written, "failures": api.log.failures}


def install(app: FastAPI, svc: Services) -> None:
    """Mount the merchant API on an app (the hook `cardservice serve` uses)."""
    if getattr(app.state, "merchant_api", None) is not None:
        return
    app.state.merchant_api = merchant_api_for(svc)
    app.include_router(router)
    app.include_router(photos_router)
    app.include_router(redemption_router)
    add_examples(app, examples.EXAMPLES, examples.PARAMETERS)
    if not any(getattr(r, "path", None) == "/metrics" for r in app.routes):
        app.include_router(metrics_router)


def create_app(services: Services | None = None) -> FastAPI:
    """The standalone merchant API (`uvicorn merchant_api.app:create_app --factory`)."""
    try:
        svc = services or Services.build()
    except SchemaBehind as exc:  # a start-up refusal in one line, not a traceback
        raise SystemExit(f"merchant_api: {exc}") from None
    own = services is None
    if own:  # started by uvicorn itself: this is the process's logging set-up
        configure_logging(svc.settings.log_format)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        api = svc.extras.get(EXTRAS_KEY)
        if isinstance(api, MerchantApi):
            await api.cards.aclose()
        if own:
            svc.close()
        elif isinstance(api, MerchantApi):
            api.log.flush()

    app = FastAPI(
        title="Merchant verification API",
        version="1.0",
        description="Verify 优待证 QR codes against the projected views; stateless replicas.",
        lifespan=lifespan,
    )
    app.add_middleware(RequestLogMiddleware)
    app.state.services = svc  # the shared dependencies (body limits, holder tokens) read it
    app.state.forwarded_policy = ForwardedPolicy.parse(svc.settings.forwarded_allow_ips)
    install_problem_handlers(app)
    install(app, svc)

    @app.get("/v1/keys", tags=["public"], response_model=KeysOut)
    def issuer_keys(api: ApiDep) -> dict[str, Any]:
        return {
            "keys": [
                {
                    "kid": k.kid,
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": k.public_key,
                    "status": k.status,
                    "not_after": k.not_after,
                }
                for k in api.keys.refresh(min_age=1.0).rows
            ]
        }

    install_probes(app, svc)

    from cardservice.api.app import install_openapi

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
