"""The console's tokens, merchants and imports through HTTP on both engines: each endpoint
with its refusals (401, 403, 404, 409, 413, 415, 422) and subtree scoping."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from cardservice.bootstrap.write import WriteSide
from cardservice.clock import FrozenClock
from tests.e2e.test_console_search import catch_up, mint, numbers, search, views
from tests.factories import id_number

Headers = dict[str, str]
__all__ = ["views"]
HEADER = "name,id_number,category,region\n"


def mint_full(client: Any, headers: Headers, role: str, region: str, **kw: Any) -> Any:
    return client.post(
        "/v1/admin/tokens", json={"role": role, "region": region, **kw}, headers=headers
    )


# -- tokens -------------------------------------------------------------------------------


def test_token_expires(client: Any, admin_headers: Headers, clock: FrozenClock) -> None:
    resp = mint_full(client, admin_headers, "auditor", "500000", expires_in_days=2)
    assert resp.status_code == 201
    body = resp.json()
    assert body["expires_at"].startswith((clock.now() + timedelta(days=2)).date().isoformat())
    auditor = {"Authorization": f"Bearer {body['token']}"}
    assert client.get("/v1/admin/tokens", headers=auditor).status_code == 200
    clock.advance(timedelta(days=2))
    assert client.get("/v1/admin/tokens", headers=auditor).status_code == 401
    default = mint_full(client, admin_headers, "auditor", "500000").json()["expires_at"]
    assert default.startswith((clock.now() + timedelta(days=365)).date().isoformat())


def test_token_refusals(client: Any, admin_headers: Headers) -> None:
    for days in (0, 3651, "7", 1.5, None):
        resp = mint_full(client, admin_headers, "auditor", "500000", expires_in_days=days)
        assert resp.status_code == 422, days
    auditor = mint(client, admin_headers, "auditor", "500000")
    assert mint_full(client, auditor, "auditor", "500000").status_code == 403
    assert client.get("/v1/admin/tokens").status_code == 401
    assert (
        client.get("/v1/admin/tokens", params={"region": "110000"}, headers=auditor).status_code
        == 403
    )
    assert (
        client.get("/v1/admin/tokens", params={"region": "99"}, headers=auditor).status_code == 422
    )
    unknown = "/v1/admin/tokens/00000000-0000-0000-0000-000000000000/revoke"
    assert client.post(unknown, json={"reason": "x"}, headers=admin_headers).status_code == 404


def test_minted_token_never_outlives_its_minter(
    client: Any, admin_headers: Headers, clock: FrozenClock
) -> None:
    boss = mint_full(client, admin_headers, "admin", "500000", expires_in_days=10).json()
    boss_headers = {"Authorization": f"Bearer {boss['token']}"}
    child = mint_full(client, boss_headers, "issuer", "500112", expires_in_days=3650).json()
    assert child["expires_at"] == boss["expires_at"]
    clock.advance(timedelta(days=10))
    child_headers = {"Authorization": f"Bearer {child['token']}"}
    assert client.get("/v1/admin/tokens", headers=child_headers).status_code == 401


def test_revocation_reaches_every_token_minted_under(
    client: Any, admin_headers: Headers, services: WriteSide
) -> None:
    a = mint_full(client, admin_headers, "admin", "500000").json()
    a_headers = {"Authorization": f"Bearer {a['token']}"}
    b = mint_full(client, a_headers, "admin", "500100").json()
    b_headers = {"Authorization": f"Bearer {b['token']}"}
    c = mint_full(client, b_headers, "auditor", "500112").json()
    c_headers = {"Authorization": f"Bearer {c['token']}"}
    other = mint_full(client, admin_headers, "auditor", "500000").json()
    assert client.get("/v1/admin/tokens", headers=c_headers).status_code == 200
    resp = client.post(
        f"/v1/admin/tokens/{a['token_id']}/revoke", json={"reason": "left"}, headers=admin_headers
    )
    assert resp.status_code == 200
    for headers in (a_headers, b_headers, c_headers):
        assert client.get("/v1/admin/tokens", headers=headers).status_code == 401
    other_headers = {"Authorization": f"Bearer {other['token']}"}
    assert client.get("/v1/admin/tokens", headers=other_headers).status_code == 200
    again = client.post(
        f"/v1/admin/tokens/{a['token_id']}/revoke", json={"reason": "x"}, headers=admin_headers
    )
    assert again.status_code == 409
    catch_up(services)
    listed = client.get("/v1/admin/tokens", headers=admin_headers).json()["items"]
    by_id = {t["token_id"]: t for t in listed}
    assert all(by_id[t["token_id"]]["revoked"] for t in (a, b, c))
    assert by_id[other["token_id"]]["revoked"] is False
    assert set(listed[0]) >= {"token_id", "role", "region", "created_at", "expires_at", "revoked"}
    text = client.get("/v1/admin/tokens", headers=admin_headers).text
    assert a["token"] not in text and "token_hash" not in text
    scoped = client.get("/v1/admin/tokens", params={"region": "500100"}, headers=admin_headers)
    assert {t["token_id"] for t in scoped.json()["items"]} == {b["token_id"], c["token_id"]}


# -- merchants ----------------------------------------------------------------------------


def register(client: Any, headers: Headers, name: str, region: str, **kw: Any) -> dict[str, Any]:
    body = {"name": name, "region": region, "kind": "merchant", "categories": ["dining"], **kw}
    resp = client.post("/v1/admin/merchants", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


def test_merchant_list_filters_and_pages(
    client: Any, admin_headers: Headers, services: WriteSide
) -> None:
    m1 = register(client, admin_headers, "渝北饭店", "500112")
    m2 = register(client, admin_headers, "缙云山", "500109", kind="scenic_site", a_level=4)
    m3 = register(client, admin_headers, "东城书店", "110101")
    client.post(
        f"/v1/admin/merchants/{m1['merchant_id']}/deactivate", json={"reason": "closed"},
        headers=admin_headers,
    )  # fmt: skip
    catch_up(services)

    def ids(**params: str) -> set[str]:
        resp = client.get("/v1/admin/merchants", params=params, headers=admin_headers)
        assert resp.status_code == 200, resp.text
        return {m["merchant_id"] for m in resp.json()["items"]}

    assert ids() == {m1["merchant_id"], m2["merchant_id"], m3["merchant_id"]}
    assert ids(region="500000") == {m1["merchant_id"], m2["merchant_id"]}
    assert ids(kind="scenic_site") == {m2["merchant_id"]}
    assert ids(active="false") == {m1["merchant_id"]}
    assert ids(active="true", region="500000") == {m2["merchant_id"]}
    seen: list[str] = []
    params = {"limit": "1"}
    while True:
        page = client.get("/v1/admin/merchants", params=params, headers=admin_headers).json()
        seen += [m["merchant_id"] for m in page["items"]]
        if not page["next"]:
            break
        params["cursor"] = page["next"]
    assert sorted(seen) == sorted(ids()) and len(seen) == 3
    text = client.get("/v1/admin/merchants", headers=admin_headers).text
    assert "key_hash" not in text and m1["api_key"] not in text
    local = mint(client, admin_headers, "auditor", "500000")
    got = client.get("/v1/admin/merchants", headers=local).json()["items"]
    assert {m["merchant_id"] for m in got} == {m1["merchant_id"], m2["merchant_id"]}
    refusals = [({"kind": "shop"}, 422), ({"active": "yes"}, 422), ({"cursor": "x"}, 422),
                ({"limit": "501"}, 422), ({"region": "110000"}, 403)]  # fmt: skip
    for params_, status in refusals:
        resp = client.get("/v1/admin/merchants", params=params_, headers=local)
        assert resp.status_code == status, params_
    assert client.get("/v1/admin/merchants").status_code == 401


def test_merchant_patch(client: Any, admin_headers: Headers, services: WriteSide) -> None:
    m = register(client, admin_headers, "渝北饭店", "500112")
    url = f"/v1/admin/merchants/{m['merchant_id']}"
    resp = client.patch(
        url, json={"name": "渝北大饭店", "a_level": 3, "require_device_binding": True},
        headers=admin_headers,
    )  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert resp.json()["name"] == "渝北大饭店" and resp.json()["a_level"] == 3
    assert client.get(url, headers=admin_headers).json()["require_device_binding"] is True
    assert (
        client.patch(url, json={"a_level": None}, headers=admin_headers).json()["a_level"] is None
    )
    catch_up(services)
    listed = client.get("/v1/admin/merchants", headers=admin_headers).json()["items"][0]
    assert listed["name"] == "渝北大饭店" and listed["require_device_binding"] is True
    audit = client.get("/v1/admin/audit", headers=admin_headers).json()["items"]
    assert any(e["type"].endswith("Updated") for e in audit)

    assert client.patch(url, json={"name": "x"}).status_code == 401
    for body in ({}, {"name": ""}, {"name": None}, {"a_level": 6}, {"a_level": "3"},
                 {"categories": "dining"}, {"require_device_binding": "yes"}, {"key_hash": "x"},
                 {"name": "\u0000bad"}):  # fmt: skip
        assert client.patch(url, json=body, headers=admin_headers).status_code == 422, body
    big = {"name": "x" * (20 * 1024)}  # over the 16 KiB body limit
    assert client.patch(url, json=big, headers=admin_headers).status_code == 413
    outsider = mint(client, admin_headers, "catalog_manager", "110000")
    assert client.patch(url, json={"name": "y"}, headers=outsider).status_code == 403
    issuer = mint(client, admin_headers, "issuer", "500000")
    assert client.patch(url, json={"name": "y"}, headers=issuer).status_code == 403
    unknown = "/v1/admin/merchants/00000000-0000-0000-0000-000000000000"
    assert client.patch(unknown, json={"name": "y"}, headers=admin_headers).status_code == 404
    client.post(url + "/deactivate", json={"reason": "closed"}, headers=admin_headers)
    assert client.patch(url, json={"name": "y"}, headers=admin_headers).status_code == 409


# -- imports ------------------------------------------------------------------------------


def post_csv(client: Any, headers: Headers, text: str | bytes, **extra: str) -> Any:
    data = text.encode() if isinstance(text, str) else text
    return client.post(
        "/v1/admin/imports",
        content=data,
        headers={**headers, "Content-Type": "text/csv; charset=utf-8", **extra},
    )


def wait_done(client: Any, headers: Headers, import_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        state: dict[str, Any] = client.get(f"/v1/admin/imports/{import_id}", headers=headers).json()
        if state["status"] != "running" or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def csv_rows(rows: list[tuple[str, str, str, str]]) -> str:
    return HEADER + "".join(",".join(r) + "\n" for r in rows)


def test_import_over_http(client: Any, admin_headers: Headers, services: WriteSide) -> None:
    issuer = mint(client, admin_headers, "issuer", "500000")
    text = "\ufeff" + csv_rows(
        [
            ("张三明", id_number(1), "veteran", "500112"),
            ("李四", id_number(2), "martyr_family", "500112"),
            ("王五", id_number(3), "veteran", "110101"),  # outside the issuer's subtree
            ("赵六", "123", "veteran", "500112"),
        ]
    )
    resp = post_csv(client, issuer, text, **{"Idempotency-Key": "batch-1"})
    assert resp.status_code == 202, resp.text
    import_id = resp.json()["import_id"]
    state = wait_done(client, issuer, import_id)
    assert state == {
        "import_id": import_id, "status": "done", "total": 4, "imported": 2, "skipped": 0,
        "rejected": 2,
    }  # fmt: skip
    rejects = client.get(f"/v1/admin/imports/{import_id}/rejects.csv", headers=issuer)
    assert rejects.status_code == 200 and rejects.headers["content-type"].startswith("text/csv")
    lines = rejects.text.strip().split("\n")
    assert lines[0] == "name,id_number,category,region,line,reason"
    assert lines[1].startswith(f"王五,{id_number(3)},veteran,110101,4,")
    assert lines[2].startswith("赵六,123,veteran,500112,5,")
    # the same key and file: the same import; the same file again: nothing issued twice
    replay = post_csv(client, issuer, text, **{"Idempotency-Key": "batch-1"})
    assert replay.status_code == 202 and replay.json()["import_id"] == import_id
    assert (
        post_csv(client, issuer, text + "x\n", **{"Idempotency-Key": "batch-1"}).status_code == 422
    )
    second = post_csv(client, issuer, text).json()["import_id"]
    assert second != import_id
    again = wait_done(client, issuer, second)
    assert (again["imported"], again["skipped"], again["rejected"]) == (0, 2, 2)
    catch_up(services)
    assert len(numbers(search(client, admin_headers, name="李四"))) == 1


def test_import_refusals(client: Any, admin_headers: Headers, services: WriteSide) -> None:
    good = csv_rows([("张三明", id_number(1), "veteran", "500112")])
    assert post_csv(client, {}, good).status_code == 401
    assert client.post(
        "/v1/admin/imports", json={"rows": []}, headers=admin_headers
    ).status_code == 415  # fmt: skip
    big = b"x" * (20 * 1024 * 1024 + 1)
    assert post_csv(client, admin_headers, big).status_code == 413
    streamed = client.post(  # no Content-Length: counted as it arrives
        "/v1/admin/imports",
        content=iter([b"x" * (1 << 20)] * 21),
        headers={**admin_headers, "Content-Type": "text/csv"},
    )
    assert streamed.status_code == 413
    assert post_csv(client, admin_headers, good, **{"Content-Length": "1e3"}).status_code == 400
    for role in ("auditor", "catalog_manager"):
        assert (
            post_csv(client, mint(client, admin_headers, role, "500000"), good).status_code == 403
        )
    assert client.get("/v1/admin/imports/nope", headers=admin_headers).status_code == 404
    unknown = "/v1/admin/imports/00000000-0000-0000-0000-000000000000"
    assert client.get(unknown, headers=admin_headers).status_code == 404
    assert client.get(unknown + "/rejects.csv", headers=admin_headers).status_code == 404
    assert client.get(unknown).status_code == 401
    for broken, why in ((b"\xff\xfe\x00", "UTF-8"), (b"", "empty"), (b"a,b\n1,2\n", "header")):
        resp = post_csv(client, admin_headers, broken)
        assert resp.status_code == 202
        state = wait_done(client, admin_headers, resp.json()["import_id"])
        assert state["status"] == "failed" and why in state["reason"], state
    ok = post_csv(client, admin_headers, good).json()["import_id"]
    wait_done(client, admin_headers, ok)
    outsider = mint(client, admin_headers, "auditor", "110000")
    assert client.get(f"/v1/admin/imports/{ok}", headers=outsider).status_code == 403
