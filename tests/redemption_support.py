"""Helpers for redemption tests: a catalog with limited benefits, a merchant, a card and
fresh verifications (views lag writes, so helpers poll)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from tests.merchant_support import ADMIN, DEADLINE_SECONDS, MerchantEnv

NATIONAL = "000000"
CITY = "500000"


def benefit(id: str, **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": id,
        "title": f"优惠{id}",
        "partner": "合作方",
        "category": "dining",
        "discount": "半价",
        "holder_categories": ["veteran"],
    }
    data.update(over)
    return data


LIMITED = [
    benefit("daily", limit={"count": 2, "per": "day"}, companions=1),
    benefit("monthly", limit={"count": 1, "per": "month"}),
    benefit("yearly", limit={"count": 1, "per": "year"}),
    benefit("once", limit={"count": 1, "per": "ever"}),
    benefit("free"),
]


def publish(env: MerchantEnv, region: str, benefits: list[dict[str, Any]], day: str) -> None:
    resp = env.client.put(
        f"/v1/admin/regions/{region}/catalog",
        json={"effective_from": day, "benefits": benefits},
        headers=ADMIN,
    )
    assert resp.status_code == 201, resp.text


def valid_verdict(env: MerchantEnv, qr: str, headers: dict[str, str], want: str) -> dict[str, Any]:
    """Verify until the verdict is valid and offers benefit `want` (the views lag)."""
    end = time.monotonic() + DEADLINE_SECONDS
    while True:
        resp = env.verify(qr, headers)
        assert resp.status_code == 200, resp.text
        verdict: dict[str, Any] = resp.json()
        if verdict["status"] == "valid" and any(b["id"] == want for b in verdict["benefits"]):
            return verdict
        assert time.monotonic() < end, verdict
        time.sleep(0.02)


def redeem(
    env: MerchantEnv, headers: dict[str, str], verification_id: str, benefit_id: str, **kw: Any
) -> Any:
    extra = kw.pop("extra_headers", {})
    return env.client.post(
        "/v1/redemptions",
        json={"verification_id": verification_id, "benefit_id": benefit_id, **kw},
        headers={**headers, **extra},
    )


def remaining(verdict: dict[str, Any], benefit_id: str) -> Any:
    return next(b["remaining"] for b in verdict["benefits"] if b["id"] == benefit_id)


def wait_remaining(
    env: MerchantEnv, qr: str, headers: dict[str, str], benefit_id: str, want: int
) -> dict[str, Any]:
    end = time.monotonic() + DEADLINE_SECONDS
    while True:
        verdict = valid_verdict(env, qr, headers, benefit_id)
        if remaining(verdict, benefit_id) == want:
            return verdict
        assert time.monotonic() < end, verdict
        time.sleep(0.02)


def iso(moment: datetime) -> str:
    return moment.isoformat()
