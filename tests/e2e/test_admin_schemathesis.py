"""schemathesis against the whole service's OpenAPI with the national admin token: no 5xx,
every answer matches its documented schema and media type, and a schema-valid request is
refused (422) only where the rule cannot be put in a JSON Schema: an `Idempotency-Key`
reused with another body, a cursor (audit, card search) this API did not hand out, two
query parameters that exclude each other (`id_number` and `name`) or bound each other
(a statistics range `from` after `to`, or over 366 days), a benefit id twice in
one catalog version (or both published and withdrawn), or an integer written as a float
(`12.0` is an integer to JSON Schema; the server takes only `12`). Bounded in count and
time."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from cardservice.bootstrap.write import WriteSide
from cardservice.clock import FrozenClock
from projections.service import runners_for
from tests.conftest import ADMIN_TOKEN, make_settings

schemathesis = pytest.importorskip("schemathesis")

EXAMPLES_PER_OPERATION = 50
TIME_BUDGET_SECONDS = 240
SCHEMA_BOUND_REFUSALS = ("idempotency_mismatch",)
WORDS_ONLY = (
    "not a cursor",
    "not one this server gave",
    "not both",
    "from is after to",
    "at most 366 days",
    "Input should be a valid integer",
    "appears twice",
    "is also among this version's benefits",
)


def schema_valid_is_accepted(ctx: Any, response: Any, case: Any) -> bool | None:
    """ST202 (schema-valid request refused), but for the rules the schema states in words."""
    if response.status_code != 422:
        return None
    problem = response.json()
    detail = str(problem.get("detail"))
    if problem.get("error") in SCHEMA_BOUND_REFUSALS or any(w in detail for w in WORDS_ONLY):
        return None
    raise AssertionError(f"schema-valid request refused: {problem}")


def _first(exc: BaseException) -> str:
    return " / ".join(str(exc).strip().splitlines()[:12])


def test_admin_app_openapi(backend: str, tmp_path: Path, clock: FrozenClock) -> None:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
    )

    import tests.e2e.openapi_formats  # noqa: F401  (registers the ID number format)
    from cardservice.api.app import create_app

    config, schema_name = make_settings(
        backend, tmp_path, activation_rate=1000.0, activation_burst=100000
    )
    svc = WriteSide.build(config, clock)
    try:
        for runner in runners_for(svc.sources()):  # the views exist before the first request,
            runner.setup()  # as `serve` and `migrate` make them
        app = create_app(svc)
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        checks: list[Any] = [
            not_a_server_error,
            response_schema_conformance,
            content_type_conformance,
            schema_valid_is_accepted,
        ]
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        started = time.monotonic()
        failures: list[str] = []
        operations = [result.ok() for result in schema.get_all_operations()]
        assert {op.path for op in operations} >= {"/v1/admin/cards", "/v1/admin/audit"}
        for operation in operations:

            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy())
            def run(case: Any) -> None:
                case.call_and_validate(headers=auth, checks=checks)

            try:
                run()
            except Exception as exc:  # every operation runs; all failures are reported
                failures.append(f"{operation.method.upper()} {operation.path}: {_first(exc)}")
            assert time.monotonic() - started < TIME_BUDGET_SECONDS
        assert failures == []
    finally:
        svc.close()
        if schema_name is not None:
            schema_name.drop()
