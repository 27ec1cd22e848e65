"""The ASGI application: every router in one process (admin, holder, merchant, pages)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from cardservice.api import examples
from cardservice.api.errors import install_error_handlers
from cardservice.api.limits import ClientBuckets
from cardservice.api.routes import access, activation, audit, cards, catalog, holder, meta, stats
from cardservice.api.routes import appeals as holder_appeals
from cardservice.api.routes import holder_admin as holder_services
from cardservice.api.routes import notices as holder_notices
from cardservice.api.routes.console import router as console_router
from cardservice.api.routes.search import router as search_router
from cardservice.bootstrap.write import WriteSide
from cardservice.http.client import ForwardedPolicy
from cardservice.http.jsonbody import DIGEST_PURPOSE
from cardservice.http.openapi import install_openapi
from cardservice.http.openapi_docs import add_examples
from cardservice.http.probes import install_probes
from cardservice.logs import RequestLogMiddleware


def create_app(services: WriteSide | None = None, *, own_services: bool | None = None) -> FastAPI:
    """The admin and holder API alone. The pages and the merchant API are mounted beside it
    by `cardservice.bootstrap.serve`; the app's start starts the write side's lifecycle,
    and with `own_services` (default: when it built them) its shutdown stops it."""
    svc = services or WriteSide.build()
    close_on_exit = own_services if own_services is not None else services is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc.lifecycle.start()
        yield
        if close_on_exit:
            svc.close()

    app = FastAPI(
        title="Preferential-treatment card service",
        version="1.0",
        description="Electronic 优待证: issue, verify and explain cards and regional benefits.",
        lifespan=lifespan,
    )
    app.add_middleware(RequestLogMiddleware)
    app.state.services = svc
    app.state.max_body_bytes = svc.settings.max_body_bytes
    app.state.body_digest_key = svc.settings.derived_key(DIGEST_PURPOSE)
    app.state.forwarded_policy = ForwardedPolicy.parse(svc.settings.forwarded_allow_ips)
    app.state.activation_buckets = ClientBuckets(
        svc.settings.activation_rate, svc.settings.activation_burst, svc.clock.now
    )
    svc.ledger.keyring()  # the first start creates the issuer key
    install_error_handlers(app)
    for router in (
        meta.router,
        holder_services.router,  # before cards: its POST /{id}/{action} takes any action
        cards.router,
        access.router,
        holder.router,
        activation.router,
        catalog.router,
        audit.router,
        holder_notices.router,
        holder_notices.admin_router,
        holder_appeals.router,
        stats.router,
        search_router,
        console_router,
    ):
        app.include_router(router)
    install_probes(app, svc.probes.report)
    add_examples(app, examples.EXAMPLES, examples.PARAMETERS)
    install_openapi(app)
    return app
