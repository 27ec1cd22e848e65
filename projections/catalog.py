"""The effective catalog, precomputed per (region, date range) for the verification path.

Two tables. `view_catalog_versions` holds every published version (the input of the fold,
and what bitemporal `as_of` questions and the versions list are answered from).
`view_catalog_effective` holds, for every region that has published a catalog, one row per
date range over which its effective catalog is constant: the benefits in force (its chain
folded root first), the benefits of the next scheduled versions (`not_yet_effective`), and
the version of each region the fold used. The ranges start at every `effective_from` along
the chain, so moving the clock needs no recomputation: tomorrow is just another row.

A merchant (or the public catalog) in region R reads ONE row: among R's chain, the deepest
region that has rows, in the range holding the date. A region without its own catalog has
exactly the effective catalog of its nearest ancestor that has one, so rows are kept only
for regions that publish. When a region publishes, its rows and those of every publishing
region below it are recomputed in the same transaction as the runner's position.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from uuid import UUID

from cardservice.domain.benefits import Benefit
from cardservice.domain.catalog import RegionCatalog
from cardservice.domain.catalog_versions import (
    CatalogVersion,
    EffectiveBenefit,
    effective_benefits,
    upcoming_benefits,
    versions_in_force,
    versions_with_diffs,
)
from cardservice.domain.regions import ROOT, UnknownRegion, regions
from cardservice.storage import Database, Row, Tx
from projections.view import (
    Event,
    ProjectionError,
    View,
    chunks,
    event_name,
    placeholders,
    topics_of,
)

CATALOG_EVENTS = ("Created", "VersionPublished")
FIRST_DAY = date.min

BenefitDict = dict[str, Any]


# -- the fold (pure) ----------------------------------------------------------------------------
@dataclass(frozen=True)
class RegionHistory:
    """One RegionCatalog aggregate as the view knows it: its region and its versions."""

    region: str
    versions: tuple[CatalogVersion, ...] = ()


def version_from_event(region: str, event: Event) -> CatalogVersion:
    return CatalogVersion(
        region=region,
        number=int(event.version),
        effective_from=date.fromisoformat(event.effective_from),
        published_at=event.published_at,
        benefits=tuple(Benefit.from_event(b) for b in event.benefits),
        withdrawn=tuple(event.withdrawn),
    )


def apply_catalog(state: RegionHistory | None, event: Event) -> RegionHistory | None:
    """Fold one RegionCatalog event into the region's history."""
    name = event_name(event)
    if name == "RegionCatalog.Created":
        return state or RegionHistory(region=str(event.region))
    if state is None:
        raise ProjectionError(f"{name} for catalog {event.originator_id}, never created")
    if name == "RegionCatalog.VersionPublished":
        version = version_from_event(state.region, event)
        if any(v.number == version.number for v in state.versions):
            return state
        return replace(state, versions=(*state.versions, version))
    return state


@dataclass(frozen=True)
class EffectiveRange:
    """The effective catalog of one region over [valid_from, valid_until) (None: open)."""

    valid_from: date
    valid_until: date | None
    benefits: tuple[EffectiveBenefit, ...]
    upcoming: tuple[EffectiveBenefit, ...]
    versions: Mapping[str, int] = field(default_factory=dict)

    def same_content(self, other: EffectiveRange) -> bool:
        return (self.benefits, self.upcoming, dict(self.versions)) == (
            other.benefits,
            other.upcoming,
            dict(other.versions),
        )


def effective_ranges(chains: Sequence[Sequence[CatalogVersion]]) -> list[EffectiveRange]:
    """The effective catalog over all time as date ranges, for histories along a chain
    (root first). Which versions are in force (and which come next) changes only on an
    `effective_from` date, so folding once at each such date covers every day."""
    starts = sorted({FIRST_DAY} | {v.effective_from for h in chains for v in h})
    out: list[EffectiveRange] = []
    for i, start in enumerate(starts):
        until = starts[i + 1] if i + 1 < len(starts) else None
        current = EffectiveRange(
            valid_from=start,
            valid_until=until,
            benefits=tuple(effective_benefits(chains, start)),
            upcoming=tuple(upcoming_benefits(chains, start)),
            versions=versions_in_force(chains, start),
        )
        if out and out[-1].same_content(current):
            out[-1] = replace(out[-1], valid_until=until)
        else:
            out.append(current)
    return out


def benefit_dict(item: EffectiveBenefit) -> BenefitDict:
    """The contract's shape: the benefit plus the region that published it and its version."""
    return item.to_dict()


def upcoming_dict(item: EffectiveBenefit) -> BenefitDict:
    return {**item.to_dict(), "effective_from": item.effective_from.isoformat()}


def chain_of(region: str) -> list[str]:
    """The region and its ancestors, self first; an unknown code stands alone under the root
    (the view must never stop on a code the shipped table dropped)."""
    try:
        return regions().ancestors(region)
    except UnknownRegion:
        return [region] if region == ROOT else [region, ROOT]


