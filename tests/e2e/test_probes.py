"""/livez, /readyz, /healthz and /metrics on both apps (the admin app and the standalone
merchant API), over real HTTP through the ASGI apps, on SQLite and PostgreSQL.

/livez asks nothing; /readyz is 503 only when the database does not answer (tested on a
PostgreSQL database of the test's own, dropped under the running app); projections that
lag over 5 s (the frozen clock moves), an event set aside, or a registered check (the hook
the shared rate limit uses for "redis") make it 200 and degraded.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cardservice.application import IssueCardRequest
from cardservice.bootstrap.write import WriteSide
from cardservice.clock import FrozenClock
from cardservice.domain.actors import Actor
from cardservice.settings import Settings
from projections.health import LAG_LIMIT_SECONDS, Check
from projections.service import runners_for
from tests.conftest import ADMIN_TOKEN, PG_URL, make_settings, require_postgres
from tests.factories import id_number

NATIONAL = Actor(kind="admin", id="test", role="admin", region="000000")
METRICS_TOKEN = "mtr_test_scrape_token_0123456789"


def admin_app(svc: WriteSide) -> FastAPI:
    from cardservice.bootstrap.serve import served_app

    return served_app(svc, run_projections=False, own=False)


def merchant_app(svc: WriteSide) -> FastAPI:
    from merchant_api.app import create_app

    return create_app(svc.read)


APPS = {"admin": admin_app, "merchant": merchant_app}


@pytest.fixture(params=sorted(APPS))
def which(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def probe(services: WriteSide, which: str) -> Iterator[TestClient]:
    with TestClient(APPS[which](services), raise_server_exceptions=False) as client:
        yield client


def issue(svc: WriteSide, seq: int) -> None:
    request = IssueCardRequest(
        name="王五六", id_number=id_number(seq), category="veteran", region="500112"
    )
    svc.ledger.issue_cards_bulk([request], NATIONAL, source=f"probe{seq}")


def catch_up(svc: WriteSide) -> None:
    for runner in runners_for(svc.sources()):
        runner.setup()
        runner.catch_up()


def test_ok_when_everything_is(probe: TestClient, services: WriteSide) -> None:
    catch_up(services)
    assert probe.get("/livez").json() == {"status": "ok"}
    ready = probe.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "degraded": []}
    health = probe.get("/healthz").json()
    assert health["status"] == "ok" and health["degraded"] == []
    checks = health["checks"]
    assert checks["database"] == "ok"
    assert checks["projection_lag"]["cards"] == {"events": 0, "seconds": 0.0}
    assert checks["projection_set_aside"]["cards"] == 0


def test_lag_over_five_seconds_is_degraded_not_down(
    probe: TestClient, services: WriteSide, clock: FrozenClock
) -> None:
    catch_up(services)
    issue(services, 1)  # no runner: the views now lag
    first = probe.get("/readyz")
    assert first.status_code == 200 and first.json()["degraded"] == []  # first sighting
    clock.advance(timedelta(seconds=LAG_LIMIT_SECONDS - 1))
    assert probe.get("/readyz").json()["degraded"] == []
    clock.advance(timedelta(seconds=2))
    late = probe.get("/readyz")
    assert late.status_code == 200
    assert late.json() == {"status": "degraded", "degraded": ["projection_lag"]}
    lag = probe.get("/healthz").json()["checks"]["projection_lag"]["cards"]
    assert lag["events"] >= 1 and lag["seconds"] == pytest.approx(LAG_LIMIT_SECONDS + 1)
    catch_up(services)
    assert probe.get("/readyz").json() == {"status": "ok", "degraded": []}


def test_registered_checks_degrade_and_a_failing_check_never_answers_5xx(
    probe: TestClient, services: WriteSide
) -> None:
    catch_up(services)
    services.lifecycle.checks["redis"] = lambda: Check(False, "unreachable: limits per process")
    body = probe.get("/readyz").json()
    assert body == {"status": "degraded", "degraded": ["redis"]}
    assert probe.get("/healthz").json()["checks"]["redis"] == "unreachable: limits per process"

    def broken() -> Check:
        raise RuntimeError("boom")

    services.lifecycle.checks["redis"] = broken
    resp = probe.get("/healthz")
    assert resp.status_code == 200
    assert resp.json()["checks"]["redis"] == "error: RuntimeError"
    services.lifecycle.checks["redis"] = lambda: Check(True, "ok")
    assert probe.get("/readyz").json()["degraded"] == []


def test_the_probes_are_documented(probe: TestClient) -> None:
    paths = probe.get("/openapi.json").json()["paths"]
    for path in ("/livez", "/readyz", "/healthz", "/metrics"):
        assert "get" in paths[path], path
    assert "503" in paths["/readyz"]["get"]["responses"]


@pytest.fixture
def own_database(tmp_path: Path, clock: FrozenClock) -> Iterator[tuple[WriteSide, str]]:
    """A PostgreSQL database of this test's own, so it can vanish under the app."""
    require_postgres()
    name = "probe_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    settings = Settings(
        database_url=url,
        data_dir=tmp_path / "var",
        admin_token=ADMIN_TOKEN,
        secret="test-master-secret",
        pool_size=2,
    )
    svc = WriteSide.build(settings, clock)
    try:
        yield svc, name
    finally:
        svc.close()
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("app_name", sorted(APPS))
def test_database_gone_is_503_and_livez_still_answers(
    own_database: tuple[WriteSide, str], app_name: str
) -> None:
    svc, name = own_database
    with TestClient(APPS[app_name](svc), raise_server_exceptions=False) as client:
        catch_up(svc)
        assert client.get("/readyz").status_code == 200
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json() == {"status": "down", "degraded": ["database"]}
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["checks"] == {"database": "down"}
        assert client.get("/livez").status_code == 200


@pytest.fixture
def guarded(backend: str, tmp_path: Path, clock: FrozenClock, which: str) -> Iterator[TestClient]:
    settings, schema = make_settings(backend, tmp_path, metrics_token=METRICS_TOKEN)
    svc = WriteSide.build(settings, clock)
    try:
        with TestClient(APPS[which](svc), raise_server_exceptions=False) as client:
            yield client
    finally:
        svc.close()
        if schema is not None:
            schema.drop()


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic " + METRICS_TOKEN,
        "Bearer " + METRICS_TOKEN[:-1],
        "Bearer " + METRICS_TOKEN + "x",
        "Bearer " + METRICS_TOKEN.upper(),
        "Bearer " + "é" * 40,
        "Bearer " + "a" * 20_000,
    ],
)
def test_metrics_token_refuses_every_other_credential(
    guarded: TestClient, authorization: str | None
) -> None:
    headers: dict[str, Any] = {}
    if authorization is not None:
        headers["Authorization"] = authorization.encode("latin-1")
    resp = guarded.get("/metrics", headers=headers)
    assert resp.status_code == 401, resp.text
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    assert "cardservice_" not in resp.text


def test_metrics_token_admits_its_bearer(guarded: TestClient) -> None:
    resp = guarded.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert resp.status_code == 200
    assert "cardservice_verifications_total" in resp.text and "process_" in resp.text
    # The probes stay open: an orchestrator has no token.
    assert guarded.get("/livez").status_code == 200
    assert guarded.get("/readyz").status_code == 200


def test_metrics_are_open_without_a_token(probe: TestClient) -> None:
    resp = probe.get("/metrics")
    assert resp.status_code == 200 and "cardservice_projection_set_aside_total" in resp.text
