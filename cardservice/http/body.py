"""Bounded request bodies: one table of size limits, media types, JSON parsing and the
text-hygiene walk over every string a JSON body carries.

The contract's order: 401 (credentials, a dependency that runs before this) → 413 (size)
→ 415 (media type) → 422 (shape); so the size is read first, then the media type checked.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

from starlette.requests import Request

from cardservice.domain.text import FREE_TEXT_FIELDS, control_problem
from cardservice.http.problems import ApiError

KIB = 1024
MIB = 1024 * KIB


class BodyKind(Enum):
    """What a route takes; its size limit and media types are in the tables below."""

    JSON = "json"
    CATALOG = "catalog"
    OFFLINE_BATCH = "offline_batch"
    PHOTO = "photo"
    IMPORT = "import"


BODY_LIMITS: dict[BodyKind, int] = {
    BodyKind.JSON: 16 * KIB,
    BodyKind.CATALOG: 1 * MIB,
    BodyKind.OFFLINE_BATCH: 1 * MIB,
    BodyKind.PHOTO: 100 * KIB,
    BodyKind.IMPORT: 20 * MIB,
}

MEDIA_TYPES: dict[BodyKind, frozenset[str]] = {
    BodyKind.JSON: frozenset({"application/json"}),
    BodyKind.CATALOG: frozenset({"application/json"}),
    BodyKind.OFFLINE_BATCH: frozenset({"application/json"}),
    BodyKind.PHOTO: frozenset({"image/jpeg", "image/png"}),
    BodyKind.IMPORT: frozenset({"text/csv"}),
}

MAX_JSON_DEPTH = 32
"""Deeper than any body we take; refused before anything recursive (validation, digest)."""


def body_limit(kind: BodyKind, default_override: int | None = None) -> int:
    """The byte limit of `kind` (`default_override`: the settings' JSON default)."""
    if kind is BodyKind.JSON and default_override:
        return default_override
    return BODY_LIMITS[kind]


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes `limit` (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isascii() or not declared.isdigit():
            raise ApiError(400, "bad_request", "invalid Content-Length")
        if int(declared) > limit:
            raise ApiError(413, "payload_too_large", f"body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "payload_too_large", f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def require_media_type(request: Request, kind: BodyKind) -> str:
    """415 unless the Content-Type is one `kind` takes (a form post is never JSON)."""
    found = media_type(request)
    accepted = MEDIA_TYPES[kind]
    if found not in accepted:
        wanted = " or ".join(sorted(accepted))
        raise ApiError(
            415, "unsupported_media_type", f"Content-Type must be {wanted}, not {found or 'none'}"
        )
    return found


async def read_body(request: Request, kind: BodyKind, default_limit: int | None = None) -> bytes:
    """Size (413), then media type (415): the bytes of an acceptable body."""
    raw = await read_limited_body(request, body_limit(kind, default_limit))
    require_media_type(request, kind)
    return raw


def parse_json_object(raw: bytes, *, exempt: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A JSON object whose every string is clean text (422 otherwise).

    `exempt`: top-level fields whose text is judged later (the `qr` of /v1/verify, whose
    unreadable text is a verdict, never a 422)."""
    try:
        data = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(422, "invalid", "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid", "body must be a JSON object")
    if nested_deeper_than(data, MAX_JSON_DEPTH):
        raise ApiError(422, "invalid", f"body nested deeper than {MAX_JSON_DEPTH} levels")
    problem = text_problem(data, exempt)
    if problem:
        raise ApiError(422, "invalid", problem)
    return data


def nested_deeper_than(data: Any, limit: int) -> bool:
    """Iterative depth check: deep JSON must not reach recursive code (a 5xx otherwise)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def text_problem(data: dict[str, Any], exempt: frozenset[str] = frozenset()) -> str | None:
    """The first string (key or value, at any depth) with a control or format character.

    Free-text fields (`reason`, `text`, `reply`) may hold line breaks; nothing else may.
    Iterative, like the depth check, and run after it."""
    stack: list[tuple[str, Any, bool]] = [
        (key, value, key in FREE_TEXT_FIELDS) for key, value in data.items() if key not in exempt
    ]
    for key in data:
        if control_problem(key, multiline=False):
            return "a field name holds a control or format character"
    while stack:
        where, node, multiline = stack.pop()
        if isinstance(node, str):
            problem = control_problem(node, multiline=multiline)
            if problem:
                return f"{where}: {problem}"
        elif isinstance(node, dict):
            for key, value in node.items():
                if control_problem(key, multiline=False):
                    return f"{where}: a field name holds a control or format character"
                stack.append((f"{where}.{key}", value, key in FREE_TEXT_FIELDS))
        elif isinstance(node, list):
            stack.extend((f"{where}[{i}]", value, multiline) for i, value in enumerate(node))
    return None
