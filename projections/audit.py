"""The audit trail: every recorded action (an event with an actor), in one table for both
Applications, answerable by region subtree, card, actor and time.

Each event names its actor (kind, id, role, region). The region an action concerns is the
region of its subject: a card's issuing region, a merchant's, a catalog's, a token's. Events
after the first do not repeat it (a suspension names no region), so the fold keeps each
subject's region in `view_audit_subjects`. Holders have no region of their own: their
actions are filed under the acting administrator's region. Only whitelisted fields are
copied into an entry's details: never key material, hashes or personal data.

There is one view per source Application (the runner groups views by source); both write
`view_audit_log`, each clearing only its own rows on a rebuild.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import UUID

from cardservice.dialect import Insert
from cardservice.domain.access import AdminToken
from cardservice.domain.cards import Card
from cardservice.domain.catalog import RegionCatalog
from cardservice.domain.holders import Holder
from cardservice.domain.keys import IssuerKeyring
from cardservice.domain.merchants import Merchant
from cardservice.domain.regions import ROOT, UnknownRegion, regions
from cardservice.storage import Database, Row, Tx
from projections.view import Event, View, chunks, event_name, placeholders, topics_of

DETAIL_FIELDS = (
    "card_number",
    "category",
    "expires_on",
    "card_version",
    "kid",
    "role",
    "name",
    "kind",
    "a_level",
    "version",
    "effective_from",
    "withdrawn",
    "changes",
)
SUBJECTS: tuple[tuple[str, type, tuple[str, ...]], ...] = (
    ("CardLedger", Card, ("Issued", "Suspended", "Reinstated", "Revoked", "Reissued")),
    # Holder sessions (a phone activated, replaced or removed): who, when and why.
    ("CardLedger", Card, ("SessionStarted", "SessionEnded")),
    # A holder's registration and card assignments are parts of issuing a card (its
    # Card.Issued entry says who did it); folding them would double the events decoded.
    ("CardLedger", Holder, ("Erased",)),
    ("CardLedger", IssuerKeyring, ("Created", "Rotated", "Compromised")),
    ("CatalogAdmin", RegionCatalog, ("Created", "VersionPublished")),
    ("CatalogAdmin", Merchant, ("Registered", "ApiKeyRotated", "Deactivated", "Updated")),
    ("CatalogAdmin", AdminToken, ("Minted", "Revoked")),
)
MAX_LIMIT = 500


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    recorded: datetime
    type: str
    version: int
    region: str
    actor: Mapping[str, Any]
    card_id: str | None
    reason: str | None
    details: Mapping[str, Any]


@dataclass(frozen=True)
class Subject:
    """What the fold keeps per aggregate: its kind, its region (once known) and the entries
    this batch added."""

    kind: str
    region: str | None = None
    entries: tuple[AuditEntry, ...] = field(default=())


def _when(event: Event) -> datetime:
    for name in ("at", "issued_at", "published_at", "timestamp"):
        value = getattr(event, name, None)
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)


def _card_id(kind: str, event: Event) -> str | None:
    if kind == "Card":
        return str(event.originator_id)
    card = getattr(event, "card_id", None)
    if card is None:
        first = getattr(event, "first_card", None)
        card = first.get("card_id") if isinstance(first, Mapping) else None
    return str(card) if card is not None else None


def apply_audit(state: Subject | None, event: Event) -> Subject:
    """Fold one event: remember the subject's region; record an entry if it has an actor."""
    name = event_name(event)
    kind = name.split(".", 1)[0]
    subject = state or Subject(kind=kind)
    fields = vars(event)
    region = fields.get("region")
    if isinstance(region, str) and region and region != subject.region:
        subject = Subject(subject.kind, region, subject.entries)
    actor = fields.get("actor")
    if not isinstance(actor, Mapping):
        return subject
    details = {k: fields[k] for k in DETAIL_FIELDS if fields.get(k) is not None}
    if kind == "RegionCatalog" and isinstance(getattr(event, "benefits", None), list):
        details["benefits"] = len(event.benefits)
    reason = getattr(event, "reason", None)
    entry = AuditEntry(
        at=_when(event),
        recorded=event.timestamp,
        type=name,
        version=int(event.originator_version),
        region=subject.region or str(actor.get("region") or ROOT),
        actor=dict(actor),
        card_id=_card_id(kind, event),
        reason=str(reason) if reason is not None else None,
        details=details,
    )
    return Subject(subject.kind, subject.region, (*subject.entries, entry))