# -- reading the tables ---------------------------------------------------------------------------
_VERSION_COLUMNS = "region, version, effective_from, published_at, benefits, withdrawn"


def _version_from_row(row: Row) -> CatalogVersion:
    return CatalogVersion(
        region=str(row[0]),
        number=int(row[1]),
        effective_from=date.fromisoformat(row[2]),
        published_at=datetime.fromisoformat(row[3]),
        benefits=tuple(Benefit.from_event(b) for b in json.loads(row[4])),
        withdrawn=tuple(json.loads(row[5])),
    )


def select_histories(tx: Tx, codes: Iterable[str]) -> dict[str, list[CatalogVersion]]:
    """Each region's versions in publication order (regions without any are left out)."""
    found: dict[str, list[CatalogVersion]] = {}
    for part in chunks(sorted(set(codes))):
        for row in tx.all(
            f"SELECT {_VERSION_COLUMNS} FROM view_catalog_versions "  # noqa: S608
            f"WHERE region IN ({placeholders(len(part))}) ORDER BY region, version",
            part,
        ):
            version = _version_from_row(row)
            found.setdefault(version.region, []).append(version)
    return found


def select_chains(tx: Tx, region: str) -> list[list[CatalogVersion]]:
    chain = chain_of(region)
    histories = select_histories(tx, chain)
    return [histories.get(code, []) for code in reversed(chain)]


@dataclass(frozen=True)
class CatalogEntry:
    """What the verification path needs for a merchant's region on a day: the effective
    benefits (contract dicts), the upcoming ones (with `effective_from`) and the versions."""

    benefits: list[BenefitDict]
    upcoming: list[BenefitDict]
    versions: dict[str, int]


EMPTY_ENTRY = CatalogEntry([], [], {})


def select_entry(tx: Tx, region: str, day: date) -> CatalogEntry:
    """One indexed read: the deepest region of the chain with rows, in the range holding
    `day`; nothing published anywhere along the chain is the empty catalog."""
    chain = chain_of(region)
    text = day.isoformat()
    row = tx.one(
        "SELECT benefits, upcoming, versions FROM view_catalog_effective "  # noqa: S608
        f"WHERE region IN ({placeholders(len(chain))}) AND valid_from <= ? "
        "AND (valid_until IS NULL OR valid_until > ?) ORDER BY depth DESC LIMIT 1",
        (*chain, text, text),
    )
    if row is None:
        return EMPTY_ENTRY
    return CatalogEntry(json.loads(row[0]), json.loads(row[1]), json.loads(row[2]))


