"""Regional benefit catalogs: publish a version (admin), read the effective catalog.

The public reads (`/v1/catalog/...`) come from the catalog view, which lags writes slightly
(the contract says so; clients poll). The admin read answers from the aggregates, so an
administrator sees the version they just published at once.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from cardservice.api import responses as out
from cardservice.api.deps import AdminActor, ScopedIdempotencyKey, ServicesDep, body_doc, json_body
from cardservice.api.params import parse_day, parse_instant
from cardservice.api.schemas import CatalogIn
from cardservice.application import CatalogAt, require_region, require_scope
from cardservice.bootstrap.write import WriteSide
from cardservice.clock import today_in_shanghai
from cardservice.http.body import BodyKind
from projections.catalog import CatalogEntry, CatalogReader

router = APIRouter(tags=["catalog"])


def catalog_reader(svc: WriteSide) -> CatalogReader:
    return svc.catalog_reader


def _day(svc: WriteSide, at: str | None) -> date:
    return today_in_shanghai(svc.clock) if at is None else parse_day(at, "at")


def _as_of(as_of: str | None) -> datetime | None:
    return None if as_of is None else parse_instant(as_of, "as_of")


def render(region: str, day: date, as_of: datetime | None, entry: CatalogEntry) -> dict[str, Any]:
    body: dict[str, Any] = {
        "region": region,
        "at": day.isoformat(),
        "benefits": entry.benefits,
        "upcoming": entry.upcoming,
        "catalog_version": entry.versions,
    }
    if as_of is not None:
        body["as_of"] = as_of.isoformat()
    return body


def _entry(found: CatalogAt) -> CatalogEntry:
    return CatalogEntry(
        benefits=[b.to_dict() for b in found.benefits],
        upcoming=[
            {**b.to_dict(), "effective_from": b.effective_from.isoformat()} for b in found.upcoming
        ],
        versions=found.versions,
    )


@router.put(
    "/v1/admin/regions/{region}/catalog",
    status_code=201,
    response_model=out.PublishedOut,
    tags=["admin: catalog"],
    openapi_extra=body_doc(CatalogIn),
)
def publish_catalog(
    region: str,
    actor: AdminActor,
    body: Annotated[CatalogIn, Depends(json_body(CatalogIn, kind=BodyKind.CATALOG))],
    svc: ServicesDep,
    key: ScopedIdempotencyKey,
) -> dict[str, Any]:
    """Publish a complete new version; a retry with the same Idempotency-Key returns the
    version made the first time."""
    version = svc.catalog.publish_catalog(
        region,
        body.effective_from,
        [b.model_dump() for b in body.benefits],
        actor,
        withdrawn=list(body.withdrawn),
        command_id=key,
    )
    return {"version": version, "region": region, "effective_from": body.effective_from}


@router.get(
    "/v1/admin/regions/{region}/catalog",
    response_model=out.AdminCatalogOut,
    tags=["admin: catalog"],
)
def admin_catalog(
    region: str,
    actor: AdminActor,
    svc: ServicesDep,
    at: str | None = None,
    as_of: str | None = None,
) -> dict[str, Any]:
    """The effective catalog and the region's versions, read-your-writes."""
    require_region(region)
    day, moment = _day(svc, at), _as_of(as_of)
    require_scope(actor, region, "read")
    found = svc.catalog.effective_catalog(region, day, moment)
    body = render(region, day, moment, _entry(found))
    body["versions"] = [
        {**version.to_dict(), "actor": dict(version.actor), "diff": diff.to_dict()}
        for version, diff in svc.catalog.catalog_versions(region)
    ]
    return body


@router.get("/v1/catalog/{region}", response_model=out.CatalogOut, tags=["public"])
def public_catalog(
    region: str, svc: ServicesDep, at: str | None = None, as_of: str | None = None
) -> dict[str, Any]:
    """What applies in the region on `at` (default: today in Asia/Shanghai), its own
    benefits and its ancestors', each with the region and version it came from; with
    `as_of`, as the catalog had been published by that moment."""
    require_region(region)
    day, moment = _day(svc, at), _as_of(as_of)
    return render(region, day, moment, catalog_reader(svc).at(region, day, moment))


@router.get("/v1/catalog/{region}/versions", response_model=out.VersionsOut, tags=["public"])
def public_versions(region: str, svc: ServicesDep) -> dict[str, Any]:
    """The region's own versions, oldest first, each with its diff to the previous one."""
    require_region(region)
    return {"region": region, "versions": catalog_reader(svc).versions(region)}
