"""A merchant edit in the console reaches the verification path (the read side's view of
merchants folds `Merchant.Updated`), on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cardservice.clock import FrozenClock
from tests.merchant_support import ADMIN, MerchantEnv, build_env


@pytest.fixture
def env(backend: str, tmp_path: Path, clock: FrozenClock) -> Iterator[MerchantEnv]:
    yield from build_env(backend, tmp_path, clock)


def test_requiring_device_binding_takes_effect_at_the_gate(env: MerchantEnv) -> None:
    card = env.issue()
    shop = env.merchant(name="渝北饭店")
    assert env.wait_status(card["qr"], shop, "valid")["valid"]
    merchant_id = env.merchants[-1]["merchant_id"]
    resp = env.client.patch(
        f"/v1/admin/merchants/{merchant_id}", json={"require_device_binding": True}, headers=ADMIN
    )
    assert resp.status_code == 200, resp.text
    verdict = env.wait_status(card["qr"], shop, "static_not_allowed")
    assert verdict["valid"] is False
    back = env.client.patch(
        f"/v1/admin/merchants/{merchant_id}", json={"require_device_binding": False}, headers=ADMIN
    )
    assert back.status_code == 200
    env.wait_status(card["qr"], shop, "valid")
