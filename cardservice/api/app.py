"""The ASGI application: every router in one process (admin, holder, merchant, pages)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pydantic.json_schema import models_json_schema

from cardservice.api.deps import BODY_MODELS
from cardservice.api.errors import install_error_handlers
from cardservice.api.routes import access, audit, cards, catalog, holder, meta
from cardservice.services import Services

AppHook = Callable[[FastAPI, Services], None]

# Other packages (merchant API, pages, projections) plug in here without this module
# importing them, so the admin API stays usable on its own.
EXTENSIONS: list[AppHook] = []


def create_app(
    services: Services | None = None,
    *,
    extensions: list[AppHook] | None = None,
    own_services: bool | None = None,
) -> FastAPI:
    svc = services or Services.build()
    close_on_exit = own_services if own_services is not None else services is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for start in svc.extras.get("starters", []):
            start()
        yield
        if close_on_exit:
            svc.close()

    app = FastAPI(
        title="Preferential-treatment card service",
        version="1.0",
        description="Electronic 优待证: issue, verify and explain cards and regional benefits.",
        lifespan=lifespan,
    )
    app.state.services = svc
    svc.ledger.keyring()  # the first start creates the issuer key
    install_error_handlers(app)
    for router in (
        meta.router,
        cards.router,
        access.router,
        holder.router,
        catalog.router,
        audit.router,
    ):
        app.include_router(router)
    for hook in [*EXTENSIONS, *(extensions or [])]:
        hook(app, svc)
    install_openapi(app)
    return app


def install_openapi(app: FastAPI) -> None:
    """Document the bodies that `json_body` reads by hand (after authentication)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        models = list({m.__name__: m for m in BODY_MODELS.values()}.values())
        _, defs = models_json_schema(
            [(m, "validation") for m in models], ref_template="#/components/schemas/{model}"
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(defs.get("$defs", {}))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
