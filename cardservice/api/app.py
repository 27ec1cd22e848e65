"""The ASGI application: every router in one process (admin, holder, merchant, pages)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pydantic.json_schema import models_json_schema

from cardservice.api import examples
from cardservice.api.deps import BODY_MODELS
from cardservice.api.errors import install_error_handlers
from cardservice.api.routes import access, activation, audit, cards, catalog, holder, meta, stats
from cardservice.api.routes import appeals as holder_appeals
from cardservice.api.routes import holder_admin as holder_services
from cardservice.api.routes import notices as holder_notices
from cardservice.api.routes.console import router as console_router
from cardservice.api.routes.search import router as search_router
from cardservice.http.client import ForwardedPolicy
from cardservice.http.jsonbody import DIGEST_PURPOSE
from cardservice.http.openapi_docs import add_examples, document
from cardservice.http.problems import PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA
from cardservice.logs import RequestLogMiddleware
from cardservice.services import Services
from projections.health import install_probes

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
    app.add_middleware(RequestLogMiddleware)
    app.state.services = svc
    app.state.body_digest_key = svc.settings.derived_key(DIGEST_PURPOSE)
    app.state.forwarded_policy = ForwardedPolicy.parse(svc.settings.forwarded_allow_ips)
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
        holder_appeals.router,
        stats.router,
        search_router,
        console_router,
    ):
        app.include_router(router)
    for hook in [*EXTENSIONS, *(extensions or [])]:
        hook(app, svc)
    install_probes(app, svc)
    install_openapi(app)
    return app


def install_openapi(app: FastAPI) -> None:
    """Document the bodies that `json_body` reads by hand (after authentication), the
    refusals, and the examples and parameter rules (`cardservice.api.examples`, and the
    tables mounted routers registered with `add_examples`)."""
    add_examples(app, examples.EXAMPLES, examples.PARAMETERS)

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
        document_errors(schema)
        document(schema, app.state.openapi_examples, app.state.openapi_parameters)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


ERROR_SCHEMA: dict[str, Any] = {**PROBLEM_SCHEMA, "title": "Error"}


def document_errors(schema: dict[str, Any]) -> None:
    """Document the refusals each operation can answer (all RFC 9457 problem details).

    Derived from what the operation takes, in the contract's order: credentials (401),
    a body (400 bad Content-Length, 413, 422), parameters (422), admin scope and ids
    (403, 404), state conflicts on writes (409); /readyz and /healthz answer 503 when the
    database is down.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    components["HTTPValidationError"] = {**ERROR_SCHEMA, "title": "HTTPValidationError"}
    ref = {"content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            params = operation.get("parameters", [])
            headers = {p["name"].lower() for p in params if p.get("in") == "header"}
            statuses: set[int] = set()
            if "authorization" in headers:
                statuses.add(401)
            if "requestBody" in operation:
                statuses |= {400, 413, 415, 422}
            if any(p.get("in") in ("path", "query") for p in params) or headers - {"authorization"}:
                statuses.add(422)
            if path.startswith("/v1/admin"):
                statuses |= {403, 404}
                if method in ("post", "put"):
                    statuses.add(409)
            if path.startswith("/v1/cards/") and method == "post":
                statuses.add(409)
            if path == "/v1/activate":
                statuses |= {404, 409, 410, 429}
            if path in ("/healthz", "/readyz"):
                statuses.add(503)
            for status in sorted(statuses | _problem_statuses(operation)):
                answer = operation["responses"].setdefault(
                    str(status), {"description": CODE_TEXT.get(status, "Refused")}
                )
                answer.update(ref)  # every refusal is a problem, FastAPI's own 422 included


def _problem_statuses(operation: dict[str, Any]) -> set[int]:
    return {int(code) for code in operation["responses"] if code.isdigit() and int(code) >= 400}


CODE_TEXT = {
    400: "Bad request (for example an invalid Content-Length)",
    401: "Missing or invalid credentials",
    403: "Wrong region or role",
    404: "Unknown id",
    409: "Conflicts with the current state",
    410: "Gone: a one-time code already used, expired or replaced by a newer one",
    413: "Body over the size limit",
    415: "Body not of the media type the operation takes",
    422: "Invalid input",
    429: "Too many attempts (see Retry-After)",
    503: "Unavailable: the database (or another dependency) is down",
}
