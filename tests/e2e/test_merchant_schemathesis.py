"""schemathesis against the standalone merchant API's OpenAPI: no 5xx for any generated
request, and every response matches its documented schema. Bounded: a few dozen examples
per operation, with a real merchant key (and once without) so both paths are explored."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardservice.bootstrap.write import WriteSide
from cardservice.clock import FrozenClock
from tests.conftest import make_settings
from tests.integration.test_projections import NATIONAL

schemathesis = pytest.importorskip("schemathesis")

EXAMPLES_PER_OPERATION = 100
TIME_BUDGET_SECONDS = 240


def test_merchant_api_openapi(backend: str, tmp_path: Path, clock: FrozenClock) -> None:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
    )

    from cardservice.bundles import BundleSigner
    from merchant_api.app import create_app
    from projections.service import ProjectionService

    config, schema_name = make_settings(
        backend, tmp_path, merchant_rate=0, bundle_rate_per_minute=0
    )
    svc = WriteSide.build(config, clock)
    projections = ProjectionService(svc.sources())
    projections.start()
    try:
        merchant = svc.catalog.register_merchant(
            name="测试",
            region="500112",
            kind="merchant",
            categories=[],
            a_level=None,
            require_device_binding=False,
            actor=NATIONAL,
        )
        svc.ledger.keyring()  # the first issuer key (the admin app creates it on start)
        app = create_app(svc.read)
        api = app.state.merchant_api
        deadline = time.monotonic() + 10
        while api.authenticate(merchant.api_key) is None or not api.keys.refresh(0).rows:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        signer = BundleSigner(svc)  # the write side signs the region's bundle
        while not signer.run_once(force=True):  # once the views list the new bundle key
            assert time.monotonic() < deadline
            time.sleep(0.05)
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        checks: list[Any] = [
            not_a_server_error,
            response_schema_conformance,
            content_type_conformance,
        ]
        auth = {"Authorization": f"Bearer {merchant.api_key}"}
        started = time.monotonic()
        operations = [result.ok() for result in schema.get_all_operations()]
        assert {op.path for op in operations} >= {
            "/v1/verify",
            "/v1/verifications",
            "/v1/cards/{card_id}/verifications",
            "/v1/offline-bundle",
        }
        for operation in operations:

            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(), with_key=st.booleans())
            def run(case: Any, with_key: bool) -> None:
                headers = dict(auth) if with_key else {}
                case.call_and_validate(headers=headers, checks=checks)

            run()
            assert time.monotonic() - started < TIME_BUDGET_SECONDS
    finally:
        projections.stop()
        svc.close()
        if schema_name is not None:
            schema_name.drop()
