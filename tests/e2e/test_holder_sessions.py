"""Holder sessions over HTTP, on both engines: a phone gets a holder token only by redeeming
an activation code; a new activation ends the earlier session (a lost phone's token is 401
on every holder endpoint at once, and on the merchant API's holder log as soon as the
session view catches up); "remove from this phone" ends this phone's session; the issuer
never sees a holder token; a card binds a device key at most 5 times a Shanghai day."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cardservice.clock import FrozenClock
from cardservice.domain.policy import DEVICE_BINDINGS_PER_DAY
from tests.merchant_support import (
    ADMIN,
    DEADLINE_SECONDS,
    OTHER_PHONE,
    PHONE,
    MerchantEnv,
    build_env,
    holder,
    phone_jwk,
)


@pytest.fixture
def env(backend: str, tmp_path: Path, clock: FrozenClock) -> Iterator[MerchantEnv]:
    yield from build_env(backend, tmp_path, clock)


def holder_endpoints(env: MerchantEnv) -> list[tuple[str, str]]:
    """Every (method, path template) a holder token opens, read from the app's own OpenAPI
    document, so an endpoint added later is covered too."""
    paths = env.client.get("/openapi.json").json()["paths"]
    return sorted(
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/v1/cards/{card_id}")
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    )


def call(env: MerchantEnv, method: str, template: str, card_id: str, token: str) -> Any:
    path = template.replace("{card_id}", card_id)
    while "{" in path:  # any other id in the path: a well-formed one
        start, end = path.index("{"), path.index("}")
        path = path[:start] + str(uuid.uuid4()) + path[end + 1 :]
    headers = {"Authorization": f"Bearer {token}"}
    if method in ("POST", "PUT", "PATCH"):
        return env.client.request(method, path, json={}, headers=headers)
    return env.client.request(method, path, headers=headers)


def new_code(env: MerchantEnv, card_id: str) -> str:
    resp = env.client.post(
        f"/v1/admin/cards/{card_id}/activation", json={"reason": "lost phone"}, headers=ADMIN
    )
    assert resp.status_code == 201, resp.text
    code: str = resp.json()["activation_code"]
    return code


def redeem(env: MerchantEnv, code: str, **headers: str) -> str:
    resp = env.client.post("/v1/activate", json={"code": code}, headers=headers)
    assert resp.status_code == 200, resp.text
    token: str = resp.json()["holder_token"]
    return token


def poll_status(env: MerchantEnv, path: str, token: str, status: int) -> None:
    """The read side follows the session view, which lags writes (goal: within 1 s)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        got = env.client.get(path, headers={"Authorization": f"Bearer {token}"}).status_code
        if got == status:
            return
        assert time.monotonic() < deadline, f"{path} still answers {got}, wanted {status}"
        time.sleep(0.01)


def history(env: MerchantEnv, card_id: str) -> list[dict[str, Any]]:
    got = env.client.get(f"/v1/admin/cards/{card_id}", headers=ADMIN)
    assert got.status_code == 200, got.text
    items: list[dict[str, Any]] = got.json()["history"]
    return items


def test_issuance_answers_no_holder_token(env: MerchantEnv) -> None:
    body = {
        "holder": {"name": "王五", "id_number": "500112196001010013", "category": "veteran"},
        "region": "500112",
    }
    keyed = {**ADMIN, "Idempotency-Key": "issue-no-token"}
    first = env.client.post("/v1/admin/cards", json=body, headers=keyed)
    replay = env.client.post("/v1/admin/cards", json=body, headers=keyed)
    for resp in (first, replay):
        assert resp.status_code == 201, resp.text
        assert "holder_token" not in resp.json()
        assert {"activation_code", "activation_url", "activation_expires_at"} <= set(resp.json())
        assert "ht_" not in resp.text
    card_id = first.json()["card_id"]
    # Until a phone redeems the code, no token of any shape opens the card.
    for method, template in holder_endpoints(env):
        assert call(env, method, template, card_id, "ht_" + "A" * 43).status_code == 401


