"""Versioned schema migrations: every table, the event stores' and the project's own.

`MIGRATIONS` is an ordered list; `schema_migrations (version, name, applied_at)` records
which ones a database has. Pending ones are applied in order, each in its own
transaction with its row, so a crash leaves a database at a whole version. Every step is
idempotent besides (`IF NOT EXISTS`, columns added only when missing), which is how
version 1 takes over a database made by the lazy `CREATE TABLE IF NOT EXISTS` of
earlier code: it creates what is missing and records itself.

Concurrent starts: on PostgreSQL the migrator holds a session advisory lock (per schema)
on a connection of its own, so replicas started at the same instant apply each version
once, one after the other, and never race on DDL; on SQLite each version's transaction
is `BEGIN IMMEDIATE`, and the version is re-read under it.

The event stores' tables are made here too, by the eventsourcing library's own recorders
(the statements stay the library's), under that lock; the applications then run with
`CREATE_TABLE=n`. A new migration appends to `MIGRATIONS`: a version is never edited
once released.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from cardservice.dialect import POSTGRES
from cardservice.settings import EVENT_STORE_FILES, Settings
from cardservice.storage import SEARCH_DDL, SIDE_SCHEMA, Database, Tx

SCHEMA_MIGRATIONS_DDL = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
)"""

DEADLOCK_RETRIES = 5


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Tx, Settings], None]
    """The version's steps, inside its transaction (`Tx.dialect` says the engine)."""


class SchemaBehind(RuntimeError):
    """The database lacks migrations this code needs, and auto-migration is off."""


# -- version 1: every table as the lazy code of before made it -----------------------------
def event_store_envs(settings: Settings) -> list[tuple[str, dict[str, str]]]:
    """Each event-sourced application's name and where its store lives (no cipher: making
    tables needs no key, and the read side, which has none, migrates too)."""
    return [(name, settings.persistence_env(name)) for name in EVENT_STORE_FILES]


def create_event_stores(settings: Settings) -> None:
    """The library creates its tables (idempotent: `IF NOT EXISTS`, a type that exists is
    left alone) through its own connections; the caller holds the migration lock."""
    for name, env in event_store_envs(settings):
        merged = {**os.environ, **env, "CREATE_TABLE": "y"}
        factory = InfrastructureFactory.construct(Environment(name, merged))
        try:
            factory.application_recorder()  # CREATE_TABLE=y: creates the tables
        finally:
            factory.close()


def project_schema(dialect: str) -> list[str]:
    """Every statement of the project's own tables, from the modules that own them."""
    from merchant_api import vlog
    from projections.notices import outbox_ddl
    from projections.photos import photo_ddl
    from projections.runner import POSITIONS_DDL
    from projections.setaside import SET_ASIDE_DDL
    from redemptions.rollups import VERIFICATION_ROLLUP_DDL
    from redemptions.stats import VERIFICATION_DAILY_DDL

    blob = "BYTEA" if dialect == "postgres" else "BLOB"
    statements = [
        *SIDE_SCHEMA,
        *SEARCH_DDL,
        *photo_ddl(blob),
        *outbox_ddl(dialect),
        *POSITIONS_DDL,
        *SET_ASIDE_DDL,
        *VERIFICATION_DAILY_DDL,
        *VERIFICATION_ROLLUP_DDL,
        *vlog.ddl(dialect),
    ]
    for view in every_view():
        statements.extend(view.ddl(dialect))
    return [s.format(blob=blob) for s in statements]


def every_view() -> list[Any]:
    from projections.registry import all_views
    from redemptions.views import redemption_views

    return [*all_views(), *redemption_views()]


def baseline(tx: Tx, settings: Settings) -> None:
    from merchant_api import vlog

    create_event_stores(settings)
    for statement in project_schema(tx.dialect):
        tx.execute(statement)
    vlog.upgrade(tx)
    for view in every_view():
        view.upgrade(tx)  # columns and roll-ups an older table lacks
        tx.execute(
            "INSERT INTO projection_positions (view, source, position) VALUES (?, ?, 0) "
            "ON CONFLICT (view, source) DO NOTHING",
            (view.name, view.source),
        )


def offline_bundles(tx: Tx, settings: Settings) -> None:
    """Version 2: the stored offline bundles, one per merchant region (signed by the write
    side, served as stored by the merchant API)."""
    from projections.offline_bundles import OFFLINE_BUNDLES_SCHEMA

    blob = "BYTEA" if tx.dialect == "postgres" else "BLOB"
    for statement in OFFLINE_BUNDLES_SCHEMA:
        tx.execute(statement.format(blob=blob))


def card_history(tx: Tx, settings: Settings) -> None:
    """Version 3: each card's status changes over time (`view_card_history`), folded from
    the card events by the runner; its position starts at 0, so an existing database's
    cards get their whole history on the runner's next windows."""
    from projections.card_history import CardHistoryView

    view = CardHistoryView()
    for statement in view.ddl(tx.dialect):
        tx.execute(statement)
    tx.execute(
        "INSERT INTO projection_positions (view, source, position) VALUES (?, ?, 0) "
        "ON CONFLICT (view, source) DO NOTHING",
        (view.name, view.source),
    )


