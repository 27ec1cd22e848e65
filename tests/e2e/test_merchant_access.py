"""Merchant API access rules: refusal order, rate limit, key life cycle, BOLA, logs, metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from cardservice.clock import FrozenClock
from tests.merchant_support import ADMIN, MerchantEnv, build_env, holder, resigned


@pytest.fixture
def env(backend: str, tmp_path: Path, clock: FrozenClock) -> Iterator[MerchantEnv]:
    yield from build_env(backend, tmp_path, clock)


def test_refusals_in_contract_order(env: MerchantEnv) -> None:
    key = env.merchant()
    big = {"qr": "PTC1:" + "A" * 20_000}
    for headers in [{}, {"Authorization": "Bearer mk_nope"}, {"Authorization": "Basic x"}, ADMIN]:
        assert env.client.post("/v1/verify", json=big, headers=headers).status_code == 401
        assert env.client.post("/v1/verify", content=b"{nope", headers=headers).status_code == 401
        resp = env.client.post("/v1/verify", json={"qr": "x"}, headers=headers)
        assert resp.status_code == 401 and resp.json()["error"] == "unauthorized"
        assert resp.headers["www-authenticate"] == "Bearer"
    resp = env.client.post("/v1/verify", json=big, headers=key)
    assert resp.status_code == 413 and resp.json()["error"] == "payload_too_large"
    for body in [b"{nope", b"[]", b'"PTC1:"', b"{}", b""]:
        resp = env.client.post(
            "/v1/verify", content=body, headers={**key, "Content-Type": "application/json"}
        )
        assert resp.status_code == 422, body
        assert set(resp.json()) == {"type", "title", "status", "detail", "error"}
    # The qr field is never 422: whatever it holds that is no card is the verdict malformed.
    for body in [b'{"qr": 5}', b'{"qr": null}', b'{"qr": "PTC1:\\u0000\\u202e"}']:
        resp = env.client.post(
            "/v1/verify", content=body, headers={**key, "Content-Type": "application/json"}
        )
        assert resp.status_code == 200 and resp.json()["status"] == "malformed", body
    # Unknown extra fields are ignored; the QR text is what counts.
    assert env.client.post("/v1/verify", json={"qr": "x", "v": 1}, headers=key).status_code == 200
    for path in ["/v1/verifications", "/v1/offline-bundle"]:
        assert env.client.get(path).status_code == 401
        assert env.client.get(path, headers=ADMIN).status_code == 401


def test_rate_limit_token_bucket(backend: str, tmp_path: Path, clock: FrozenClock) -> None:
    for env in build_env(backend, tmp_path, clock, merchant_rate=1):
        key = env.merchant()
        other = env.merchant()
        assert [env.verify("x", key).status_code for _ in range(2)] == [200, 200]  # burst 2
        limited = env.verify("x", key)
        assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
        assert limited.json()["error"] == "rate_limited"
        # 422 comes before 429 in the contract's order; other merchants are unaffected.
        assert env.client.post("/v1/verify", json={}, headers=key).status_code == 422
        assert env.verify("x", other).status_code == 200
        clock.advance(timedelta(seconds=1))
        assert env.verify("x", key).status_code == 200
        assert env.verify("x", key).status_code == 429


def test_deactivated_or_rotated_key_stops_working_within_5s(env: MerchantEnv) -> None:
    key = env.merchant()
    merchant_id = env.merchants[-1]["merchant_id"]
    assert env.verify("x", key).status_code == 200
    resp = env.client.post(f"/v1/admin/merchants/{merchant_id}/rotate-key", headers=ADMIN)
    new_key = {"Authorization": f"Bearer {resp.json()['api_key']}"}
    started = time.monotonic()
    while env.verify("x", key).status_code != 401:
        assert time.monotonic() - started < 5, "the rotated-out key still works"
        time.sleep(0.02)
    env.wait_authenticated(new_key)
    resp = env.client.post(
        f"/v1/admin/merchants/{merchant_id}/deactivate", json={"reason": "closed"}, headers=ADMIN
    )
    assert resp.status_code == 200
    started = time.monotonic()
    while env.verify("x", new_key).status_code != 401:
        assert time.monotonic() - started < 5, "the deactivated key still works"
        time.sleep(0.02)
    assert env.client.get("/v1/verifications", headers=new_key).status_code == 401


def wait_log(env: MerchantEnv, path: str, headers: dict[str, str], count: int) -> list[dict]:  # type: ignore[type-arg]
    deadline = time.monotonic() + 10
    while True:
        resp = env.client.get(path, headers=headers, params={"limit": 500})
        assert resp.status_code == 200, resp.text
        items: list[dict] = resp.json()["items"]  # type: ignore[type-arg]
        if len(items) >= count:
            return items
        assert time.monotonic() < deadline, f"only {len(items)} of {count} records"
        time.sleep(0.02)


def settled_log(env: MerchantEnv, path: str, headers: dict[str, str]) -> list[dict]:  # type: ignore[type-arg]
    """The log once its length has stopped changing (the writer batches records)."""
    seen = -1
    while True:
        items = wait_log(env, path, headers, 1)
        if len(items) == seen:
            return items
        seen = len(items)
        time.sleep(0.3)


def test_logs_bola_and_pagination(env: MerchantEnv) -> None:
    alice, bob = env.merchant(name="甲店"), env.merchant(name="乙景区", kind="scenic_site")
    card, other_card = env.issue(), env.issue()
    env.wait_status(card["qr"], alice, "valid")
    # Polling may have taken more than one verification (unknown_card while the view lagged):
    # count them once the log has them all, then add the ones made below.
    polls = settled_log(env, "/v1/verifications", alice)
    for _ in range(6):
        env.verify(card["qr"], alice)
    env.verify(resigned(card["qr"]), alice)  # forged: not attributed to the card
    env.verify(other_card["qr"], bob)
    env.verify("junk", bob)
    mine = wait_log(env, "/v1/verifications", alice, len(polls) + 7)
    assert len(mine) == len(polls) + 7
    assert {i["status"] for i in mine} <= {"valid", "unknown_key", "unknown_card"}
    assert mine[0]["status"] == "unknown_key"  # newest first
    theirs = wait_log(env, "/v1/verifications", bob, 2)
    assert len(theirs) == 2
    assert not {i["verification_id"] for i in mine} & {i["verification_id"] for i in theirs}
    # Pages, newest first, chained by cursor.
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = env.client.get("/v1/verifications", headers=alice, params=params).json()
        seen += [i["verification_id"] for i in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [i["verification_id"] for i in mine]
    for bad in [{"limit": 0}, {"limit": 501}, {"limit": "x"}, {"cursor": "abc"}]:
        assert env.client.get("/v1/verifications", headers=alice, params=bad).status_code == 422
    # The holder sees who checked their card; only with their own card's token.
    checks = wait_log(env, f"/v1/cards/{card['card_id']}/verifications", holder(card), 7)
    assert len(checks) == 7 and {c["merchant"]["name"] for c in checks} == {"甲店"}
    assert all(c["status"] == "valid" for c in checks)
    path = f"/v1/cards/{other_card['card_id']}/verifications"
    assert env.client.get(path, headers=holder(card)).status_code == 401
    assert env.client.get(path, headers=alice).status_code == 401
    assert env.client.get(path, headers=ADMIN).status_code == 401
    assert (
        env.client.get("/v1/cards/not-a-uuid/verifications", headers=holder(card)).status_code
        == 401
    )
    assert env.client.get("/v1/verifications", headers=holder(card)).status_code == 401


def test_metrics(env: MerchantEnv) -> None:
    key = env.merchant()
    card = env.issue()
    env.wait_status(card["qr"], key, "valid")
    env.verify("junk", key)
    text = env.client.get("/metrics").text
    assert 'cardservice_verifications_total{status="valid"}' in text
    assert 'cardservice_verifications_total{status="malformed"} 1.0' in text
    assert "cardservice_verify_latency_seconds_bucket" in text
    assert 'cardservice_projection_lag_events{view="cards"}' in text
    assert 'cardservice_projection_lag_seconds{view="cards"}' in text
    assert 'cardservice_projection_set_aside_total{view="cards"} 0.0' in text
    assert "cardservice_verification_log_queue_depth" in text
    # Every project metric is namespaced; the standard collectors stay beside them.
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    assert {
        "process_cpu_seconds_total",
        "python_info",
        "python_gc_objects_collected_total",
    } <= names
    assert all(n.startswith(("cardservice_", "process_", "python_")) for n in names), names