def test_a_lost_phones_token_is_refused_everywhere_after_reactivation(env: MerchantEnv) -> None:
    key = env.merchant()
    card = env.issue()  # activated on the first phone (its token: card["holder_token"])
    card_id, lost = card["card_id"], card["holder_token"]
    env.wait_status(card["qr"], key, "valid")
    log = f"/v1/cards/{card_id}/verifications"
    poll_status(env, log, lost, 200)
    endpoints = holder_endpoints(env)
    assert ("DELETE", "/v1/cards/{card_id}/session") in endpoints
    assert ("GET", "/v1/cards/{card_id}/verifications") in endpoints

    found = redeem(env, new_code(env, card_id), **{"User-Agent": "Mozilla/5.0 (iPhone)"})
    assert found != lost
    # The write side refuses the lost phone at once, on every holder endpoint.
    for method, template in endpoints:
        if template.endswith("/verifications"):
            continue  # the read side: polled below
        resp = call(env, method, template, card_id, lost)
        assert resp.status_code == 401, (method, template, resp.status_code, resp.text)
        assert resp.json()["error"] == "unauthorized"
    # The read side's holder log follows the session view.
    poll_status(env, log, lost, 401)
    for method, template in endpoints:
        assert call(env, method, template, card_id, lost).status_code == 401, (method, template)
    # The new phone holds the card: the card, its QR, device binding and the log.
    new = {"Authorization": f"Bearer {found}"}
    assert env.client.get(f"/v1/cards/{card_id}", headers=new).status_code == 200
    assert env.client.get(f"/v1/cards/{card_id}/qr.svg", headers=new).status_code == 200
    bound = env.client.post(
        f"/v1/cards/{card_id}/device-key", json={"jwk": phone_jwk(OTHER_PHONE)}, headers=new
    )
    assert bound.status_code == 200, bound.text
    poll_status(env, log, found, 200)

    # Sessions are events: who, when, why; no token and no token hash in the history.
    kinds = [(h["type"], h["reason"]) for h in history(env, card_id)]
    assert kinds.count(("SessionStarted", "activation")) == 2
    assert ("SessionEnded", "replaced_by_new_activation") in kinds
    assert kinds.index(("SessionEnded", "replaced_by_new_activation")) < len(kinds) - 1
    for item in history(env, card_id):
        if item["type"].startswith("Session"):
            assert item["actor"]["kind"] == "holder" and item["actor"]["id"] == card_id
            assert item["at"] and set(item["data"]) <= {"session_id", "serial"}
    text = env.client.get(f"/v1/admin/cards/{card_id}", headers=ADMIN).text
    assert lost not in text and found not in text
    # The audit trail files them under the card, with the holder as the actor.
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        trail = env.client.get("/v1/admin/audit", params={"card": card_id}, headers=ADMIN)
        assert trail.status_code == 200, trail.text
        sessions = [i for i in trail.json()["items"] if i["type"].startswith("Card.Session")]
        if len(sessions) == 3:
            break
        assert time.monotonic() < deadline, trail.text
        time.sleep(0.02)
    assert [i["type"] for i in sessions] == [
        "Card.SessionStarted",
        "Card.SessionEnded",
        "Card.SessionStarted",
    ]  # newest first
    assert {i["actor"]["kind"] for i in sessions} == {"holder"}
    assert sessions[1]["reason"] == "replaced_by_new_activation"
    assert "token" not in trail.text and lost not in trail.text


def test_remove_from_this_phone(env: MerchantEnv) -> None:
    card = env.issue()
    card_id, token = card["card_id"], card["holder_token"]
    log = f"/v1/cards/{card_id}/verifications"
    path = f"/v1/cards/{card_id}/session"
    # Someone else's token, or none, cannot end it.
    other = env.issue()
    assert env.client.delete(path, headers=holder(other)).status_code == 401
    assert env.client.delete(path).status_code == 401
    assert env.client.delete(path, headers=ADMIN).status_code == 401
    assert env.client.get(f"/v1/cards/{card_id}", headers=holder(card)).status_code == 200

    gone = env.client.delete(path, headers=holder(card))
    assert gone.status_code == 204 and gone.content == b""
    for method, template in holder_endpoints(env):
        if not template.endswith("/verifications"):
            assert call(env, method, template, card_id, token).status_code == 401, template
    assert env.client.delete(path, headers=holder(card)).status_code == 401  # once
    poll_status(env, log, token, 401)
    ended = [h for h in history(env, card_id) if h["type"] == "SessionEnded"]
    assert [h["reason"] for h in ended] == ["removed_from_phone"]
    # The other card's phone is untouched; and the card can come back with a new code.
    assert env.client.get(f"/v1/cards/{other['card_id']}", headers=holder(other)).status_code == 200
    again = redeem(env, new_code(env, card_id))
    assert (
        env.client.get(
            f"/v1/cards/{card_id}", headers={"Authorization": f"Bearer {again}"}
        ).status_code
        == 200
    )
    assert env.client.get(f"/v1/cards/{card_id}", headers=holder(card)).status_code == 401


