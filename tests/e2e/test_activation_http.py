"""One-time activation over HTTP, on both engines: `POST /v1/admin/cards` hands out a code
and a link, `POST /v1/activate` redeems it once (404 unknown, 410 used, expired or
superseded, 409 revoked card, 429 per client address), `POST /v1/admin/cards/{id}/activation`
makes a new one within the caller's region. No input answers a 5xx."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cardservice.bootstrap.write import WriteSide
from cardservice.clock import FrozenClock
from cardservice.domain.activation import VALID_FOR
from tests.conftest import make_settings
from tests.factories import activated, card_body
from tests.integration.test_activation import race

CODE = re.compile(r"^[2-9A-HJ-NP-Z]{5}-[2-9A-HJ-NP-Z]{5}$")
ANOTHER = "ZZZZZ-ZZZZZ"


def issue(client: Any, headers: dict[str, str], seq: int = 1, **kw: Any) -> dict[str, Any]:
    resp = client.post("/v1/admin/cards", json=card_body(seq, **kw), headers=headers)
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


def activate(client: Any, code: str, **headers: str) -> Any:
    return client.post("/v1/activate", json={"code": code}, headers=headers)


def mint(client: Any, admin: dict[str, str], region: str, role: str) -> dict[str, str]:
    resp = client.post("/v1/admin/tokens", json={"region": region, "role": role}, headers=admin)
    assert resp.status_code == 201, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


def test_issuance_answers_a_code_and_a_link(client: Any, admin_headers: dict[str, str]) -> None:
    card = issue(client, admin_headers)
    assert {"card_id", "card_number", "status", "qr", "activation_code"} <= set(card)
    assert "holder_token" not in card  # the issuer never holds a holder token
    assert CODE.match(card["activation_code"]), card["activation_code"]
    assert card["activation_url"] == "/holder#activate=" + card["activation_code"].replace("-", "")
    assert card["activation_expires_at"] == "2026-06-08T02:00:00+00:00"  # 7 days on the clock


def test_a_code_activates_once(client: Any, admin_headers: dict[str, str]) -> None:
    card = issue(client, admin_headers)
    first = activate(client, card["activation_code"].lower(), **{"User-Agent": "X (Android 14)"})
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "no-store"
    body = first.json()
    assert set(body) == {"card_id", "holder_token", "card"}
    assert body["card_id"] == card["card_id"] and body["holder_token"].startswith("ht_")
    view = body["card"]
    assert view["masked_name"] == "张*明" and view["qr"].startswith("PTC1:")
    assert "holder_id" not in view and view["activation"]["state"] == "used"
    # The token works for the holder endpoints (device binding follows on the phone).
    holder = {"Authorization": f"Bearer {body['holder_token']}"}
    assert client.get(f"/v1/cards/{card['card_id']}", headers=holder).status_code == 200

    again = activate(client, card["activation_code"])
    assert again.status_code == 410 and again.json()["error"] == "code_used"
    assert "already been used" in again.json()["detail"]
    got = client.get(f"/v1/admin/cards/{card['card_id']}", headers=admin_headers).json()
    activated = [h for h in got["history"] if h["type"] == "Activated"]
    assert len(activated) == 1 and activated[0]["data"]["device_hint"] == "Android"
    assert got["activation"]["state"] == "used"


def test_refusals(client: Any, admin_headers: dict[str, str]) -> None:
    issue(client, admin_headers)
    unknown = activate(client, ANOTHER)
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_code"
    for body in ({"code": "ABC"}, {"code": 12345}, {}, {"code": "ABCDE-23456", "x": 1}, []):
        resp = client.post("/v1/activate", json=body)
        assert resp.status_code == 422, body
        assert set(resp.json()) == {"type", "title", "status", "detail", "error"}
    json_type = {"Content-Type": "application/json"}
    assert client.post("/v1/activate", content=b"{nope", headers=json_type).status_code == 422
    huge = client.post("/v1/activate", json={"code": "A" * 20_000})
    assert huge.status_code == 413 and huge.json()["error"] == "payload_too_large"
    bad_key = client.post("/v1/activate", json={"code": ANOTHER}, headers={"Idempotency-Key": ""})
    assert bad_key.status_code == 422


def test_codes_expire_on_the_clock(
    client: Any, admin_headers: dict[str, str], clock: FrozenClock
) -> None:
    on_time = issue(client, admin_headers, 1)
    late = issue(client, admin_headers, 2)
    clock.advance(VALID_FOR - timedelta(seconds=1))
    assert activate(client, on_time["activation_code"]).status_code == 200
    clock.advance(timedelta(seconds=1))
    expired = activate(client, late["activation_code"])
    assert expired.status_code == 410 and expired.json()["error"] == "code_expired"
    got = client.get(f"/v1/admin/cards/{late['card_id']}", headers=admin_headers).json()
    assert got["activation"]["state"] == "expired"


def test_a_new_code_supersedes_and_a_lost_phone_gets_another(
    client: Any, admin_headers: dict[str, str]
) -> None:
    card = issue(client, admin_headers)
    url = f"/v1/admin/cards/{card['card_id']}/activation"
    new = client.post(url, json={"reason": "lost the paper"}, headers=admin_headers)
    assert new.status_code == 201, new.text
    fresh = new.json()
    assert set(fresh) == {"card_id", "activation_code", "activation_url", "activation_expires_at"}
    assert (
        CODE.match(fresh["activation_code"]) and fresh["activation_code"] != card["activation_code"]
    )
    old = activate(client, card["activation_code"])
    assert old.status_code == 410 and old.json()["error"] == "code_superseded"
    assert activate(client, fresh["activation_code"]).status_code == 200
    lost = client.post(url, json={}, headers=admin_headers).json()
    assert activate(client, lost["activation_code"]).status_code == 200


def test_new_code_endpoint_refusals(client: Any, admin_headers: dict[str, str]) -> None:
    card = activated(client, issue(client, admin_headers))
    url = f"/v1/admin/cards/{card['card_id']}/activation"
    # 401 first, whatever the body.
    assert client.post(url, json={"reason": 5}).status_code == 401
    assert client.post(url, json={}, headers={"Authorization": "Bearer nope"}).status_code == 401
    holder = {"Authorization": f"Bearer {card['holder_token']}"}
    assert client.post(url, json={}, headers=holder).status_code == 401
    # 413, then 422.
    assert client.post(url, json={"reason": "x" * 20_000}, headers=admin_headers).status_code == 413
    for body in ({"reason": 5}, {"reason": "x" * 501}, {"other": 1}):
        assert client.post(url, json=body, headers=admin_headers).status_code == 422, body
    # 403: wrong region or a role that may not act on cards.
    for region, role in (
        ("110000", "issuer"),
        ("500112", "auditor"),
        ("500112", "catalog_manager"),
    ):
        resp = client.post(url, json={}, headers=mint(client, admin_headers, region, role))
        assert resp.status_code == 403, (region, role)
    for region in ("500112", "500100"):
        resp = client.post(url, json={}, headers=mint(client, admin_headers, region, "issuer"))
        assert resp.status_code == 201, region
    # 404: unknown or malformed ids.
    for card_id in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        resp = client.post(f"/v1/admin/cards/{card_id}/activation", json={}, headers=admin_headers)
        assert resp.status_code == 404
    # 409: a revoked card gets no code, and its unused code stops working.
    latest = client.post(url, json={}, headers=admin_headers).json()["activation_code"]
    revoke = client.post(
        f"/v1/admin/cards/{card['card_id']}/revoke", json={"reason": "x"}, headers=admin_headers
    )
    assert revoke.status_code == 200
    assert client.post(url, json={}, headers=admin_headers).status_code == 409
    refused = activate(client, latest)
    assert refused.status_code == 409 and refused.json()["error"] == "card_revoked"


def test_idempotent_replays(client: Any, admin_headers: dict[str, str]) -> None:
    headers = {**admin_headers, "Idempotency-Key": "issue-1"}
    first = client.post("/v1/admin/cards", json=card_body(), headers=headers)
    again = client.post("/v1/admin/cards", json=card_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.json() == again.json()  # the same code: derived again, not minted twice
    card_id = first.json()["card_id"]
    history = client.get(f"/v1/admin/cards/{card_id}", headers=admin_headers).json()["history"]
    assert [h["type"] for h in history] == ["Issued", "ActivationCodeIssued"]

    url = f"/v1/admin/cards/{card_id}/activation"
    keyed = {**admin_headers, "Idempotency-Key": "new-1"}
    one = client.post(url, json={"reason": "lost"}, headers=keyed)
    two = client.post(url, json={"reason": "lost"}, headers=keyed)
    assert one.status_code == two.status_code == 201 and one.json() == two.json()
    assert two.headers.get("Idempotent-Replayed") == "true"
    assert client.post(url, json={"reason": "other"}, headers=keyed).status_code == 422

    # The phone retrying after a lost answer (same Idempotency-Key) is answered again.
    code = one.json()["activation_code"]
    phone = {"Idempotency-Key": "phone-attempt-1"}
    ok = client.post("/v1/activate", json={"code": code}, headers=phone)
    retry = client.post("/v1/activate", json={"code": code}, headers=phone)
    assert ok.status_code == retry.status_code == 200 and ok.json() == retry.json()
    assert retry.headers.get("Idempotent-Replayed") == "true"
    other = client.post("/v1/activate", json={"code": code}, headers={"Idempotency-Key": "x"})
    assert other.status_code == 410


@pytest.fixture
def app_with(backend: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Any]:
    """Clients of apps built with settings overrides (on this test's engine and clock)."""
    from fastapi.testclient import TestClient

    from cardservice.api.app import create_app

    made: list[tuple[Any, WriteSide, Any]] = []

    def build(**overrides: Any) -> Any:
        settings, schema = make_settings(backend, tmp_path / str(len(made)), **overrides)
        svc = WriteSide.build(settings, clock)
        client = TestClient(create_app(svc, own_services=False)).__enter__()
        made.append((client, svc, schema))
        return client

    yield build
    for client, svc, schema in made:
        client.__exit__(None, None, None)
        svc.close()
        if schema is not None:
            schema.drop()


def test_two_phones_at_once_exactly_one_wins(app_with: Any, admin_headers: dict[str, str]) -> None:
    client = app_with(activation_rate=0)  # every loser is a failure: no bucket in the way
    for seq in range(3):
        code = issue(client, admin_headers, seq)["activation_code"]
        statuses = race(lambda _i, code=code: str(activate(client, code).status_code), 5)
        assert sorted(statuses) == ["200"] + ["410"] * 4, statuses


@pytest.fixture
def limited(app_with: Any) -> Any:
    """An app whose activation bucket holds 3 attempts, refilled at one per 2 seconds."""
    return app_with(activation_rate=0.5, activation_burst=3)


def test_guessing_is_rate_limited_per_client(
    limited: Any, admin_headers: dict[str, str], clock: FrozenClock
) -> None:
    code = issue(limited, admin_headers)["activation_code"]
    assert [activate(limited, ANOTHER).status_code for _ in range(3)] == [404, 404, 404]
    blocked = activate(limited, ANOTHER)
    assert blocked.status_code == 429 and blocked.json()["error"] == "rate_limited"
    assert blocked.headers["Retry-After"] == "2"
    assert activate(limited, code).status_code == 429  # even the right code: no oracle
    clock.advance(timedelta(seconds=2))
    assert activate(limited, code).status_code == 200  # a success is given back...
    assert activate(limited, ANOTHER).status_code == 404  # ...so this failure still fits
    assert activate(limited, ANOTHER).status_code == 429
    # Body errors are refused before the bucket: they teach a guesser nothing.
    assert limited.post("/v1/activate", json={"code": "?"}).status_code == 422
    # The admin endpoints are not limited by it.
    assert limited.get("/v1/keys").status_code == 200


def test_openapi_documents_the_refusals(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    activate_op = spec["paths"]["/v1/activate"]["post"]
    assert {"200", "404", "409", "410", "413", "422", "429"} <= set(activate_op["responses"])
    assert activate_op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "ActivateIn"
    )
    new_code = spec["paths"]["/v1/admin/cards/{card_id}/activation"]["post"]
    assert {"201", "401", "403", "404", "409", "413", "422"} <= set(new_code["responses"])


def test_hostile_bodies_never_answer_5xx(client: Any, admin_headers: dict[str, str]) -> None:
    card = activated(client, issue(client, admin_headers))
    bodies: list[Any] = [
        {"code": "\x00" * 10},
        {"code": "ＺＺＺＺＺ－ＺＺＺＺＺ"},
        {"code": "'; DROP TABLE x; --"},
        {"code": "💥" * 10},
        {"code": None},
        {"code": ["ABCDE23456"]},
        {"code": {"$ne": ""}},
        {"code": "A" * 64},
        {"code": "ABCDE-23456" + " " * 50},
        {"code": card["card_id"]},
        {"code": card["holder_token"][:64]},
    ]
    for body in bodies:
        resp = client.post("/v1/activate", json=body)
        assert resp.status_code in (404, 422, 429), (body, resp.status_code, resp.text)
    weird = client.post(
        f"/v1/admin/cards/{card['card_id']}%00/activation", json={}, headers=admin_headers
    )
    assert weird.status_code < 500
