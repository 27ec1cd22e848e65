"""Every refusal as RFC 9457 problem details, keeping our `error` code.

`{"type", "title", "status", "detail", "error"}` under `application/problem+json`, for the
errors a route raises, FastAPI's own (404 route, 405, validation) and anything unexpected:
an error no handler knows answers a logged 500 problem instead of a dropped connection.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cardservice.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Gone,
    InvalidInput,
    NotFound,
    RateLimited,
)

log = logging.getLogger("cardservice.http")

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:cardservice:problem:"

STATUS_BY_ERROR: list[tuple[type[DomainError], int]] = [
    (InvalidInput, 422),
    (Forbidden, 403),
    (NotFound, 404),
    (Gone, 410),
    (Conflict, 409),
    (RateLimited, 429),
]

CODES_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    500: "internal",
    503: "unavailable",
}

TITLES = {
    400: "Bad request",
    401: "Missing or invalid credentials",
    403: "Wrong region or role",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflicts with the current state",
    410: "Gone",
    413: "Body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


class ApiError(Exception):
    """An HTTP-level refusal raised by dependencies (auth, body limits, rate limits)."""

    def __init__(
        self, status: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers


def problem_body(status: int, code: str, detail: Any) -> dict[str, Any]:
    return {
        "type": TYPE_PREFIX + code,
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False),
        "error": code,
    }


def problem_response(
    status: int, code: str, detail: Any, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, code, detail),
        status_code=status,
        headers=headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def status_of(exc: DomainError) -> int:
    for error_type, status in STATUS_BY_ERROR:
        if isinstance(exc, error_type):
            return status
    return 422


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
    return "; ".join(parts) or "invalid request"


def is_unavailable(exc: BaseException) -> bool:
    """A database that does not answer is 503 (retry later); any other surprise is 500."""
    if isinstance(exc, sqlite3.OperationalError):
        return True
    names = {cls.__module__.split(".")[0] + "." + cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"psycopg.OperationalError", "psycopg_pool.PoolTimeout"})


def unexpected_response(exc: BaseException, method: str, path: str) -> JSONResponse:
    if is_unavailable(exc):
        log.warning("database unavailable on %s %s: %s", method, path, type(exc).__name__)
        return problem_response(503, "unavailable", "the database did not answer; try again")
    log.error("unhandled error on %s %s", method, path, exc_info=exc)
    return problem_response(500, "internal", "the service could not complete the request")


class ProblemGuard:
    """Innermost catch-all: an exception no handler took becomes a 500 problem.

    Starlette's own `Exception` handler answers and then re-raises into the server; this
    answers and stops there. After the response started nothing can be said any more,
    so the error is logged and the body ends.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                log.error("error after the response started on %s", scope.get("path"), exc_info=exc)
                return
            response = unexpected_response(exc, scope.get("method", ""), scope.get("path", ""))
            await response(scope, receive, send)


def install_problem_handlers(app: FastAPI) -> None:
    """Problem details for every error of `app` (call once per app), and the query-string
    hygiene guard that answers with them."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return problem_response(exc.status, exc.code, exc.detail, exc.headers)

    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, exc: DomainError) -> JSONResponse:
        if isinstance(exc, RateLimited):
            headers = {"Retry-After": str(exc.retry_after)}
            return problem_response(429, exc.code, exc.detail, headers)
        return problem_response(status_of(exc), exc.code, exc.detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = CODES_BY_STATUS.get(exc.status_code, "error")
        return problem_response(exc.status_code, code, exc.detail, dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(422, "invalid", _validation_detail(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return unexpected_response(exc, request.method, request.url.path)

    from cardservice.http.query import QueryGuard  # it answers with these problems

    app.add_middleware(ProblemGuard)
    app.add_middleware(QueryGuard)


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; `error` is the machine-readable code.",
    "properties": {
        "type": {"type": "string", "example": TYPE_PREFIX + "invalid"},
        "title": {"type": "string", "example": "Invalid input"},
        "status": {"type": "integer", "example": 422},
        "detail": {"type": "string", "example": "holder.name: control characters"},
        "error": {"type": "string", "example": "invalid"},
    },
    "required": ["type", "title", "status", "detail", "error"],
}
