"""Every operation of both apps documents a request example (when it takes a body), a
response example, and (admin, holder and public JSON routes) a response model; the schema
states the constraints the server enforces. A route added without them fails here: add a
line to `cardservice/api/examples.py` (or `merchant_api/examples.py`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cardservice.api.app import create_app
from cardservice.bootstrap.write import WriteSide
from cardservice.clock import FrozenClock
from cardservice.domain import regions
from cardservice.domain.identity import id_number_problem
from cardservice.domain.policy import HOLDER_CATEGORIES
from cardservice.http.fields import FREE_PATTERN, PLAIN_PATTERN
from cardservice.http.openapi_docs import ID_NUMBER_FORMAT, operations, undocumented
from tests.conftest import make_settings

MODELLED = ("/v1/admin", "/v1/cards", "/v1/activate", "/v1/keys", "/v1/catalog")


def _schema(app: Any) -> dict[str, Any]:
    with TestClient(app) as client:
        answer = client.get("/openapi.json")
    assert answer.status_code == 200
    schema: dict[str, Any] = answer.json()
    return schema


@pytest.fixture()
def served(tmp_path: Path, clock: FrozenClock) -> Any:
    config, _ = make_settings("sqlite", tmp_path)
    svc = WriteSide.build(config, clock)
    try:
        yield svc
    finally:
        svc.close()


def test_every_operation_of_the_whole_service_is_documented(served: WriteSide) -> None:
    from cardservice.bootstrap.serve import served_app

    schema = _schema(served_app(served, run_projections=False))
    assert len(list(operations(schema))) >= 29
    assert undocumented(schema, MODELLED) == []


def test_every_operation_of_the_standalone_merchant_api_is_documented(served: WriteSide) -> None:
    from merchant_api.app import create_app as merchant_app

    served.ledger.keyring()
    schema = _schema(merchant_app(served.read))
    assert {path for path, _, _ in operations(schema)} >= {"/v1/verify", "/v1/offline-bundle"}
    assert undocumented(schema) == []


def test_a_route_without_examples_is_found(served: WriteSide) -> None:
    app = create_app(served)

    @app.post("/v1/admin/undocumented")
    def undocumented_route() -> dict[str, Any]:
        return {}

    missing = undocumented(_schema(app), MODELLED)
    assert "POST /v1/admin/undocumented: response example (application/json)" in missing
    assert "POST /v1/admin/undocumented: response model" in missing


def test_the_schema_states_the_constraints(served: WriteSide) -> None:
    schema = _schema(create_app(served))
    parts = schema["components"]["schemas"]
    region = parts["RegionCode"]
    assert set(region["enum"]) == set(regions.regions()) and "500112" in region["enum"]
    holder = parts["HolderIn"]["properties"]
    assert holder["category"]["enum"] == list(HOLDER_CATEGORIES)
    assert holder["id_number"]["format"] == ID_NUMBER_FORMAT
    assert holder["name"]["maxLength"] == 40
    region_ref = {"$ref": "#/components/schemas/RegionCode"}
    assert parts["IssueCardIn"]["properties"]["region"] == region_ref
    assert parts["CatalogIn"]["properties"]["effective_from"]["format"] == "date"
    assert parts["MerchantIn"]["properties"]["kind"]["enum"] == ["merchant", "scenic_site"]
    issue = schema["paths"]["/v1/admin/cards"]["post"]
    headers = {p["name"]: p for p in issue["parameters"]}
    assert headers["Idempotency-Key"]["schema"]["pattern"]
    catalog = schema["paths"]["/v1/catalog/{region}"]["get"]
    params = {p["name"]: p["schema"] for p in catalog["parameters"]}
    assert params["region"] == {"$ref": "#/components/schemas/RegionCode"}
    assert params["at"]["format"] == "date" and params["as_of"]["format"] == "date-time"


def test_every_example_is_a_request_the_server_takes(served: WriteSide) -> None:
    """The examples are valid: the ID number's check character, regions in the table,
    text without control characters (the schema's patterns match what the server does)."""
    schema = _schema(create_app(served))
    body = schema["paths"]["/v1/admin/cards"]["post"]["requestBody"]["content"]
    example = body["application/json"]["example"]
    assert id_number_problem(example["holder"]["id_number"]) is None
    assert regions.regions().exists(example["region"])
    assert re.fullmatch(PLAIN_PATTERN, "张晓明") and not re.fullmatch(PLAIN_PATTERN, "a\u200bb")
    assert re.fullmatch(FREE_PATTERN, "第一行\n第二行")
    assert not re.fullmatch(FREE_PATTERN, "a\u202eb") and not re.fullmatch(FREE_PATTERN, "\x00")
