"""Bureau statistics and settlement between regions (any role, inside its subtree).

Read from daily sums of the verification log and the redemption events; views, so they
may lag writes slightly.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from cardservice.api import responses as out
from cardservice.api.deps import AdminActor, ServicesDep
from cardservice.api.params import parse_day
from cardservice.bootstrap.write import WriteSide
from cardservice.clock import today_in_shanghai
from cardservice.domain.actors import Actor
from cardservice.domain.errors import Forbidden, InvalidInput
from cardservice.domain.regions import is_well_formed, regions
from redemptions.stats import RangeInvalid, Scope, settlement_csv, settlement_rows, statistics

router = APIRouter(prefix="/v1/admin", tags=["admin: statistics"])


def _scope(
    actor: Actor, svc: WriteSide, region: str | None, start: str | None, end: str | None
) -> Scope:
    code = actor.region if region is None else region
    if not is_well_formed(code) or not regions().exists(code):
        raise InvalidInput(f"unknown region code {code!r}")
    today = today_in_shanghai(svc.clock)
    try:
        scope = Scope(
            code,
            today if start is None else parse_day(start, "from"),
            today if end is None else parse_day(end, "to"),
        )
    except RangeInvalid as exc:
        raise InvalidInput(str(exc)) from None
    if not regions().is_within(code, actor.region):
        raise Forbidden(f"region {code} is outside the caller's region {actor.region}")
    return scope


STATS_EXAMPLE = {
    "region": "500000",
    "from": "2026-06-01",
    "to": "2026-06-01",
    "verifications": {"total": 3, "by_status": {"valid": 2, "revoked": 1}},
    "redemptions": {
        "total": 2,
        "companions": 1,
        "by_benefit": {"000000/free-entry": 2},
        "out_of_region": 1,
    },
    "by_day": [{"date": "2026-06-01", "verifications": 3, "valid": 2, "redemptions": 2}],
}


@router.get(
    "/stats",
    response_model=out.StatsOut,
    responses={200: {"content": {"application/json": {"example": STATS_EXAMPLE}}}},
)
def stats(
    actor: AdminActor,
    svc: ServicesDep,
    region: str | None = None,
    start: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=20)] = None,
) -> dict[str, Any]:
    """Verifications and redemptions at merchants in `region`'s subtree, per Asia/Shanghai
    day `from`..`to` inclusive (default today; at most 366 days)."""
    scope = _scope(actor, svc, region, start, end)
    with svc.db.read() as tx:
        return statistics(tx, scope)


@router.get(
    "/settlement",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"example": "merchant_region,card_region,..."}}}},
)
def settlement(
    actor: AdminActor,
    svc: ServicesDep,
    region: str | None = None,
    start: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=20)] = None,
) -> Response:
    """Who granted, whose holder, which region's benefit pays: one CSV row per combination."""
    scope = _scope(actor, svc, region, start, end)
    with svc.db.read() as tx:
        rows = settlement_rows(tx, scope)
    return Response(settlement_csv(rows), media_type="text/csv; charset=utf-8")
