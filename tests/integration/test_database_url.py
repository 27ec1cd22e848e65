"""DATABASE_URL is parsed by libpq's rules (psycopg's conninfo): every parameter survives."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from eventsourcing.utils import Environment
from psycopg.conninfo import conninfo_to_dict
from pydantic import ValidationError

from cardservice.pgfactory import CONNINFO_EXTRA, ConninfoPostgresFactory
from cardservice.settings import Settings
from cardservice.storage import Database
from tests.conftest import PG_URL, PgSchema, require_postgres

TLS_URL = (
    "postgresql://card%40svc:p%3Ass%2Fw0rd@db.example.org:6432/cards"
    "?sslmode=verify-full&sslrootcert=/etc/cardservice/root.crt"
    "&application_name=cardservice&target_session_attrs=read-write&connect_timeout=7"
)


def settings_for(url: str | None, tmp_path: Path, **kw: object) -> Settings:
    return Settings(database_url=url, data_dir=tmp_path, secret="s", **kw)  # type: ignore[arg-type]


def test_every_libpq_parameter_survives(tmp_path: Path) -> None:
    params = settings_for(TLS_URL, tmp_path).postgres_params()
    assert params == {
        "host": "db.example.org",
        "port": "6432",
        "user": "card@svc",
        "password": "p:ss/w0rd",
        "dbname": "cards",
        "sslmode": "verify-full",
        "sslrootcert": "/etc/cardservice/root.crt",
        "application_name": "cardservice",
        "target_session_attrs": "read-write",
        "connect_timeout": "7",
    }


def test_the_event_store_gets_the_parameters_it_has_no_variable_for(tmp_path: Path) -> None:
    env = settings_for(TLS_URL, tmp_path).eventsourcing_env()
    assert env["PERSISTENCE_MODULE"] == "cardservice.pgfactory:ConninfoPostgresFactory"
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_DBNAME"]) == (
        "db.example.org", "6432", "cards",
    )  # fmt: skip
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("card@svc", "p:ss/w0rd")
    assert conninfo_to_dict(env[CONNINFO_EXTRA]) == {
        "sslmode": "verify-full",
        "sslrootcert": "/etc/cardservice/root.crt",
        "application_name": "cardservice",
        "target_session_attrs": "read-write",
        "connect_timeout": "7",
    }


def test_defaults_fill_what_the_url_leaves_out(tmp_path: Path) -> None:
    assert settings_for("postgresql:///cards", tmp_path).postgres_params() == {
        "host": "127.0.0.1", "port": "5432", "user": "postgres", "password": "",
        "dbname": "cards",
    }  # fmt: skip
    params = settings_for("postgres://a,b:5433/x", tmp_path).postgres_params()
    assert (params["host"], params["port"], params["dbname"]) == ("a,b", ",5433", "x")


def test_database_url_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://h/db?sslmode=verify-full")
    assert Settings(data_dir=tmp_path).postgres_params()["sslmode"] == "verify-full"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:hunter2secret@h/db?no_such_parameter=1",
        "postgresql://u:hunter2secret@[::1/db",
        "postgresql://u:hunter2secret@h/%zz",
        "postgresql://u:hunter2secret@h/db?sslmode=verify-full&sslmode",
    ],
)
def test_an_unparsable_url_fails_at_start_without_echoing_it(url: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as failure:
        settings_for(url, tmp_path)
    message = str(failure.value)
    assert "DATABASE_URL is not a valid PostgreSQL URL" in message
    assert "hunter2secret" not in message


def test_sqlite_default_is_untouched(tmp_path: Path) -> None:
    settings = settings_for(None, tmp_path)
    assert not settings.is_postgres
    assert settings.eventsourcing_env()["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"


# --- against the real server ---------------------------------------------------------------


def _with_query(query: str) -> str:
    return PG_URL + ("&" if "?" in PG_URL else "?") + query


def test_parameters_reach_every_pool_on_a_real_server(tmp_path: Path) -> None:
    require_postgres()
    name = "cs_url_" + uuid.uuid4().hex[:8]
    schema = PgSchema()
    try:
        url = _with_query(f"application_name={name}&options=-c%20lock_timeout%3D4321")
        settings = settings_for(url, tmp_path, postgres_schema=schema.name)
        factory = ConninfoPostgresFactory(Environment(env=settings.eventsourcing_env()))
        try:
            with factory.datastore.get_connection() as conn:
                row = conn.execute("SELECT current_setting('application_name') AS a").fetchone()
                assert row is not None and row["a"] == name
                row = conn.execute("SELECT current_setting('lock_timeout') AS t").fetchone()
                assert row is not None and row["t"] == "4321ms"
        finally:
            factory.close()
        db = Database(settings)
        try:
            with db.transaction() as tx:
                found = tx.one("SELECT current_setting('application_name')")
            assert found is not None and found[0] == name
        finally:
            db.close()
    finally:
        schema.drop()


def test_sslmode_is_honoured_not_dropped(tmp_path: Path) -> None:
    """The local server has no TLS: `sslmode=require` must make connecting fail."""
    require_postgres()
    with psycopg.connect(PG_URL) as conn:
        row = conn.execute("SHOW ssl").fetchone()
    if row is not None and row[0] == "on":
        pytest.skip("the test server speaks TLS")
    settings = settings_for(_with_query("sslmode=require"), tmp_path)
    factory = ConninfoPostgresFactory(Environment(env=settings.eventsourcing_env()))
    try:
        with pytest.raises(psycopg.OperationalError, match="SSL"):
            psycopg.connect(**factory.datastore.pool.kwargs)  # type: ignore[arg-type]
    finally:
        factory.close()
    refused, plain = Database(settings), Database(settings_for(PG_URL, tmp_path))
    try:
        assert plain.ping() and not refused.ping()
    finally:
        refused.close()
        plain.close()
