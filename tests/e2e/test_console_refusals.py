"""The console's token and merchant commands refused in the contract's order, on both
engines through the ASGI app: 413 (a body over 16 KiB) before 415 (not JSON), 422 for a
malformed body with nothing applied, 404 for an unknown merchant, 409 for a deactivated
one; search by status expired and revoked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cardservice.bootstrap.write import WriteSide
from cardservice.clock import FrozenClock
from tests.e2e.test_console_http import register
from tests.e2e.test_console_search import catch_up, issue, numbers, search, views

Headers = dict[str, str]
__all__ = ["views"]
UNKNOWN = "00000000-0000-0000-0000-000000000000"
OVERSIZED = {"reason": "x" * (17 * 1024)}  # over 16 KiB whatever the other fields


def commands(client: Any, admin: Headers) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """(method, path, a valid body) for each command."""
    merchant = register(client, admin, "渝北饭店", "500112")["merchant_id"]
    token = client.post(
        "/v1/admin/tokens", json={"role": "auditor", "region": "500000"}, headers=admin
    ).json()["token_id"]
    return {
        "patch merchant": ("PATCH", f"/v1/admin/merchants/{merchant}", {"name": "新名"}),
        "mint token": ("POST", "/v1/admin/tokens", {"role": "auditor", "region": "500000"}),
        "revoke token": ("POST", f"/v1/admin/tokens/{token}/revoke", {"reason": "离职"}),
        "deactivate": ("POST", f"/v1/admin/merchants/{merchant}/deactivate", {"reason": "停业"}),
    }


def test_413_before_415_on_every_command(client: Any, admin_headers: Headers) -> None:
    for name, (method, path, body) in commands(client, admin_headers).items():
        big = client.request(method, path, json={**body, **OVERSIZED}, headers=admin_headers)
        assert big.status_code == 413, (name, big.text)
        assert big.json()["error"] == "payload_too_large"
        big_text = client.request(
            method, path, content=b"x" * (17 * 1024),
            headers={**admin_headers, "Content-Type": "text/plain"},
        )  # fmt: skip
        assert big_text.status_code == 413, name  # 413 is checked before 415
        plain = client.request(
            method, path, content=str(body).encode(),
            headers={**admin_headers, "Content-Type": "text/plain"},
        )  # fmt: skip
        assert plain.status_code == 415, (name, plain.text)
        assert plain.json()["error"] == "unsupported_media_type"
        assert plain.headers["content-type"].startswith("application/problem+json")
        ok = client.request(method, path, json=body, headers=admin_headers)
        assert ok.status_code in (200, 201), (name, ok.text)  # nothing before was applied


BAD_BODIES: dict[str, list[Any]] = {
    "patch merchant": [
        {"a_level": 9}, {"name": "a\u0000b"}, {"categories": "dining"}, {"name": ""},
        {"unknown": 1}, [], "text",
    ],
    "mint token": [
        {"role": "god", "region": "500000"}, {"role": "auditor", "region": "999999"},
        {"role": "auditor"}, {"role": "auditor", "region": "500000", "expires_in_days": 0},
        {"role": "auditor", "region": "500000", "expires_in_days": "soon"}, [],
    ],
    "revoke token": [{"reason": "a\u0000b"}, {"reason": "x" * 501}, [], 7],
    "deactivate": [{"reason": "a\u0000b"}, {"reason": "\u202e"}, {"reason": 5}, []],
}  # fmt: skip


def test_422_on_every_command_and_nothing_applied(client: Any, admin_headers: Headers) -> None:
    """Each malformed body is a 422 problem and changes nothing: the valid body after it
    still succeeds as a first command would."""
    for name, (method, path, body) in commands(client, admin_headers).items():
        for bad in BAD_BODIES[name]:
            resp = client.request(method, path, json=bad, headers=admin_headers)
            assert resp.status_code == 422, (name, bad, resp.text)
            assert resp.headers["content-type"].startswith("application/problem+json")
        ok = client.request(method, path, json=body, headers=admin_headers)
        assert ok.status_code in (200, 201), (name, ok.text)


def test_deactivate_and_rotate_404_and_409(client: Any, admin_headers: Headers) -> None:
    for path in (f"/v1/admin/merchants/{UNKNOWN}", "/v1/admin/merchants/nope"):
        gone = client.post(path + "/deactivate", json={"reason": "停业"}, headers=admin_headers)
        assert gone.status_code == 404 and gone.json()["error"] == "not_found"
        assert client.post(path + "/rotate-key", headers=admin_headers).status_code == 404
    merchant = register(client, admin_headers, "渝北饭店", "500112")["merchant_id"]
    base = f"/v1/admin/merchants/{merchant}"
    ok = client.post(base + "/deactivate", json={"reason": "停业"}, headers=admin_headers)
    assert ok.status_code == 200 and ok.json()["active"] is False
    again = client.post(base + "/deactivate", json={"reason": "停业"}, headers=admin_headers)
    assert again.status_code == 409 and again.json()["error"] == "invalid_transition"
    rotate = client.post(base + "/rotate-key", headers=admin_headers)
    assert rotate.status_code == 409 and rotate.json()["error"] == "invalid_transition"


def test_search_expired_and_revoked(
    client: Any, admin_headers: Headers, services: WriteSide, clock: FrozenClock
) -> None:
    short = issue(client, admin_headers, 1, valid_years=1)
    revoked = issue(client, admin_headers, 2)
    active = issue(client, admin_headers, 3)
    resp = client.post(
        f"/v1/admin/cards/{revoked['card_id']}/revoke",
        json={"reason": "信息有误"}, headers=admin_headers,
    )  # fmt: skip
    assert resp.status_code == 200
    catch_up(services)
    assert numbers(search(client, admin_headers, status="expired")) == []
    assert numbers(search(client, admin_headers, status="revoked")) == [revoked["card_number"]]
    clock.advance(timedelta(days=367))
    expired = search(client, admin_headers, status="expired")
    assert numbers(expired) == [short["card_number"]]
    assert expired.json()["items"][0]["status"] == "expired"
    assert numbers(search(client, admin_headers, status="revoked")) == [revoked["card_number"]]
    assert numbers(search(client, admin_headers, status="active")) == [active["card_number"]]
