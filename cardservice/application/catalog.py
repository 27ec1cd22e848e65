"""Regional benefit catalogs: publishing versions, their history and the effective fold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from cardservice.application.base import (
    MAX_ISSUE_ATTEMPTS,
    IdempotencyMismatch,
    ServiceApplication,
    require_region,
    require_scope,
    retrying,
)
from cardservice.domain import regions as region_table
from cardservice.domain.actors import Actor
from cardservice.domain.benefits import parse_effective_from, validate_benefits, validate_withdrawn
from cardservice.domain.catalog import RegionCatalog
from cardservice.domain.catalog_versions import (
    CatalogVersion,
    EffectiveBenefit,
    VersionDiff,
    effective_benefits,
    upcoming_benefits,
    versions_in_force,
    versions_with_diffs,
)


@dataclass(frozen=True)
class CatalogAt:
    """An effective catalog: what applies in a region on a date (as published by `as_of`),
    what is scheduled next, and the version of each region the fold used."""

    region: str
    at: date
    as_of: datetime | None
    benefits: list[EffectiveBenefit]
    upcoming: list[EffectiveBenefit]
    versions: dict[str, int]


class Catalogs(ServiceApplication):
    """A `RegionCatalog` per region; each publish is a complete new version."""

    def publish_catalog(
        self,
        region: str,
        effective_from: date | str,
        benefits: object,
        actor: Actor,
        *,
        withdrawn: object = (),
        command_id: str | None = None,
    ) -> int:
        """Publish a complete new version of a region's catalog; returns its number.

        Everything is validated before the scope check (422 before 403, the contract's
        order) and nothing is recorded on a refusal. `command_id` (the Idempotency-Key) is
        scoped to the calling token: a retry returns the version made the first time; the
        same key with a different catalog is refused (422).
        """
        require_region(region)
        day = parse_effective_from(effective_from)
        parsed = validate_benefits(benefits)
        gone = validate_withdrawn(withdrawn, parsed)
        require_scope(actor, region, "catalog")
        key = f"{actor.id}:{command_id}" if command_id else None

        def command() -> int:
            catalog = self._get_or_none(RegionCatalog.create_id(region))
            if not isinstance(catalog, RegionCatalog):
                catalog = RegionCatalog(region)
            if key is not None and key in catalog.command_ids:
                first = catalog.history[catalog.command_ids[key] - 1]
                if (first.effective_from, first.benefits, first.withdrawn) != (day, parsed, gone):
                    raise IdempotencyMismatch(
                        "Idempotency-Key reused with a different catalog version"
                    )
                return first.number
            number = catalog.publish(
                day,
                [b.to_dict() for b in parsed],
                published_at=self.now(),
                actor=actor.as_dict(),
                withdrawn=gone,
                command_id=key,
            )
            self.save(catalog)  # another version (or this retry) saved meanwhile: decide again
            return number

        return retrying(
            command,
            attempts=MAX_ISSUE_ATTEMPTS,
            busy="the catalog is being changed concurrently; try again",
        )

    def catalog_history(self, region: str) -> list[CatalogVersion]:
        """A region's own versions, oldest first, from its aggregate (read-your-writes)."""
        found = self._get_or_none(RegionCatalog.create_id(region))
        return list(found.history) if isinstance(found, RegionCatalog) else []

    def catalog_chains(self, region: str) -> list[list[CatalogVersion]]:
        """The histories along the region's chain, root first (the fold's input)."""
        require_region(region)
        chain = region_table.regions().ancestors(region)
        return [self.catalog_history(code) for code in reversed(chain)]

    def effective_catalog(
        self, region: str, at: date | None = None, as_of: datetime | None = None
    ) -> CatalogAt:
        """What applies in `region` on `at` (today by default), as published by `as_of`."""
        day = at or self.today()
        chains = self.catalog_chains(region)
        return CatalogAt(
            region=region,
            at=day,
            as_of=as_of,
            benefits=effective_benefits(chains, day, as_of),
            upcoming=upcoming_benefits(chains, day, as_of),
            versions=versions_in_force(chains, day, as_of),
        )

    def catalog_versions(self, region: str) -> list[tuple[CatalogVersion, VersionDiff]]:
        require_region(region)
        return versions_with_diffs(self.catalog_history(region))
