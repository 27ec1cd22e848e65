"""How the merchant API serves the stored offline bundles: per-merchant rate limit, and no
master secret needed on the read side (the write side signed them)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cardservice import credentials
from cardservice.bootstrap.read import ReadSide
from cardservice.clock import FrozenClock
from merchant_api.app import create_app
from merchant_api.bundle import bundle_etag, open_bundle, pinned_keys
from projections.offline_bundles import stored_etag
from tests.e2e.test_offline_bundle import fetch, first_bundle
from tests.merchant_support import MerchantEnv, build_env


def stored(env: MerchantEnv) -> str | None:
    with env.svc.db.read() as tx:
        return stored_etag(tx, "500112")


@pytest.fixture
def limited(backend: str, tmp_path: Path, clock: FrozenClock) -> Iterator[MerchantEnv]:
    clock.set(datetime.now(UTC))
    yield from build_env(backend, tmp_path, clock, bundle_rate_per_minute=6.0, bundle_burst=3)


def test_bundle_downloads_are_rate_limited_per_merchant(limited: MerchantEnv) -> None:
    env = limited
    key, other = env.merchant(), env.merchant()
    deadline = time.monotonic() + 20
    while (etag := stored(env)) is None:  # polled in the table: polls would spend tokens
        assert time.monotonic() < deadline, "no bundle was ever signed"
        time.sleep(0.1)
    assert fetch(env, key)[0] == 200
    assert fetch(env, key, etag)[0] == 304  # a 304 counts too
    assert fetch(env, key)[0] == 200
    resp = env.client.get("/v1/offline-bundle", headers=key)
    assert resp.status_code == 429
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["error"] == "rate_limited"
    assert int(resp.headers["retry-after"]) == 10  # 6 per minute: one every 10 s
    # Another merchant has its own bucket; the first gets a download back after 10 s.
    assert fetch(env, other)[0] in (200, 503)
    env.clock.advance(timedelta(seconds=10))
    assert fetch(env, key)[0] == 200


def test_the_merchant_api_serves_bundles_without_the_master_secret(
    backend: str, tmp_path: Path, clock: FrozenClock
) -> None:
    """A standalone merchant API (its own read side) whose settings have no
    CARDSERVICE_SECRET serves the write side's bundle, and never derives a secret: on
    SQLite it would otherwise write one of its own into the data folder."""
    clock.set(datetime.now(UTC))
    for env in build_env(backend, tmp_path, clock):
        key = env.merchant()
        signed, _ = first_bundle(env, key)
        folder = tmp_path / "replica"
        folder.mkdir()
        settings = env.svc.settings.model_copy(update={"secret": None})
        if backend == "sqlite":  # the same database file, another data folder's secret
            (folder / settings.sqlite_path.name).symlink_to(settings.sqlite_path)
            settings = settings.model_copy(update={"data_dir": folder})
        alone = ReadSide.build(settings, clock)
        try:
            with TestClient(create_app(alone)) as client:
                resp = client.get("/v1/offline-bundle", headers=key)
                assert resp.status_code == 200, resp.text
                assert resp.content == signed  # the stored bytes, as the write side signed them
                assert resp.headers["etag"] == bundle_etag(resp.content)
                assert resp.headers["merchant-policy"]
                trusted = pinned_keys(client.get("/v1/keys").json())
                opened = open_bundle(resp.content, trusted, int(clock.now().timestamp()))
                assert trusted[opened.signer].use == "bundle"
                assert credentials.parse_sign1(resp.content).payload
                assert (
                    client.post("/v1/verify", json={"qr": "PTC1:x"}, headers=key).json()["status"]
                    == "malformed"
                )
        finally:
            alone.close()
        assert not (folder / "secret.key").exists()
