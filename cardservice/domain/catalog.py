"""Regional benefit catalogs: complete versions, never edited, folded along the region chain.

Each region publishes complete versions of its catalog, numbered 1, 2, ... and dated
`effective_from`; a correction is a new version, so the history answers both "what applies
on DATE" and "what did the catalog say at DATE, as published by TIMESTAMP" (bitemporal).
The benefits and their validation are in `domain.benefits`; which version is in force and
how versions fold along the region chain, in `domain.catalog_versions`.

The aggregate's class and its events stay in this module: their topics are recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from cardservice.domain.benefits import (
    Benefit,
    parse_effective_from,
    validate_benefits,
    validate_withdrawn,
)
from cardservice.domain.catalog_versions import CatalogVersion

__all__ = ["CATALOG_NAMESPACE", "RegionCatalog"]

# Fixed namespace: a region's catalog id must be the same on every machine and forever.
CATALOG_NAMESPACE = UUID("6f1c3a52-4d0e-5b8a-9c57-2f7e0d1b9a40")


class RegionCatalog(Aggregate):
    """One region's catalog history. The id is derived from the region code, so two
    administrators publishing the first version at once cannot create two catalogs."""

    @staticmethod
    def create_id(region: str) -> UUID:
        return uuid5(CATALOG_NAMESPACE, f"region-catalog:{region}")

    @event("Created")
    def __init__(self, region: str) -> None:
        self.region = region
        self.history: list[CatalogVersion] = []
        self.command_ids: dict[str, int] = {}

    @property
    def latest(self) -> CatalogVersion | None:
        return self.history[-1] if self.history else None

    @property
    def published_count(self) -> int:
        return len(self.history)

    def publish(
        self,
        effective_from: date | str,
        benefits: Sequence[Mapping[str, Any]],
        *,
        published_at: datetime,
        actor: Mapping[str, Any],
        withdrawn: Sequence[str] = (),
        command_id: str | None = None,
    ) -> int:
        """Publish a complete new version and return its number. A retried command (same
        `command_id`) returns the version it made the first time and records nothing."""
        if command_id and command_id in self.command_ids:
            return self.command_ids[command_id]
        day = parse_effective_from(effective_from)
        parsed = validate_benefits(benefits)
        gone = validate_withdrawn(list(withdrawn), parsed)
        number = len(self.history) + 1
        self._version_published(
            version=number,
            effective_from=day.isoformat(),
            benefits=[b.to_dict() for b in parsed],
            withdrawn=list(gone),
            published_at=published_at,
            actor=dict(actor),
            command_id=command_id,
        )
        return number

    @event("VersionPublished")
    def _version_published(
        self,
        version: int,
        effective_from: str,
        benefits: list[dict[str, Any]],
        withdrawn: list[str],
        published_at: datetime,
        actor: dict[str, Any],
        command_id: str | None = None,
    ) -> None:
        self.history.append(
            CatalogVersion(
                region=self.region,
                number=version,
                effective_from=date.fromisoformat(effective_from),
                published_at=published_at,
                benefits=tuple(Benefit.from_event(b) for b in benefits),
                withdrawn=tuple(withdrawn),
                actor=actor,
            )
        )
        if command_id:
            self.command_ids[command_id] = version