def notice_outbox_refusals(tx: Tx, settings: Settings) -> None:
    """Version 4: the outbox counts a gateway's permanent refusals (4xx other than 408 and
    429) and keeps the last HTTP status, so a row refused `REFUSALS_BEFORE_FAILED` times is
    given up (`outcome = 'failed'`) instead of retried forever; an index on `outcome`
    finds the finished rows the delivery prunes after their retention."""
    from projections.notices import OUTBOX_REFUSAL_COLUMNS

    if tx.dialect == "postgres":
        found = {
            str(r[0])
            for r in tx.all(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = 'notice_outbox'"
            )
        }
    else:
        found = {str(r[1]) for r in tx.all("PRAGMA table_info(notice_outbox)")}
    for column, kind in OUTBOX_REFUSAL_COLUMNS:
        if column not in found:
            tx.execute(f"ALTER TABLE notice_outbox ADD COLUMN {column} {kind}")
    tx.execute(
        "CREATE INDEX IF NOT EXISTS notice_outbox_finished ON notice_outbox (outcome, delivered_at)"
    )


def counter_periods(tx: Tx, settings: Settings) -> None:
    """Version 5: the usage counters indexed by (card_id, period). A verdict reads only the
    periods it falls in (`merchant_api.counters`), and a card's counters of earlier periods
    stay in the view; the index on card_id alone, a prefix of the new one, goes."""
    tx.execute(
        "CREATE INDEX IF NOT EXISTS view_redemption_counters_card_period "
        "ON view_redemption_counters (card_id, period)"
    )
    tx.execute("DROP INDEX IF EXISTS view_redemption_counters_card")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "baseline", baseline),
    Migration(2, "offline_bundles", offline_bundles),
    Migration(3, "card_history", card_history),
    Migration(4, "notice_outbox_refusals", notice_outbox_refusals),
    Migration(5, "counter_periods", counter_periods),
)


# -- applying ------------------------------------------------------------------------------
def _has_table(tx: Tx) -> bool:
    if tx.dialect == "postgres":
        found = tx.one(
            "SELECT 1 FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_name = 'schema_migrations'"
        )
    else:
        found = tx.one("SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'")
    return found is not None


def _applied(tx: Tx) -> dict[int, tuple[str, str]]:
    if not _has_table(tx):
        return {}
    rows = tx.all("SELECT version, name, applied_at FROM schema_migrations")
    return {int(r[0]): (str(r[1]), str(r[2])) for r in rows}


@dataclass(frozen=True)
class Status:
    applied: dict[int, tuple[str, str]]
    """version -> (name, applied_at)"""
    pending: list[Migration]

    @property
    def current(self) -> int:
        return max(self.applied, default=0)


def status(db: Database) -> Status:
    with db.read() as tx:
        applied = _applied(tx)
    return Status(applied, [m for m in MIGRATIONS if m.version not in applied])


def migrate(db: Database, settings: Settings | None = None) -> list[Migration]:
    """Apply the pending migrations in order; returns those this call applied."""
    settings = settings or db.settings
    if not status(db).pending:
        return []  # the common start: no lock, no DDL (a role without DDL rights can start)
    done: list[Migration] = []
    try:
        with _transactions(db) as transaction:
            for migration in MIGRATIONS:
                if _apply_one(transaction, migration, settings):
                    done.append(migration)
    except psycopg.errors.InsufficientPrivilege as exc:  # the reader role, for example
        raise SchemaBehind(
            f"the database schema is behind this code and this role may not migrate it "
            f"({exc.diag.message_primary}): run `cardservice migrate` as the schema's owner"
        ) from None
    return done


def _apply_one(transaction: TxFactory, migration: Migration, settings: Settings) -> bool:
    """One version in one transaction; False if it was there (applied by another process
    meanwhile). A deadlock with a running older replica's writes is retried."""
    for attempt in range(DEADLOCK_RETRIES):
        try:
            with transaction() as tx:
                tx.execute(SCHEMA_MIGRATIONS_DDL)
                if migration.version in _applied(tx):
                    return False
                migration.apply(tx, settings)
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, datetime.now(UTC).isoformat()),
                )
            return True
        except psycopg.errors.DeadlockDetected:
            if attempt == DEADLOCK_RETRIES - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    return False


def require_current(db: Database) -> None:
    found = status(db)
    if found.pending:
        wanted = MIGRATIONS[-1].version
        raise SchemaBehind(
            f"the database schema is at version {found.current}, this code needs {wanted}: "
            "run `cardservice migrate` (or start with CARDSERVICE_AUTO_MIGRATE=1)"
        )


def prepare_schema(db: Database) -> None:
    """At start: apply pending migrations, or with auto-migration off refuse to start on a
    schema behind this code (a clear message now, not a missing table in a request)."""
    if db.settings.auto_migrate:
        migrate(db)
    else:
        require_current(db)


TxFactory = Callable[[], Any]
LOCK_KEY = "hashtext('cardservice.migrations.' || current_schema())"


@contextmanager
def _transactions(db: Database) -> Iterator[TxFactory]:
    """A factory of migration transactions: SQLite's `BEGIN IMMEDIATE`, or on PostgreSQL
    transactions on one connection that holds the advisory lock until the end."""
    if db.dialect != "postgres":
        yield lambda: db.transaction(write=True)
        return
    with db.connect() as conn:
        conn.execute(f"SELECT pg_advisory_lock({LOCK_KEY})")

        @contextmanager
        def transaction() -> Iterator[Tx]:
            with conn.transaction(), conn.cursor() as cur:
                yield Tx(cur, POSTGRES)

        try:
            yield transaction
        finally:
            if not conn.closed:
                conn.execute(f"SELECT pg_advisory_unlock({LOCK_KEY})")
