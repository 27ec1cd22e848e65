"""JSON request bodies read after authentication, and `Idempotency-Key` scopes.

FastAPI would parse a declared body before running any dependency (so a missing token
would be a 422); routes read theirs through `json_body`, a dependency listed after the
credentials one: 401 → 413 → 415 → 422, the contract's order.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from pydantic import BaseModel, ValidationError

from cardservice.http.body import BodyKind, parse_json_object, read_body
from cardservice.http.problems import ApiError

M = TypeVar("M", bound=BaseModel)

BODY_MODELS: dict[str, type[BaseModel]] = {}


def _default_limit(request: Request) -> int | None:
    """The deployment's body limit (`max_body_bytes` on the app's state)."""
    limit = getattr(request.app.state, "max_body_bytes", None)
    return limit if isinstance(limit, int) else None


def _digest_key(request: Request) -> bytes | None:
    """The write side's key for body digests (`body_digest_key` on the app's state).

    The read side has none: its bodies hold ids and counts, no personal data."""
    key = getattr(request.app.state, "body_digest_key", None)
    return key if isinstance(key, bytes) else None


def json_body(
    model: type[M],
    *,
    digest: bool = True,
    kind: BodyKind = BodyKind.JSON,
    exempt: frozenset[str] = frozenset(),
) -> Callable[..., Awaitable[M]]:
    """A dependency that reads, size-checks (413), type-checks (415), parses and validates
    (422) a JSON body; every string in it is refused with a control or format character.

    `digest`: also keep the body's keyed digest for `Idempotency-Key` replays (routes that
    take no idempotency key skip the canonical re-encoding). `kind`: the size class
    (`cardservice.http.body.BODY_LIMITS`). `exempt`: fields judged later, not here."""

    async def dependency(request: Request) -> M:
        raw = await read_body(request, kind, _default_limit(request))
        data = parse_json_object(raw, exempt=exempt)
        try:
            value = model.model_validate(data)
        except ValidationError as exc:
            raise ApiError(422, "invalid", validation_text(exc)) from None
        if digest:
            request.state.body_digest = digest_of(data, _digest_key(request))
        return value

    dependency.__name__ = f"body_{model.__name__}"
    BODY_MODELS[dependency.__name__] = model
    return dependency


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for a route whose body `json_body(model)` reads by hand."""
    BODY_MODELS[f"body_{model.__name__}"] = model
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def validation_text(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
    return "; ".join(parts)


DIGEST_PURPOSE = "request-digest"


def digest_of(data: Any, key: bytes | None) -> str:
    """A keyed digest of a canonical body: admin bodies hold personal data (names, ID
    numbers), so a plain hash of one could be brute-forced from what it is compared with.
    Without a key (the read side, whose bodies hold no personal data) a plain SHA-256."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    if key is None:
        return hashlib.sha256(canonical.encode()).hexdigest()
    return "h1:" + hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def idempotency_key(
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> str | None:
    if idempotency_key is None:
        return None
    key = idempotency_key.strip()
    if not 1 <= len(key) <= 200 or not key.isprintable():
        raise ApiError(422, "invalid", "Idempotency-Key must be 1 to 200 printable characters")
    return key


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]


def scoped_key(request: Request, key: str | None) -> str | None:
    """An `Idempotency-Key` within its scope (method, path; the caller is added by the
    command, which knows who sent it): under another path it is simply another key."""
    if key is None:
        return None
    return f"{request.method} {request.url.path} {key}"


def scoped_idempotency_key(
    request: Request, key: Annotated[str | None, Depends(idempotency_key)]
) -> str | None:
    return scoped_key(request, key)


ScopedIdempotencyKey = Annotated[str | None, Depends(scoped_idempotency_key)]
