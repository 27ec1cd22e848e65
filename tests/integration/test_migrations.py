"""Versioned migrations on real engines: from empty, again (a no-op), over a database the
lazy code of before made, two processes at once, and a start refused when the schema is
behind and auto-migration is off."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from cardservice import migrations
from cardservice.bootstrap.write import WriteSide
from cardservice.settings import Settings
from cardservice.storage import SIDE_SCHEMA, Database
from projections.runner import create_tables
from tests.conftest import PG_URL, make_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings)
    yield database
    database.close()


EVERY = [(m.version, m.name) for m in migrations.MIGRATIONS]
LATEST = EVERY[-1][0]
APPLIED = "\n".join(f"applied {v} {name}" for v, name in EVERY)
"""What `cardservice migrate` prints on an empty database."""


def tables(db: Database) -> set[str]:
    with db.read() as tx:
        if db.dialect == "postgres":
            rows = tx.all(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            )
        else:
            rows = tx.all("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {str(r[0]) for r in rows}


def columns(db: Database, table: str) -> set[str]:
    with db.read() as tx:
        if db.dialect == "postgres":
            rows = tx.all(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = ?",
                (table,),
            )
            return {str(r[0]) for r in rows}
        return {str(r[1]) for r in tx.all(f"PRAGMA table_info({table})")}


def event_tables_exist(settings: Settings) -> bool:
    """Each application's event table answers a SELECT (on SQLite in its own file)."""
    for name, env in migrations.event_store_envs(settings):
        factory = InfrastructureFactory.construct(Environment(name, env))
        try:
            factory.application_recorder().max_notification_id()
        finally:
            factory.close()
    return True


def test_migrations_apply_from_empty_and_again_do_nothing(db: Database) -> None:
    assert migrations.status(db).current == 0
    applied = migrations.migrate(db)
    assert [m.version for m in applied] == [m.version for m in migrations.MIGRATIONS]
    found = migrations.status(db)
    assert found.pending == [] and found.current == migrations.MIGRATIONS[-1].version
    expected = {"schema_migrations", "holder_keys", "holder_search", "verification_log"}
    assert expected <= tables(db)
    assert {"view_cards", "view_redemptions", "notice_outbox", "photo_view"} <= tables(db)
    assert event_tables_exist(db.settings)
    before = tables(db)
    assert migrations.migrate(db) == []  # a re-run is a no-op
    assert tables(db) == before
    with db.read() as tx:
        assert tx.all("SELECT version, name FROM schema_migrations ORDER BY version") == EVERY


def test_services_start_on_a_fresh_database(settings: Settings) -> None:
    svc = WriteSide.build(settings)
    try:
        assert migrations.status(svc.db).pending == []
        with svc.db.read() as tx:  # the readers no longer make their tables on first use
            assert tx.one("SELECT COUNT(*) FROM view_catalog_effective") == (0,)
    finally:
        svc.close()


def make_lazy_database(settings: Settings) -> None:
    """What the code before migrations left: its `create_tables` calls, the event stores
    made by eventsourcing as an application opened (CREATE_TABLE=y), and a verification
    log from before its later columns, with a row in it."""
    db = Database(settings)
    try:
        db.create_tables(SIDE_SCHEMA)
        db.create_tables(
            [
                """CREATE TABLE IF NOT EXISTS verification_log (
                    seq INTEGER PRIMARY KEY,
                    verification_id TEXT NOT NULL UNIQUE,
                    merchant_id TEXT NOT NULL,
                    merchant_name TEXT NOT NULL,
                    merchant_kind TEXT NOT NULL,
                    merchant_region TEXT NOT NULL,
                    card_id TEXT,
                    card_number TEXT,
                    status TEXT NOT NULL,
                    presentation TEXT,
                    checked_at TEXT NOT NULL
                )"""
            ]
        )
        create_tables(db, migrations.every_view())
        with db.transaction() as tx:
            tx.execute("INSERT INTO sequences (name, last_value) VALUES ('card:500112', 41)")
            tx.execute(
                "INSERT INTO verification_log (seq, verification_id, merchant_id, merchant_name,"
                " merchant_kind, merchant_region, status, checked_at) VALUES "
                "(1, 'v1', 'm1', 'Gate', 'scenic', '500112', 'valid', '2026-06-01T10:00:00+08:00')"
            )
    finally:
        db.close()
    for name, env in migrations.event_store_envs(settings):
        factory = InfrastructureFactory.construct(Environment(name, {**env, "CREATE_TABLE": "y"}))
        factory.application_recorder()
        factory.close()


