"""`Idempotency-Key` on the console's token and merchant commands, on both engines: a
replay answers the first answer and writes nothing; the same key with another body is 422;
under another path it is another key."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cardservice.bootstrap.write import WriteSide
from cardservice.clock import FrozenClock
from tests.e2e.test_console_http import register
from tests.e2e.test_console_search import catch_up, views

Headers = dict[str, str]
__all__ = ["views"]


def written(services: WriteSide) -> int:
    """The catalog side's last notification: unchanged when nothing was written."""
    last = services.catalog.recorder.max_notification_id()
    return int(last or 0)


def keyed(headers: Headers, key: str) -> Headers:
    return {**headers, "Idempotency-Key": key}


def test_mint_replay(client: Any, admin_headers: Headers, services: WriteSide) -> None:
    h = keyed(admin_headers, "mint-1")
    body = {"role": "auditor", "region": "500000", "expires_in_days": 30}
    first = client.post("/v1/admin/tokens", json=body, headers=h)
    assert first.status_code == 201 and first.json()["token"]
    before = written(services)
    replay = client.post("/v1/admin/tokens", json=body, headers=h)
    assert replay.status_code == 201 and written(services) == before
    assert replay.headers["Idempotent-Replayed"] == "true"
    again = replay.json()
    assert again["token"] is None and "shown once" in again["detail"]
    assert {k: again[k] for k in ("token_id", "role", "region", "expires_at")} == {
        k: first.json()[k] for k in ("token_id", "role", "region", "expires_at")
    }
    other = client.post("/v1/admin/tokens", json={**body, "role": "issuer"}, headers=h)
    assert other.status_code == 422 and other.json()["error"] == "idempotency_mismatch"
    assert written(services) == before
    catch_up(services)
    listed = client.get("/v1/admin/tokens", headers=admin_headers).json()["items"]
    assert [t["token_id"] for t in listed] == [first.json()["token_id"]]


def test_revoke_token_replay(client: Any, admin_headers: Headers, services: WriteSide) -> None:
    minted = client.post(
        "/v1/admin/tokens", json={"role": "auditor", "region": "500000"}, headers=admin_headers
    ).json()
    url = f"/v1/admin/tokens/{minted['token_id']}/revoke"
    h = keyed(admin_headers, "revoke-1")
    first = client.post(url, json={"reason": "left"}, headers=h)
    assert first.status_code == 200
    before = written(services)
    replay = client.post(url, json={"reason": "left"}, headers=h)
    assert (replay.status_code, replay.json()) == (200, first.json())
    assert written(services) == before
    assert client.post(url, json={"reason": "other"}, headers=h).status_code == 422
    assert client.post(url, json={"reason": "left"}, headers=admin_headers).status_code == 409


def test_merchant_patch_replay(
    client: Any, admin_headers: Headers, services: WriteSide, clock: FrozenClock
) -> None:
    m = register(client, admin_headers, "渝北饭店", "500112")
    url = f"/v1/admin/merchants/{m['merchant_id']}"
    h = keyed(admin_headers, "patch-1")
    first = client.patch(url, json={"name": "新名"}, headers=h)
    assert first.status_code == 200 and first.json()["name"] == "新名"
    edit = client.patch(url, json={"categories": ["hotel"]}, headers=admin_headers)
    assert edit.status_code == 200, edit.text
    before = written(services)
    replay = client.patch(url, json={"name": "新名"}, headers=h)
    assert (replay.status_code, replay.json()) == (200, first.json())  # as the first left it
    assert written(services) == before
    other = client.patch(url, json={"name": "别名"}, headers=h)
    assert other.status_code == 422 and other.json()["error"] == "idempotency_mismatch"
    assert client.get(url, headers=admin_headers).json()["name"] == "新名"
    clock.advance(timedelta(hours=24))  # after 24 h the key is a new one
    later = client.patch(url, json={"name": "别名"}, headers=h)
    assert later.status_code == 200 and later.json()["name"] == "别名"
    assert client.patch(url, json={"name": "别名"}, headers=h).json() == later.json()
    # under another path the key is another key
    other_m = register(client, admin_headers, "江北饭店", "500112")
    elsewhere = client.patch(
        f"/v1/admin/merchants/{other_m['merchant_id']}", json={"name": "别名"}, headers=h
    )
    assert elsewhere.status_code == 200 and elsewhere.json()["name"] == "别名"


def test_deactivate_and_rotate_replay(
    client: Any, admin_headers: Headers, services: WriteSide
) -> None:
    m = register(client, admin_headers, "渝北饭店", "500112")
    base = f"/v1/admin/merchants/{m['merchant_id']}"
    h = keyed(admin_headers, "op-1")
    rotated = client.post(base + "/rotate-key", headers=h)
    assert rotated.status_code == 200 and rotated.json()["api_key"]
    before = written(services)
    replay = client.post(base + "/rotate-key", headers=h)
    assert replay.status_code == 200 and written(services) == before
    assert replay.json()["api_key"] is None and "shown once" in replay.json()["detail"]
    assert replay.headers["Idempotent-Replayed"] == "true"

    first = client.post(base + "/deactivate", json={"reason": "closed"}, headers=h)
    assert first.status_code == 200 and first.json()["active"] is False
    before = written(services)
    again = client.post(base + "/deactivate", json={"reason": "closed"}, headers=h)
    assert (again.status_code, again.json()) == (200, first.json())
    assert written(services) == before
    assert client.post(base + "/deactivate", json={"reason": "moved"}, headers=h).status_code == 422
    unkeyed = client.post(base + "/deactivate", json={"reason": "closed"}, headers=admin_headers)
    assert unkeyed.status_code == 409
