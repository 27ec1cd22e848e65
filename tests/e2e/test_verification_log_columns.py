"""The verification log keeps what each verdict applied: the benefits with their limits,
the refusal reasons of the others, and the card's region (read back from the table the
statistics fold, on both engines)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cardservice.clock import FrozenClock
from tests.merchant_support import DEADLINE_SECONDS, MerchantEnv, build_env
from tests.redemption_support import NATIONAL, benefit, publish, valid_verdict


@pytest.fixture
def env(backend: str, tmp_path: Path, clock: FrozenClock) -> Iterator[MerchantEnv]:
    yield from build_env(backend, tmp_path, clock)


def log_row(env: MerchantEnv, verification_id: str) -> tuple[Any, ...]:
    end = time.monotonic() + DEADLINE_SECONDS
    while True:
        with env.svc.db.read() as tx:
            row = tx.one(
                "SELECT status, benefits, refusals, card_region FROM verification_log "
                "WHERE verification_id = ?",
                (verification_id,),
            )
        if row is not None:
            return row
        assert time.monotonic() < end, "the verification never reached the log"
        time.sleep(0.02)


def test_the_log_keeps_applied_benefits_refusals_and_the_card_region(env: MerchantEnv) -> None:
    publish(
        env,
        NATIONAL,
        [
            benefit("meal", limit={"count": 2, "per": "day"}, companions=1),
            benefit("free"),
            benefit("for-others", holder_categories=["martyr_family"]),
        ],
        "2026-01-01",
    )
    merchant = env.merchant()
    card = env.issue()
    verdict = valid_verdict(env, card["qr"], merchant, "meal")
    assert [n["id"] for n in verdict["not_applicable"]] == ["for-others"]
    status, benefits, refusals, card_region = log_row(env, verdict["verification_id"])
    assert status == "valid" and card_region == "500112"
    assert json.loads(benefits) == [
        {"id": "meal", "region": NATIONAL, "limit": {"count": 2, "per": "day"}, "companions": 1},
        {"id": "free", "region": NATIONAL, "limit": None, "companions": 0},
    ]
    reason = verdict["not_applicable"][0]["reason"]
    assert reason == "holder_category"
    assert json.loads(refusals) == {"for-others": reason}

    # A refused verdict applied nothing and refused no benefit: both NULL; the card's
    # region is still known (its issuer signature verified).
    env.action(card, "revoke")
    revoked = env.wait_status(card["qr"], merchant, "revoked")
    assert log_row(env, revoked["verification_id"]) == ("revoked", None, None, "500112")
