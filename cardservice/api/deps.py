"""Request dependencies: services, authentication and bounded JSON bodies.

Order matters and is the contract's: credentials are checked first (401), then the body
size (413), its media type (415), then its shape (422). FastAPI would parse a declared
body before running any dependency, so bodies are read after authentication, through
`json_body` (in `cardservice.http.jsonbody`).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Header, Request

from cardservice.api.limits import ClientBuckets, client_key
from cardservice.bootstrap.write import WriteSide
from cardservice.domain.actors import Actor
from cardservice.http.auth import bearer, unauthorized
from cardservice.http.client import client_host
from cardservice.http.fields import parse_id
from cardservice.http.jsonbody import (
    BODY_MODELS,
    DIGEST_PURPOSE,
    IdempotencyKey,
    ScopedIdempotencyKey,
    body_doc,
    digest_of,
    idempotency_key,
    json_body,
    validation_text,
)
from cardservice.http.problems import ApiError

__all__ = [
    "BODY_MODELS",
    "DIGEST_PURPOSE",
    "IdempotencyKey",
    "ScopedIdempotencyKey",
    "bearer",
    "body_doc",
    "digest_of",
    "idempotency_key",
    "json_body",
    "parse_id",
    "unauthorized",
    "validation_text",
]


def services(request: Request) -> WriteSide:
    svc: WriteSide = request.app.state.services
    return svc


ServicesDep = Annotated[WriteSide, Depends(services)]


def admin_actor(svc: ServicesDep, authorization: Annotated[str | None, Header()] = None) -> Actor:
    token = bearer(authorization)
    actor = svc.catalog.authenticate(token) if token else None
    if actor is None:
        raise unauthorized()
    return actor


AdminActor = Annotated[Actor, Depends(admin_actor)]


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


class Attempt:
    """One rate-limited attempt by a client; `succeeded()` gives its token back."""

    def __init__(self, buckets: ClientBuckets, key: str) -> None:
        self._buckets = buckets
        self._key = key

    def succeeded(self) -> None:
        self._buckets.give_back(self._key)


def activation_attempt(request: Request) -> Attempt:
    """429 with Retry-After once a client address has spent its activation attempts (the
    app's own buckets: per process, made by `create_app`)."""
    buckets: ClientBuckets = request.app.state.activation_buckets
    key = client_key(client_host(request))
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