def test_a_replayed_activation_answers_the_same_session(env: MerchantEnv) -> None:
    card = env.issue()
    code = new_code(env, card["card_id"])
    phone = {"Idempotency-Key": "phone-retry-1"}
    first = redeem(env, code, **phone)
    assert redeem(env, code, **phone) == first  # the lost answer, again: one session
    started = [h for h in history(env, card["card_id"]) if h["type"] == "SessionStarted"]
    assert len(started) == 2  # the helper's activation, then this one (not three)
    ok = {"Authorization": f"Bearer {first}"}
    assert env.client.get(f"/v1/cards/{card['card_id']}", headers=ok).status_code == 200
    resp = env.client.post("/v1/activate", json={"code": code}, headers={"Idempotency-Key": "x"})
    assert resp.status_code == 410  # another request with the used code is refused


def test_hostile_tokens_are_401_never_5xx(env: MerchantEnv) -> None:
    card = env.issue()
    card_id, token = card["card_id"], card["holder_token"]
    hostile = [
        "",
        "ht_",
        "ht_" + "A" * 43,
        token.upper(),
        token[:-1],
        token + "A",
        token + "\u200b",
        "ht_" + "A" * 5000,
        token.replace("ht_", "mk_"),
        "' OR 1=1 --",
        "ht_%00",
    ]
    for method, template in holder_endpoints(env):
        for bad in hostile:
            headers = {"Authorization": f"Bearer {bad}".encode()}  # raw bytes, as sent
            path = template.replace("{card_id}", card_id)
            if "{" in path:
                continue
            resp = env.client.request(method, path, headers=headers, json={})
            assert resp.status_code == 401, (method, template, bad[:20], resp.status_code)
    for scheme in ("Basic", "bearer", "Token"):
        resp = env.client.get(f"/v1/cards/{card_id}", headers={"Authorization": f"{scheme} x"})
        assert resp.status_code == 401
    assert env.client.get(f"/v1/cards/{card_id}", headers=holder(card)).status_code == 200


# --------------------------------------------------------------------------------------
# Device-key binding: at most 5 a day (Asia/Shanghai), then 429 with Retry-After.


def bind(env: MerchantEnv, card: dict[str, Any], seed: int) -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.derive_private_key(0x1000 + seed, ec.SECP256R1())
    return env.client.post(
        f"/v1/cards/{card['card_id']}/device-key",
        json={"jwk": phone_jwk(key)},
        headers=holder(card),
    )


def test_rebinding_is_limited_per_shanghai_day(env: MerchantEnv, clock: FrozenClock) -> None:
    # 23:59:00 in Shanghai (UTC+8) is 15:59:00 UTC.
    clock.set(datetime(2026, 6, 1, 15, 59, 0, tzinfo=UTC))
    card = env.issue()
    other = env.issue()
    for n in range(DEVICE_BINDINGS_PER_DAY):
        assert bind(env, card, n).status_code == 200, n
    before = env.client.get(f"/v1/admin/cards/{card['card_id']}", headers=ADMIN).json()
    refused = bind(env, card, 99)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"] == "rate_limited"
    assert refused.headers["Retry-After"] == "60"  # to midnight in Shanghai
    clock.advance(timedelta(seconds=30))
    assert bind(env, card, 98).headers["Retry-After"] == "30"
    # A refusal records nothing and spends no status index; another card is not limited.
    after = env.client.get(f"/v1/admin/cards/{card['card_id']}", headers=ADMIN).json()
    assert after["version"] == before["version"] == 1 + DEVICE_BINDINGS_PER_DAY
    assert after["status_index"] == before["status_index"]
    assert len(after["history"]) == len(before["history"])
    assert bind(env, other, 1).status_code == 200
    # 401 and 422 come first, whatever the count.
    url = f"/v1/cards/{card['card_id']}/device-key"
    assert env.client.post(url, json={"jwk": phone_jwk(PHONE)}).status_code == 401
    assert env.client.post(url, json={"jwk": {}}, headers=holder(card)).status_code == 422
    # At midnight in Shanghai (16:00 UTC) the count starts again.
    clock.set(datetime(2026, 6, 1, 16, 0, 0, tzinfo=UTC))
    for n in range(DEVICE_BINDINGS_PER_DAY):
        assert bind(env, card, 10 + n).status_code == 200, n
    assert bind(env, card, 20).status_code == 429
