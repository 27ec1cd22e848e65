"""`GET /web/policy.json` over HTTP: the pages' copy of the contract's facts, from Python."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cardservice.web import install
from cardservice.web.policy import policy_document

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def pages(services: Any) -> Iterator[TestClient]:
    app = FastAPI()
    install(app, services)
    with TestClient(app) as client:
        yield client


def test_policy_json_is_the_deployments(pages: TestClient, services: Any) -> None:
    resp = pages.get("/web/policy.json")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.headers["cache-control"] == "no-cache"
    assert resp.json() == policy_document(services.settings)
    window = services.settings.presentation_window_seconds
    assert resp.json()["presentation_window_seconds"] == window


def test_the_service_worker_keeps_the_policy_for_offline_use(pages: TestClient) -> None:
    assert '"/web/policy.json"' in pages.get("/sw.js").text
