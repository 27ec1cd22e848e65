"""The merchant API's least-privilege role (PostgreSQL): connected as it, the views it
serves read and its own tables write; key material, search hashes, the write side's
event stores and the card status views' rows stay out of its reach."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from cardservice import migrations
from cardservice.reader_role import grant_reader_role
from cardservice.settings import Settings
from cardservice.storage import Database
from tests.conftest import PG_URL, make_settings


@pytest.fixture
def granted(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(schema, role): a migrated schema and a password-less login role (trust auth)
    granted as the merchant API's; both dropped afterwards."""
    settings, schema = make_settings("postgres", tmp_path)
    role = "reader_" + uuid.uuid4().hex[:12]
    db = Database(settings)
    try:
        migrations.migrate(db)
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        grant_reader_role(db, role)
        grant_reader_role(db, role)  # re-running is harmless
        yield schema.name, role
    finally:
        db.close()
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            schema.drop()
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def connect_as(role: str, schema: str) -> psycopg.Connection[Any]:
    return psycopg.connect(PG_URL, user=role, autocommit=True, options=f"-c search_path={schema}")


def refused(conn: psycopg.Connection[Any], statement: str) -> bool:
    try:
        conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


def test_the_reader_role_reads_views_and_writes_only_its_own(granted: tuple[str, str]) -> None:
    schema, role = granted
    with connect_as(role, schema) as conn:
        for view in (
            "view_cards",
            "view_card_history",
            "view_merchants",
            "view_status_list",
            "view_issuer_keys",
        ):
            assert conn.execute(f"SELECT COUNT(*) FROM {view}").fetchone() == (0,)
        conn.execute(
            "INSERT INTO verification_log (verification_id, merchant_id, merchant_name, "
            "merchant_kind, merchant_region, status, checked_at) VALUES "
            "('v1', 'm1', 'Gate', 'scenic', '500112', 'valid', '2026-06-01T10:00:00+08:00')"
        )
        assert conn.execute("SELECT status FROM verification_log").fetchone() == ("valid",)
        for secret in ("holder_keys", "holder_search", "cardledger_events", "notice_outbox"):
            assert refused(conn, f"SELECT * FROM {secret}"), secret
        assert refused(conn, "SELECT * FROM catalogadmin_events")
        for store in ("cardledger_events", "catalogadmin_events"):  # the lag probe's id only
            assert refused(conn, f"SELECT state FROM {store}"), store
            conn.execute(f"SELECT MAX(notification_id) FROM {store}")
        assert refused(conn, "UPDATE view_cards SET status = 'valid'")
        assert refused(conn, "DELETE FROM view_status_list")
        assert refused(conn, "DELETE FROM view_card_history")
        assert refused(conn, "INSERT INTO sequences (name, last_value) VALUES ('x', 1)")
        # Positions: all readable (lag probes), written only for its own application.
        assert conn.execute("SELECT COUNT(*) FROM projection_positions").fetchone() != (0,)
        moved = conn.execute(
            "UPDATE projection_positions SET position = position WHERE source = 'CardLedger'"
        )
        assert moved.rowcount == 0
        own = conn.execute(
            "UPDATE projection_positions SET position = position WHERE source = 'Redemptions'"
        )
        assert own.rowcount > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO projection_positions (view, source, position) "
                "VALUES ('x', 'CardLedger', 0)"
            )


def test_the_merchant_api_runs_as_the_reader_role(tmp_path: Path) -> None:
    """The write side (owner) issues a card and a merchant key; a standalone merchant API
    connected as the role verifies the card and records the verification."""
    from fastapi.testclient import TestClient

    from cardservice.bootstrap.read import ReadSide
    from cardservice.clock import FrozenClock
    from merchant_api.app import create_app
    from tests.conftest import START
    from tests.merchant_support import build_env

    clock = FrozenClock(START)
    role = "reader_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    envs = build_env("postgres", tmp_path, clock)
    env = next(envs)
    try:
        grant_reader_role(env.svc.db, role)
        card = env.issue()
        key = env.merchant()
        assert env.wait_status(card["qr"], key, "valid")["status"] == "valid"
        url = PG_URL.replace("postgres@", f"{role}@", 1)
        # No secret: the read side needs none, and its role could use none.
        settings = env.svc.settings.model_copy(update={"database_url": url, "secret": None})
        reader = ReadSide.build(settings, clock)  # nothing pending: no DDL, no lock
        try:
            with TestClient(create_app(reader), raise_server_exceptions=False) as client:
                resp = client.post("/v1/verify", json={"qr": card["qr"]}, headers=key)
                assert resp.status_code == 200, resp.text
                assert resp.json()["status"] == "valid"
                listed = client.get("/v1/verifications", headers=key)
                assert listed.status_code == 200, listed.text
                health = client.get("/healthz").json()["checks"]
                assert isinstance(health["projection_lag"], dict), health  # heads readable
        finally:
            reader.close()
        with env.svc.db.read() as tx:  # the role's write reached the log
            rows = tx.all("SELECT status FROM verification_log ORDER BY seq")
        assert ("valid",) in rows
    finally:
        envs.close()
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_the_reader_role_cannot_migrate_and_says_so(
    granted: tuple[str, str], tmp_path: Path
) -> None:
    """A schema behind the code, started as the role with auto-migrate on: one clear refusal."""
    schema, role = granted
    url = PG_URL.replace("postgres@", f"{role}@", 1)
    settings = Settings(database_url=url, postgres_schema=schema, data_dir=tmp_path, secret="s")
    with psycopg.connect(PG_URL, autocommit=True) as conn:  # as if a version were pending
        conn.execute(sql.SQL("DELETE FROM {}.schema_migrations").format(sql.Identifier(schema)))
    db = Database(settings)
    try:
        with pytest.raises(migrations.SchemaBehind, match="as the schema's owner"):
            migrations.prepare_schema(db)
    finally:
        db.close()