@functools.lru_cache(maxsize=8192)
def region_path(region: str) -> str:
    """Root first, '/'-terminated: a subtree is a prefix (`000000/500000/` holds Chongqing)."""
    try:
        chain = regions().ancestors(region)
    except UnknownRegion:
        chain = [region, ROOT] if region != ROOT else [ROOT]
    return "/".join(reversed(chain)) + "/"


def micros(moment: datetime) -> int:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    delta = aware.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value // 1_000_000, UTC).replace(microsecond=value % 1_000_000)


_COLUMNS = (
    "at_us, recorded_us, aggregate_id, aggregate_version, source, type, region, region_path, "
    "card_id, actor_id, actor_kind, actor_role, actor_region, reason, details"
)


class AuditView(View[Subject]):
    """The audit entries of one source Application."""

    tables = ("view_audit_log", "view_audit_subjects")
    aggregates: ClassVar[tuple[str, ...]]

    def ddl(self, dialect: str) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS view_audit_log (
                at_us BIGINT NOT NULL,
                recorded_us BIGINT NOT NULL,
                aggregate_id TEXT NOT NULL,
                aggregate_version INTEGER NOT NULL,
                source TEXT NOT NULL,
                type TEXT NOT NULL,
                region TEXT NOT NULL,
                region_path TEXT NOT NULL,
                card_id TEXT,
                actor_id TEXT NOT NULL,
                actor_kind TEXT NOT NULL,
                actor_role TEXT NOT NULL,
                actor_region TEXT NOT NULL,
                reason TEXT,
                details TEXT NOT NULL,
                PRIMARY KEY (aggregate_id, aggregate_version)
            )""",
            "CREATE INDEX IF NOT EXISTS view_audit_log_time ON view_audit_log "
            "(at_us, recorded_us, aggregate_id, aggregate_version)",
            "CREATE INDEX IF NOT EXISTS view_audit_log_card ON view_audit_log (card_id, at_us)",
            "CREATE INDEX IF NOT EXISTS view_audit_log_actor ON view_audit_log (actor_id, at_us)",
            """CREATE TABLE IF NOT EXISTS view_audit_subjects (
                aggregate_id TEXT PRIMARY KEY,
                source TEXT NOT NULL,
                kind TEXT NOT NULL,
                region TEXT
            )""",
        ]

    def apply(self, state: Subject | None, event: Event) -> Subject | None:
        return apply_audit(state, event)

    def load(self, tx: Tx, ids: Sequence[UUID]) -> dict[UUID, Subject]:
        found: dict[UUID, Subject] = {}
        for part in chunks([str(i) for i in ids]):
            for row in tx.all(
                "SELECT aggregate_id, kind, region FROM view_audit_subjects "  # noqa: S608
                f"WHERE aggregate_id IN ({placeholders(len(part))})",
                part,
            ):
                found[UUID(row[0])] = Subject(kind=str(row[1]), region=row[2])
        return found

    def store(self, tx: Tx, changes: Mapping[UUID, tuple[Subject | None, Subject | None]]) -> None:
        subjects: list[tuple[Any, ...]] = []
        entries: list[tuple[Any, ...]] = []
        for aggregate_id, (before, after) in changes.items():
            if after is None:
                continue
            if before is None or before.region != after.region:
                subjects.append((str(aggregate_id), self.source, after.kind, after.region))
            for e in after.entries:
                entries.append(
                    (
                        micros(e.at),
                        micros(e.recorded),
                        str(aggregate_id),
                        e.version,
                        self.source,
                        e.type,
                        e.region,
                        region_path(e.region),
                        e.card_id,
                        str(e.actor.get("id", "")),
                        str(e.actor.get("kind", "")),
                        str(e.actor.get("role", "")),
                        str(e.actor.get("region", "")),
                        e.reason,
                        json.dumps(e.details, ensure_ascii=False, sort_keys=True, default=str),
                    )
                )
        tx.insert_many(
            Insert(
                "view_audit_subjects",
                ("aggregate_id", "source", "kind", "region"),
                on_conflict="ON CONFLICT (aggregate_id) DO UPDATE SET region = excluded.region",
            ),
            subjects,
        )
        tx.insert_many(
            Insert(
                "view_audit_log",
                _COLUMNS,
                on_conflict="ON CONFLICT (aggregate_id, aggregate_version) DO NOTHING",
            ),
            entries,
        )

    def clear(self, tx: Tx) -> None:
        for table in self.tables:
            tx.execute(f"DELETE FROM {table} WHERE source = ?", (self.source,))  # noqa: S608

    def snapshot(self, tx: Tx) -> list[Row]:
        return tx.all(
            f"SELECT {_COLUMNS} FROM view_audit_log WHERE source = ? "  # noqa: S608
            "ORDER BY aggregate_id, aggregate_version",
            (self.source,),
        ) + tx.all(
            "SELECT aggregate_id, kind, region FROM view_audit_subjects WHERE source = ? "
            "ORDER BY aggregate_id",
            (self.source,),
        )


def _topics(source: str) -> frozenset[str]:
    out: set[str] = set()
    for owner, aggregate, names in SUBJECTS:
        if owner == source:
            out |= topics_of(aggregate, names)
    return frozenset(out)


class LedgerAuditView(AuditView):
    name = "audit_ledger"
    source = "CardLedger"
    topics = _topics("CardLedger")


class CatalogAuditView(AuditView):
    name = "audit_catalog"
    source = "CatalogAdmin"
    topics = _topics("CatalogAdmin")


# -- queries ----------------------------------------------------------------------------------
class BadCursor(ValueError):
    """A cursor this service did not hand out."""


@dataclass(frozen=True)
class AuditQuery:
    region: str
    card_id: str | None = None
    actor_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    cursor: str | None = None
    limit: int = 100


def encode_cursor(row: Row) -> str:
    raw = f"{int(row[0])}|{int(row[1])}|{row[2]}|{int(row[3])}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[int, int, str, int]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        at_us, recorded_us, aggregate_id, version = raw.split("|")
        found = int(at_us), int(recorded_us), str(UUID(aggregate_id)), int(version)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadCursor(f"not a cursor: {text[:40]!r}") from None
    if not (abs(found[0]) < 2**62 and abs(found[1]) < 2**62 and 0 <= found[3] < 2**31):
        raise BadCursor(f"not a cursor: {text[:40]!r}")
    return found


def entry_dict(row: Row) -> dict[str, Any]:
    return {
        "at": from_micros(int(row[0])).isoformat(),
        "aggregate_id": row[2],
        "aggregate_version": int(row[3]),
        "source": row[4],
        "type": row[5],
        "region": row[6],
        "card_id": row[8],
        "actor": {"id": row[9], "kind": row[10], "role": row[11], "region": row[12]},
        "reason": row[13],
        "details": json.loads(row[14]),
    }


def select_audit(tx: Tx, query: AuditQuery) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first (by the action's time, then the order the events were recorded);
    `next` continues after the last entry returned (None at the end)."""
    where = ["region_path LIKE ?"]
    params: list[Any] = [region_path(query.region) + "%"]
    if query.card_id is not None:
        where.append("card_id = ?")
        params.append(query.card_id)
    if query.actor_id is not None:
        where.append("actor_id = ?")
        params.append(query.actor_id)
    if query.since is not None:
        where.append("at_us >= ?")
        params.append(micros(query.since))
    if query.until is not None:
        where.append("at_us < ?")
        params.append(micros(query.until))
    if query.cursor is not None:
        where.append("(at_us, recorded_us, aggregate_id, aggregate_version) < (?, ?, ?, ?)")
        params.extend(decode_cursor(query.cursor))
    limit = max(1, min(MAX_LIMIT, query.limit))
    rows = tx.all(
        f"SELECT {_COLUMNS} FROM view_audit_log WHERE {' AND '.join(where)} "  # noqa: S608
        "ORDER BY at_us DESC, recorded_us DESC, aggregate_id DESC, aggregate_version DESC "
        "LIMIT ?",
        (*params, limit + 1),
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return [entry_dict(r) for r in rows], encode_cursor(rows[-1]) if more else None


class AuditReader:
    """Reads of the audit view (its tables are the migrations': an empty trail, not an
    error, before any runner has started)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def page(self, query: AuditQuery) -> tuple[list[dict[str, Any]], str | None]:
        with self.db.read() as tx:
            return select_audit(tx, query)
