"""The admin and holder HTTP contract through the real ASGI app, on both storage engines."""

from __future__ import annotations

from typing import Any

from cardservice import credentials
from tests.factories import activated, card_body


def issue(client: Any, headers: dict[str, str], seq: int = 1, **kw: Any) -> dict[str, Any]:
    resp = client.post("/v1/admin/cards", json=card_body(seq, **kw), headers=headers)
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


def test_issue_returns_the_contract_shape(client: Any, admin_headers: dict[str, str]) -> None:
    data = issue(client, admin_headers)
    assert set(data) >= {"card_id", "card_number", "status", "qr", "activation_code"}
    assert "holder_token" not in data  # the issuer never holds a holder token
    assert data["status"] == "active"
    assert data["qr"].startswith("PTC1:")
    parsed = credentials.parse_credential(data["qr"])
    assert parsed.claims.masked_name == "张*明"
    assert parsed.claims.card_number == data["card_number"]
    keys = client.get("/v1/keys").json()["keys"]
    key = next(k for k in keys if k["status"] == "active")
    assert key["kty"] == "OKP" and key["crv"] == "Ed25519"
    raw = credentials_raw(key["x"])
    assert credentials.verify_issuer_signature(parsed, raw)


def credentials_raw(x: str) -> bytes:
    from cardservice.security import b64u_decode

    return b64u_decode(x)


def test_status_transitions_and_history(client: Any, admin_headers: dict[str, str]) -> None:
    card = issue(client, admin_headers)
    url = f"/v1/admin/cards/{card['card_id']}"
    assert (
        client.post(url + "/suspend", json={"reason": "lost"}, headers=admin_headers).json()[
            "status"
        ]
        == "suspended"
    )
    assert (
        client.post(url + "/suspend", json={"reason": "x"}, headers=admin_headers).status_code
        == 409
    )
    assert (
        client.post(url + "/reinstate", json={"reason": "ok"}, headers=admin_headers).status_code
        == 200
    )
    assert (
        client.post(url + "/revoke", json={"reason": "gone"}, headers=admin_headers).status_code
        == 200
    )
    assert (
        client.post(url + "/revoke", json={"reason": "again"}, headers=admin_headers).status_code
        == 409
    )
    assert (
        client.post(url + "/reinstate", json={"reason": "x"}, headers=admin_headers).status_code
        == 409
    )
    got = client.get(url, headers=admin_headers).json()
    assert got["status"] == "revoked"
    assert [h["type"] for h in got["history"]] == [
        "Issued",
        "ActivationCodeIssued",
        "Suspended",
        "Reinstated",
        "Revoked",
    ]


def test_error_statuses_in_contract_order(client: Any, admin_headers: dict[str, str]) -> None:
    big = {"holder": {"name": "x" * 20000}}
    # 401 before anything else, even with an oversized or malformed body.
    assert client.post("/v1/admin/cards", json=big).status_code == 401
    assert client.post("/v1/admin/cards", content=b"{not json").status_code == 401
    bad = {"Authorization": "Bearer nope"}
    assert client.post("/v1/admin/cards", json=card_body(), headers=bad).status_code == 401
    # 413 before 422.
    resp = client.post("/v1/admin/cards", json=big, headers=admin_headers)
    assert resp.status_code == 413 and resp.json()["error"] == "payload_too_large"
    for body in [
        {},
        {"holder": {"name": "张三"}, "region": "500112"},
        card_body(category="general"),
        card_body(region="5001"),
        card_body(region="999999"),
        {**card_body(), "holder": {**card_body()["holder"], "id_number": "110105194912310021"}},
    ]:
        resp = client.post("/v1/admin/cards", json=body, headers=admin_headers)
        assert resp.status_code == 422, body
        assert set(resp.json()) == {"type", "title", "status", "detail", "error"}
    json_headers = {**admin_headers, "Content-Type": "application/json"}
    assert client.post("/v1/admin/cards", content=b"[1,", headers=json_headers).status_code == 422
    # 404 for unknown or malformed ids.
    for card_id in ["00000000-0000-0000-0000-000000000000", "not-a-uuid"]:
        resp = client.get(f"/v1/admin/cards/{card_id}", headers=admin_headers)
        assert resp.status_code == 404
    # 409 for a second card of the same person and category.
    issue(client, admin_headers)
    resp = client.post("/v1/admin/cards", json=card_body(), headers=admin_headers)
    assert resp.status_code == 409


def test_region_scoped_roles(client: Any, admin_headers: dict[str, str]) -> None:
    minted = client.post(
        "/v1/admin/tokens", json={"region": "500000", "role": "issuer"}, headers=admin_headers
    )
    assert minted.status_code == 201
    issuer = {"Authorization": f"Bearer {minted.json()['token']}"}
    assert client.post("/v1/admin/cards", json=card_body(), headers=issuer).status_code == 201
    resp = client.post("/v1/admin/cards", json=card_body(2, region="110101"), headers=issuer)
    assert resp.status_code == 403
    # An issuer cannot mint tokens.
    resp = client.post(
        "/v1/admin/tokens", json={"region": "500112", "role": "auditor"}, headers=issuer
    )
    assert resp.status_code == 403


def test_idempotency_key(client: Any, admin_headers: dict[str, str]) -> None:
    headers = {**admin_headers, "Idempotency-Key": "req-1"}
    first = client.post("/v1/admin/cards", json=card_body(), headers=headers)
    again = client.post("/v1/admin/cards", json=card_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    other = client.post("/v1/admin/cards", json=card_body(2), headers=headers)
    assert other.status_code == 422


def test_holder_qr_images_and_device_binding(client: Any, admin_headers: dict[str, str]) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    card = activated(client, issue(client, admin_headers))
    holder = {"Authorization": f"Bearer {card['holder_token']}"}
    png = client.get(f"/v1/cards/{card['card_id']}/qr.png", headers=holder)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    svg = client.get(f"/v1/cards/{card['card_id']}/qr.svg", headers=holder)
    assert svg.status_code == 200 and "<svg" in svg.text
    assert client.get(f"/v1/cards/{card['card_id']}/qr.png").status_code == 401
    other = issue(client, admin_headers, 2)
    resp = client.get(f"/v1/cards/{other['card_id']}/qr.png", headers=holder)
    assert resp.status_code == 401
    device = ec.derive_private_key(123456789, ec.SECP256R1())
    nums = device.public_key().public_numbers()
    jwk = credentials.DeviceKey(x=nums.x.to_bytes(32, "big"), y=nums.y.to_bytes(32, "big")).to_jwk()
    bound = client.post(
        f"/v1/cards/{card['card_id']}/device-key", json={"jwk": jwk}, headers=holder
    )
    assert bound.status_code == 200
    parsed = credentials.parse_credential(bound.json()["qr"])
    assert parsed.claims.version == 2 and parsed.claims.device_key is not None
    bad = {"jwk": {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}}
    resp = client.post(f"/v1/cards/{card['card_id']}/device-key", json=bad, headers=holder)
    assert resp.status_code == 422


def test_docs_and_health(client: Any) -> None:
    assert client.get("/healthz").status_code == 200
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/admin/cards"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("IssueCardIn")
    assert client.get("/docs").status_code == 200
    resp = client.get("/nope")
    assert resp.status_code == 404 and resp.json()["error"] == "not_found"