# -- the view ----------------------------------------------------------------------------------
class CatalogView(View[RegionHistory]):
    name = "catalog"
    source = "CatalogAdmin"
    topics = topics_of(RegionCatalog, CATALOG_EVENTS)
    tables = ("view_catalog_regions", "view_catalog_versions", "view_catalog_effective")

    def ddl(self, dialect: str) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS view_catalog_regions (
                catalog_id TEXT PRIMARY KEY,
                region TEXT NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS view_catalog_versions (
                region TEXT NOT NULL,
                version INTEGER NOT NULL,
                effective_from TEXT NOT NULL,
                published_at TEXT NOT NULL,
                benefits TEXT NOT NULL,
                withdrawn TEXT NOT NULL,
                PRIMARY KEY (region, version)
            )""",
            # valid_from/valid_until are ISO dates: their text order is their date order.
            """CREATE TABLE IF NOT EXISTS view_catalog_effective (
                region TEXT NOT NULL,
                valid_from TEXT NOT NULL,
                valid_until TEXT,
                depth INTEGER NOT NULL,
                benefits TEXT NOT NULL,
                upcoming TEXT NOT NULL,
                versions TEXT NOT NULL,
                PRIMARY KEY (region, valid_from)
            )""",
        ]

    def apply(self, state: RegionHistory | None, event: Event) -> RegionHistory | None:
        return apply_catalog(state, event)

    def load(self, tx: Tx, ids: Sequence[UUID]) -> dict[UUID, RegionHistory]:
        regions_by_id: dict[UUID, str] = {}
        for part in chunks([str(i) for i in ids]):
            for row in tx.all(
                "SELECT catalog_id, region FROM view_catalog_regions "  # noqa: S608
                f"WHERE catalog_id IN ({placeholders(len(part))})",
                part,
            ):
                regions_by_id[UUID(row[0])] = str(row[1])
        histories = select_histories(tx, regions_by_id.values())
        return {
            catalog_id: RegionHistory(region, tuple(histories.get(region, [])))
            for catalog_id, region in regions_by_id.items()
        }

    def store(
        self, tx: Tx, changes: Mapping[UUID, tuple[RegionHistory | None, RegionHistory | None]]
    ) -> None:
        touched: set[str] = set()
        new_regions: list[tuple[str, str]] = []
        new_versions: list[tuple[Any, ...]] = []
        for catalog_id, (before, after) in changes.items():
            if after is None:
                continue
            if before is None:
                new_regions.append((str(catalog_id), after.region))
            known = {v.number for v in before.versions} if before else set()
            for v in after.versions:
                if v.number in known:
                    continue
                touched.add(after.region)
                new_versions.append(
                    (
                        v.region,
                        v.number,
                        v.effective_from.isoformat(),
                        v.published_at.isoformat(),
                        json.dumps([b.to_dict() for b in v.benefits], ensure_ascii=False),
                        json.dumps(list(v.withdrawn), ensure_ascii=False),
                    )
                )
        tx.executemany(
            "INSERT INTO view_catalog_regions (catalog_id, region) VALUES (?, ?) "
            "ON CONFLICT (catalog_id) DO NOTHING",
            new_regions,
        )
        tx.executemany(
            f"INSERT INTO view_catalog_versions ({_VERSION_COLUMNS}) "  # noqa: S608
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (region, version) DO NOTHING",
            new_versions,
        )
        if touched:
            refresh_effective(tx, touched)

    def snapshot(self, tx: Tx) -> list[Row]:
        rows = tx.all(
            f"SELECT {_VERSION_COLUMNS} FROM view_catalog_versions ORDER BY region, version"  # noqa: S608
        )
        rows += tx.all(
            "SELECT region, valid_from, valid_until, depth, benefits, upcoming, versions "
            "FROM view_catalog_effective ORDER BY region, valid_from"
        )
        return rows


def refresh_effective(tx: Tx, touched: Iterable[str]) -> None:
    """Recompute the ranges of every publishing region at or below a touched region."""
    touched = set(touched)
    publishing = [str(r[0]) for r in tx.all("SELECT DISTINCT region FROM view_catalog_versions")]
    targets = sorted(r for r in publishing if touched & set(chain_of(r)))
    needed = {code for target in targets for code in chain_of(target)}
    histories = select_histories(tx, needed)
    for part in chunks(targets):
        tx.execute(
            "DELETE FROM view_catalog_effective "  # noqa: S608
            f"WHERE region IN ({placeholders(len(part))})",
            part,
        )
    rows: list[tuple[Any, ...]] = []
    for target in targets:
        chain = chain_of(target)
        chains = [histories.get(code, []) for code in reversed(chain)]
        for r in effective_ranges(chains):
            rows.append(
                (
                    target,
                    r.valid_from.isoformat(),
                    r.valid_until.isoformat() if r.valid_until else None,
                    len(chain) - 1,
                    json.dumps([benefit_dict(b) for b in r.benefits], ensure_ascii=False),
                    json.dumps([upcoming_dict(b) for b in r.upcoming], ensure_ascii=False),
                    json.dumps(dict(r.versions), sort_keys=True),
                )
            )
    tx.executemany(
        "INSERT INTO view_catalog_effective "
        "(region, valid_from, valid_until, depth, benefits, upcoming, versions) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


# -- the read side --------------------------------------------------------------------------------
class CatalogReader:
    """Reads of the catalog view for `/v1/catalog` and the merchant API (which lag writes
    slightly, by contract). Its tables are the migrations', so a fresh database answers an
    empty catalog before any runner has started."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def entry(self, region: str, day: date) -> CatalogEntry:
        with self.db.read() as tx:
            return select_entry(tx, region, day)

    def lookup(self, region: str, day: date) -> tuple[list[BenefitDict], dict[str, int]]:
        """The `merchant_api.catalog.CatalogLookup` seam: benefits in force and versions."""
        found = self.entry(region, day)
        return found.benefits, found.versions

    def chains(self, region: str) -> list[list[CatalogVersion]]:
        with self.db.read() as tx:
            return select_chains(tx, region)

    def at(self, region: str, day: date, as_of: datetime | None = None) -> CatalogEntry:
        """The effective catalog on `day`; with `as_of`, as it had been published by then
        (folded from the versions table: a question about the past, not the hot path)."""
        if as_of is None:
            return self.entry(region, day)
        chains = self.chains(region)
        return CatalogEntry(
            benefits=[benefit_dict(b) for b in effective_benefits(chains, day, as_of)],
            upcoming=[upcoming_dict(b) for b in upcoming_benefits(chains, day, as_of)],
            versions=versions_in_force(chains, day, as_of),
        )

    def versions(self, region: str) -> list[dict[str, Any]]:
        """The region's own versions, oldest first, each with its diff to the previous."""
        with self.db.read() as tx:
            history = select_histories(tx, [region]).get(region, [])
        return [
            {**version.to_dict(), "diff": diff.to_dict()}
            for version, diff in versions_with_diffs(history)
        ]
