"""Text hygiene for query parameters: the body walk's rule, for `?name=` and the like.

A NUL in a search parameter would reach PostgreSQL (which refuses it: a 5xx), and a
format character would match nothing a person typed. Refused with a 422 problem before
any route runs, so every query parameter of every operation is covered at once.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from cardservice.domain.text import control_problem
from cardservice.http.problems import problem_response


def query_problem(query: str) -> str | None:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return "query string is not valid UTF-8"
    for name, value in pairs:
        problem = control_problem(name) or control_problem(value)
        if problem:
            return f"query parameter {name[:40]!r}: {problem}"
    return None


class QueryGuard:
    """422 for a query string holding a control or format character.

    A request without credentials to an operation that needs them goes on to its route,
    so it still answers 401 first (the contract's order); everything else is checked."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("query_string") and _checked(scope):
            raw: bytes = scope["query_string"]
            problem = query_problem(raw.decode("latin-1"))
            if problem:
                await problem_response(422, "invalid", problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)


AUTHENTICATED_PREFIXES = (
    "/v1/admin",
    "/v1/cards/",
    "/v1/verif",
    "/v1/redemptions",
    "/v1/offline-bundle",
    "/v1/photos",
    "/metrics",
)
"""Paths whose operations take credentials (401 comes before 422 there)."""


def _checked(scope: Scope) -> bool:
    if any(name == b"authorization" for name, _ in scope.get("headers", ())):
        return True
    return not str(scope.get("path", "")).startswith(AUTHENTICATED_PREFIXES)
