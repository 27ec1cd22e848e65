"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL (a fresh schema).

Only the clock is faked. Under CI (CI=true) an unreachable PostgreSQL fails the run instead
of skipping its half of the tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from cardservice.clock import FrozenClock
from cardservice.settings import Settings

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
ADMIN_TOKEN = "adm_test_bootstrap_token_0123456789abcdef"
START = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


def _pg_available() -> str | None:
    try:
        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as exc:
        return str(exc)


_PG_PROBLEM: str | bool | None = False


def require_postgres() -> None:
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        _PG_PROBLEM = _pg_available()
    if _PG_PROBLEM:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL unreachable under CI: {_PG_PROBLEM}")
        pytest.skip(f"PostgreSQL unreachable: {_PG_PROBLEM}")


class PgSchema:
    """A throwaway schema in the test database, dropped after the test."""

    def __init__(self) -> None:
        self.name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{self.name}"')

    def drop(self) -> None:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')


def make_settings(backend: str, tmp_path: Path, **overrides: Any) -> tuple[Settings, Any]:
    base: dict[str, Any] = {
        "data_dir": tmp_path / "var",
        "admin_token": ADMIN_TOKEN,
        "secret": "test-master-secret",
        "projection_poll_seconds": 0.01,
    }
    base.update(overrides)
    if backend == "postgres":
        require_postgres()
        schema = PgSchema()
        settings = Settings(database_url=PG_URL, postgres_schema=schema.name, pool_size=2, **base)
        return settings, schema
    settings = Settings(database_url=None, **base)
    return settings, None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--long",
        action="store_true",
        default=os.environ.get("CARDSERVICE_LONG_TESTS", "") == "1",
        help="reliability suite at full counts (CI runs bounded sizes)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `last` (they disturb shared servers) run after everything else."""
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)


@pytest.fixture
def long_mode(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--long"))


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def settings(backend: str, tmp_path: Path) -> Iterator[Settings]:
    settings, schema = make_settings(backend, tmp_path)
    yield settings
    if schema is not None:
        schema.drop()


@pytest.fixture
def services(settings: Settings, clock: FrozenClock) -> Iterator[Any]:
    from cardservice.bootstrap.write import WriteSide

    svc = WriteSide.build(settings, clock)
    yield svc
    svc.close()


@pytest.fixture
def client(services: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from cardservice.api.app import create_app

    app = create_app(services, own_services=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
