"""The OpenAPI document of an app built from the shared HTTP pieces: the bodies read by
hand, every refusal as a problem (RFC 9457), the examples and the parameter rules. Used by
the admin app and the merchant API alike."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic.json_schema import models_json_schema

from cardservice.http.jsonbody import BODY_MODELS
from cardservice.http.openapi_docs import Example, ExampleTable, add_examples, document
from cardservice.http.problems import PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA

PROBE = {"status": "ok", "degraded": []}
SHARED_EXAMPLES: ExampleTable = {
    # The routes both apps serve: the issuer keys, the probes and the metrics.
    ("GET", "/v1/keys"): Example(
        {
            "keys": [
                {
                    "kid": "q1w2e3r4t5y6u7i8",
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                    "use": "card",
                    "status": "active",
                    "not_after": None,
                },
                {
                    "kid": "b9n8m7v6c5x4z3a2",
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": "Hs3tK0bqg1yXQ4l2wP9d8mZc7vR6uN5eA1oT0iJ3kLs",
                    "use": "bundle",
                    "status": "active",
                    "not_after": None,
                },
            ]
        }
    ),
    ("GET", "/metrics"): Example(
        "# TYPE cardservice_verifications_total counter\n"
        'cardservice_verifications_total{status="valid"} 42.0\n'
    ),
    ("GET", "/livez"): Example({"status": "ok"}),
    ("GET", "/readyz"): Example(PROBE),
    ("GET", "/healthz"): Example(PROBE | {"checks": {"database": "ok"}}),
}


def install_openapi(app: FastAPI) -> None:
    """Document the bodies that `json_body` reads by hand (after authentication), the
    refusals, and the examples and parameter rules (the tables the app's routers
    registered with `add_examples`)."""
    add_examples(app, SHARED_EXAMPLES)

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
