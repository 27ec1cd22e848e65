"""Request dependencies: services, authentication and bounded JSON bodies.

Order matters and is the contract's: credentials are checked first (401), then the body
size (413), then its shape (422). FastAPI would parse a declared body before running any
dependency, so bodies are read here, after authentication, through `json_body`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Depends, Header, Request
from pydantic import BaseModel, ValidationError

from cardservice.api.errors import ApiError
from cardservice.api.limits import ClientBuckets, client_key
from cardservice.domain.actors import Actor
from cardservice.services import Services

M = TypeVar("M", bound=BaseModel)

BODY_MODELS: dict[str, type[BaseModel]] = {}


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


ServicesDep = Annotated[Services, Depends(services)]


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def unauthorized(detail: str = "missing or invalid credentials") -> ApiError:
    return ApiError(401, "unauthorized", detail, {"WWW-Authenticate": "Bearer"})


def admin_actor(svc: ServicesDep, authorization: Annotated[str | None, Header()] = None) -> Actor:
    token = bearer(authorization)
    actor = svc.catalog.authenticate(token) if token else None
    if actor is None:
        raise unauthorized()
    return actor


AdminActor = Annotated[Actor, Depends(admin_actor)]


def parse_id(value: str) -> UUID | None:
    try:
        return UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None


def holder_card_id(
    card_id: str, svc: ServicesDep, authorization: Annotated[str | None, Header()] = None
) -> UUID:
    """The card id the holder token opens: the token of the card's live session only (a
    token of an ended session, or of another card, is 401)."""
    token = bearer(authorization)
    parsed = parse_id(card_id)
    if parsed is None or svc.ledger.session_card(parsed, token) is None:
        raise unauthorized()
    return parsed


HolderCardId = Annotated[UUID, Depends(holder_card_id)]


async def read_limited_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise ApiError(413, "payload_too_large", f"body over {limit} bytes")
        except ValueError:
            raise ApiError(400, "bad_request", "invalid Content-Length") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "payload_too_large", f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def json_body(model: type[M], *, digest: bool = True) -> Callable[..., Awaitable[M]]:
    """A dependency that reads, size-checks, parses and validates a JSON body.

    `digest`: also keep the body's digest for `Idempotency-Key` replays (routes that take
    no idempotency key skip the canonical re-encoding)."""

    async def dependency(request: Request) -> M:
        raw = await read_limited_body(request, request.app.state.services.settings.max_body_bytes)
        try:
            data = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise ApiError(422, "invalid", "body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ApiError(422, "invalid", "body must be a JSON object")
        if nested_deeper_than(data, MAX_JSON_DEPTH):
            raise ApiError(422, "invalid", f"body nested deeper than {MAX_JSON_DEPTH} levels")
        try:
            value = model.model_validate(data)
        except ValidationError as exc:
            raise ApiError(422, "invalid", validation_text(exc)) from None
        if digest:
            request.state.body_digest = digest_of(data)
        return value

    dependency.__name__ = f"body_{model.__name__}"
    BODY_MODELS[dependency.__name__] = model
    return dependency


MAX_JSON_DEPTH = 32
"""Deeper than any body we take; refused before anything recursive (validation, digest)."""


def nested_deeper_than(data: Any, limit: int) -> bool:
    """Iterative depth check: deep JSON must not reach recursive code (a 5xx otherwise)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if isinstance(node, dict | list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


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


def digest_of(data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


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


class Attempt:
    """One rate-limited attempt by a client; `succeeded()` gives its token back."""

    def __init__(self, buckets: ClientBuckets, key: str) -> None:
        self._buckets = buckets
        self._key = key

    def succeeded(self) -> None:
        self._buckets.give_back(self._key)


def activation_buckets(svc: Services) -> ClientBuckets:
    buckets = svc.extras.get("activation_buckets")
    if not isinstance(buckets, ClientBuckets):
        made = ClientBuckets(
            svc.settings.activation_rate, svc.settings.activation_burst, svc.clock.now
        )
        buckets = svc.extras.setdefault("activation_buckets", made)
    assert isinstance(buckets, ClientBuckets)
    return buckets


def activation_attempt(request: Request, svc: ServicesDep) -> Attempt:
    """429 with Retry-After once a client address has spent its activation attempts."""
    buckets = activation_buckets(svc)
    key = client_key(request.client.host if request.client else None)
    wait = buckets.take(key)
    if wait is not None:
        raise ApiError(
            429,
            "rate_limited",
            f"too many activation attempts from this address; try again in {wait} s",
            {"Retry-After": str(wait)},
        )
    return Attempt(buckets, key)


ActivationAttempt = Annotated[Attempt, Depends(activation_attempt)]
