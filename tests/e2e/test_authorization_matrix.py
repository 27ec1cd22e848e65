"""Every admin endpoint x every role x inside/outside the token's subtree, through HTTP on
both engines, asserting the exact status; plus no token, a wrong token and a revoked token
(401 at once). The expected table is written out here, not derived from the code's
PERMISSIONS, so a change to either shows up as a difference."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from tests.factories import card_body

ROLES = ("admin", "issuer", "catalog_manager", "auditor")
TOKEN_REGION = "500000"  # Chongqing
PLACES = {"inside": "500112", "outside": "110101", "above": "000000"}

# Which roles may use each endpoint (inside their subtree); everyone else gets 403.
ALLOWED: dict[str, set[str]] = {
    "issue card": {"admin", "issuer"},
    "get card": set(ROLES),
    "suspend card": {"admin", "issuer"},
    "reinstate card": {"admin", "issuer"},
    "revoke card": {"admin", "issuer"},
    "mint token": {"admin"},
    "revoke token": {"admin"},
    "register merchant": {"admin", "catalog_manager"},
    "get merchant": set(ROLES),
    "deactivate merchant": {"admin", "catalog_manager"},
    "rotate merchant key": {"admin", "catalog_manager"},
    "publish catalog": {"admin", "catalog_manager"},
    "get catalog (admin)": set(ROLES),
    "audit": set(ROLES),
}
SUCCESS = {
    "issue card": 201,
    "mint token": 201,
    "register merchant": 201,
    "publish catalog": 201,
}

Headers = dict[str, str]
Call = Callable[[Headers, str], Any]


def bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


class World:
    """Fresh resources made by the national bootstrap admin, one per request that changes
    state, so every cell of the table starts from the same state."""

    def __init__(self, client: Any, admin: Headers) -> None:
        self.client = client
        self.admin = admin
        self.seq = 0

    def ok(self, resp: Any, status: int = 200) -> dict[str, Any]:
        assert resp.status_code == status, resp.text
        data: dict[str, Any] = resp.json()
        return data

    def card(self, region: str, *, suspended: bool = False) -> str:
        self.seq += 1
        body = card_body(self.seq, region=region)
        card = self.ok(self.client.post("/v1/admin/cards", json=body, headers=self.admin), 201)
        if suspended:
            url = f"/v1/admin/cards/{card['card_id']}/suspend"
            self.ok(self.client.post(url, json={"reason": "lost"}, headers=self.admin))
        return str(card["card_id"])

    def token(self, region: str, role: str = "auditor") -> dict[str, Any]:
        body = {"region": region, "role": role}
        return self.ok(self.client.post("/v1/admin/tokens", json=body, headers=self.admin), 201)

    def merchant(self, region: str) -> str:
        self.seq += 1
        body = merchant_body(self.seq, region)
        data = self.ok(self.client.post("/v1/admin/merchants", json=body, headers=self.admin), 201)
        return str(data["merchant_id"])

    def calls(self) -> dict[str, Call]:
        c = self.client
        reason = {"reason": "matrix"}

        def issue(h: Headers, region: str) -> Any:
            self.seq += 1
            return c.post("/v1/admin/cards", json=card_body(self.seq, region=region), headers=h)

        def action(name: str, suspended: bool = False) -> Call:
            def call(h: Headers, region: str) -> Any:
                card = self.card(region, suspended=suspended)
                return c.post(f"/v1/admin/cards/{card}/{name}", json=reason, headers=h)

            return call

        def revoke_token(h: Headers, region: str) -> Any:
            token_id = self.token(region)["token_id"]
            return c.post(f"/v1/admin/tokens/{token_id}/revoke", json=reason, headers=h)

        def register(h: Headers, region: str) -> Any:
            self.seq += 1
            return c.post("/v1/admin/merchants", json=merchant_body(self.seq, region), headers=h)

        def merchant_action(name: str) -> Call:
            def call(h: Headers, region: str) -> Any:
                merchant = self.merchant(region)
                body = reason if name == "deactivate" else None
                return c.post(f"/v1/admin/merchants/{merchant}/{name}", json=body, headers=h)

            return call

        return {
            "issue card": issue,
            "get card": lambda h, r: c.get(f"/v1/admin/cards/{self.card(r)}", headers=h),
            "suspend card": action("suspend"),
            "reinstate card": action("reinstate", suspended=True),
            "revoke card": action("revoke"),
            "mint token": lambda h, r: c.post(
                "/v1/admin/tokens", json={"region": r, "role": "auditor"}, headers=h
            ),
            "revoke token": revoke_token,
            "register merchant": register,
            "get merchant": lambda h, r: c.get(
                f"/v1/admin/merchants/{self.merchant(r)}", headers=h
            ),
            "deactivate merchant": merchant_action("deactivate"),
            "rotate merchant key": merchant_action("rotate-key"),
            "publish catalog": lambda h, r: c.put(
                f"/v1/admin/regions/{r}/catalog", json=catalog_body(), headers=h
            ),
            "get catalog (admin)": lambda h, r: c.get(f"/v1/admin/regions/{r}/catalog", headers=h),
            "audit": lambda h, r: c.get("/v1/admin/audit", params={"region": r}, headers=h),
        }


def merchant_body(seq: int, region: str) -> dict[str, Any]:
    return {
        "name": f"矩阵商户{seq}",
        "region": region,
        "kind": "merchant",
        "categories": ["dining"],
    }


def catalog_body() -> dict[str, Any]:
    return {
        "effective_from": "2026-06-01",
        "benefits": [
            {
                "id": "matrix-1",
                "title": "测试优惠",
                "partner": "合作方",
                "category": "dining",
                "discount": "九折",
                "holder_categories": ["veteran"],
            }
        ],
    }


def test_every_admin_endpoint_for_every_role_inside_and_outside(
    client: Any, admin_headers: Headers
) -> None:
    world = World(client, admin_headers)
    tokens = {role: bearer(world.token(TOKEN_REGION, role)["token"]) for role in ROLES}
    revoked: dict[str, Headers] = {}
    for role in ROLES:
        minted = world.token(TOKEN_REGION, role)
        url = f"/v1/admin/tokens/{minted['token_id']}/revoke"
        world.ok(client.post(url, json={"reason": "left"}, headers=admin_headers))
        revoked[role] = bearer(minted["token"])  # used right after: no grace period

    calls = world.calls()
    assert set(calls) == set(ALLOWED)
    expected: dict[tuple[str, str, str], int] = {}
    actual: dict[tuple[str, str, str], int] = {}
    for (name, call), role, place in itertools.product(calls.items(), ROLES, PLACES):
        allowed = role in ALLOWED[name] and place == "inside"
        expected[(name, role, place)] = SUCCESS.get(name, 200) if allowed else 403
        actual[(name, role, place)] = call(tokens[role], PLACES[place]).status_code
    anonymous = {
        "no token": {},
        "not a bearer": {"Authorization": "Basic abc"},
        "unknown token": bearer("adm_" + "0" * 40),
    }
    for name, call in calls.items():
        for label, headers in [
            *anonymous.items(),
            *(("revoked " + r, h) for r, h in revoked.items()),
        ]:
            expected[(name, label, "inside")] = 401
            actual[(name, label, "inside")] = call(headers, PLACES["inside"]).status_code

    wrong = {k: (expected[k], actual[k]) for k in expected if expected[k] != actual[k]}
    assert not wrong, "\n".join(
        f"{k}: expected {e}, got {a}" for k, (e, a) in sorted(wrong.items())
    )
    assert len(expected) == len(ALLOWED) * (len(ROLES) * len(PLACES) + len(anonymous) + len(ROLES))


def test_only_admins_mint_and_never_outside_their_subtree(
    client: Any, admin_headers: Headers
) -> None:
    world = World(client, admin_headers)
    province = bearer(world.token(TOKEN_REGION, "admin")["token"])
    for role in ROLES:  # an admin may mint any role below it, admin included
        resp = client.post(
            "/v1/admin/tokens", json={"region": "500112", "role": role}, headers=province
        )
        assert resp.status_code == 201, resp.text
        assert resp.json()["role"] == role
    for region in ("000000", "110101"):
        resp = client.post(
            "/v1/admin/tokens", json={"region": region, "role": "auditor"}, headers=province
        )
        assert resp.status_code == 403
    bad = client.post(
        "/v1/admin/tokens", json={"region": "500112", "role": "root"}, headers=province
    )
    assert bad.status_code == 422
    unknown = client.post(
        "/v1/admin/tokens", json={"region": "509999", "role": "auditor"}, headers=province
    )
    assert unknown.status_code == 422


def test_a_revoked_token_is_refused_at_once_and_its_revocation_is_final(
    client: Any, admin_headers: Headers
) -> None:
    world = World(client, admin_headers)
    minted = world.token("500112", "issuer")
    headers = bearer(minted["token"])
    assert client.get("/v1/admin/audit", headers=headers).status_code == 200
    url = f"/v1/admin/tokens/{minted['token_id']}/revoke"
    assert client.post(url, json={"reason": "lost"}, headers=admin_headers).status_code == 200
    assert client.get("/v1/admin/audit", headers=headers).status_code == 401
    assert client.post(url, json={"reason": "again"}, headers=admin_headers).status_code == 409
    assert client.post(url, json={"reason": "self"}, headers=headers).status_code == 401