def test_a_database_made_by_the_lazy_code_upgrades(settings: Settings, db: Database) -> None:
    make_lazy_database(settings)
    assert "card_region" not in columns(db, "verification_log")
    assert [m.version for m in migrations.migrate(db)] == [v for v, _ in EVERY]
    assert {"card_region", "benefits", "refusals"} <= columns(db, "verification_log")
    with db.read() as tx:
        assert tx.one("SELECT last_value FROM sequences WHERE name = 'card:500112'") == (41,)
        assert tx.one("SELECT status FROM verification_log WHERE verification_id = 'v1'") == (
            "valid",
        )
    svc = WriteSide.build(settings)  # and the service starts on it
    try:
        assert svc.db.allocate("card:500112") == 42
    finally:
        svc.close()


def test_auto_migrate_off_refuses_a_schema_behind(backend: str, tmp_path: Path) -> None:
    settings, schema = make_settings(backend, tmp_path, auto_migrate=False)
    try:
        with pytest.raises(migrations.SchemaBehind, match="cardservice migrate"):
            WriteSide.build(settings)
        db = Database(settings)
        migrations.migrate(db)
        db.close()
        WriteSide.build(settings).close()  # once migrated, it starts
    finally:
        if schema is not None:
            schema.drop()


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDSERVICE_")}
    env.pop("DATABASE_URL", None)
    env.update(
        {
            "CARDSERVICE_DATA_DIR": str(settings.data_dir),
            "CARDSERVICE_SECRET": "test-master-secret",
            "PYTHONPATH": str(ROOT),
            **extra,
        }
    )
    if settings.is_postgres:
        env["DATABASE_URL"] = PG_URL
        env["CARDSERVICE_POSTGRES_SCHEMA"] = settings.postgres_schema
    return env


def run_cli(settings: Settings, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cardservice", *args],
        env=cli_env(settings, **extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_two_processes_migrating_at_once_both_succeed(settings: Settings, db: Database) -> None:
    """The start-up race of two replicas: both `cardservice migrate` at the same instant on
    a fresh schema; one applies, the other waits for the lock and finds it done."""
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]

    def run(i: int) -> None:
        barrier.wait()
        results[i] = run_cli(settings, "migrate")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        assert result.returncode == 0, result.stderr
    lines = [line for r in results for line in r.stdout.strip().splitlines()]
    applied = sorted(line for line in lines if line.startswith("applied "))
    assert applied == sorted(APPLIED.splitlines()), lines  # each version once, by one of them
    assert all(line.startswith(("applied ", "up to date")) for line in lines), lines
    assert migrations.status(db).pending == []
    assert event_tables_exist(settings)


def test_cli_status_and_a_worker_refused_when_behind(settings: Settings) -> None:
    shown = run_cli(settings, "migrate", "--status")
    assert shown.returncode == 0, shown.stderr
    assert "1  baseline" in shown.stdout and "pending" in shown.stdout
    refused = run_cli(settings, "worker", CARDSERVICE_AUTO_MIGRATE="0")
    assert refused.returncode == 1
    assert "run `cardservice migrate`" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert run_cli(settings, "migrate").stdout.strip() == APPLIED
    shown = run_cli(settings, "migrate", "--status")
    assert "applied" in shown.stdout and "pending" not in shown.stdout
