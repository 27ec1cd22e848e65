"""The audit trail: who did what, in the caller's region subtree (any role may read it).

Served from the audit view, which lags writes slightly like every view.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from cardservice.api import responses as out
from cardservice.api.deps import AdminActor, ServicesDep
from cardservice.api.params import parse_instant, parse_uuid
from cardservice.application import require_region, require_scope
from cardservice.bootstrap.write import WriteSide
from cardservice.domain.errors import InvalidInput
from projections.audit import MAX_LIMIT, AuditQuery, AuditReader, BadCursor

router = APIRouter(prefix="/v1/admin", tags=["admin: audit"])

DEFAULT_LIMIT = 100


def audit_reader(svc: WriteSide) -> AuditReader:
    return svc.audit


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise InvalidInput(f"limit must be an integer 1..{MAX_LIMIT}")
    return int(value)


def _actor(value: str | None) -> str | None:
    if value is not None and (not 1 <= len(value) <= 200 or not value.isprintable()):
        raise InvalidInput("actor must be 1 to 200 printable characters (a token id)")
    return value


@router.get("/audit", response_model=out.AuditPageOut)
def audit(
    actor: AdminActor,
    svc: ServicesDep,
    region: str | None = None,
    card: str | None = None,
    by: Annotated[str | None, Query(alias="actor")] = None,
    since: str | None = None,
    until: str | None = None,
    cursor: str | None = None,
    limit: str | None = None,
) -> dict[str, Any]:
    """Actions newest first, in `region`'s subtree (default: the caller's region),
    optionally of one card, by one actor (a token id, or `bootstrap`), in
    [`since`, `until`); `next` is the cursor of the following page (null at the end)."""
    scope = actor.region if region is None else region
    require_region(scope)
    query = AuditQuery(
        region=scope,
        card_id=None if card is None else str(parse_uuid(card, "card")),
        actor_id=_actor(by),
        since=None if since is None else parse_instant(since, "since"),
        until=None if until is None else parse_instant(until, "until"),
        cursor=cursor,
        limit=_limit(limit),
    )
    require_scope(actor, scope, "read")
    try:
        items, after = audit_reader(svc).page(query)
    except BadCursor as exc:
        raise InvalidInput(str(exc)) from None
    return {"region": scope, "items": items, "next": after}
