"""Every console endpoint x every role x inside/outside the token's subtree, on both
engines, against a table written out here (not derived from the code's PERMISSIONS)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

from cardservice.bootstrap.write import WriteSide
from tests.e2e.test_console_search import catch_up, views
from tests.factories import card_body, id_number

__all__ = ["views"]

ROLES = ("admin", "issuer", "catalog_manager", "auditor")
TOKEN_REGION = "500000"
PLACES = {"inside": "500112", "outside": "110101", "above": "000000"}
EVERYONE = set(ROLES)
ALLOWED: dict[str, set[str]] = {
    "search cards": EVERYONE,
    "list merchants": EVERYONE,
    "edit merchant": {"admin", "catalog_manager"},
    "list tokens": EVERYONE,
    "import progress": EVERYONE,
    "import rejects": EVERYONE,
    "card notices": EVERYONE,
}
Headers = dict[str, str]
Call = Callable[[Headers, str], Any]


def bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


def mint(client: Any, admin: Headers, role: str, region: str) -> str:
    resp = client.post("/v1/admin/tokens", json={"role": role, "region": region}, headers=admin)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["token"])


def calls(client: Any, admin: Headers) -> dict[str, Call]:
    seq = iter(range(10_000))
    imports: dict[str, str] = {}

    def merchant(region: str) -> str:
        body = {"name": f"矩阵{next(seq)}", "region": region, "kind": "merchant"}
        resp = client.post("/v1/admin/merchants", json=body, headers=admin)
        assert resp.status_code == 201, resp.text
        return str(resp.json()["merchant_id"])

    def card(region: str) -> str:
        body = card_body(next(seq), region=region)
        resp = client.post("/v1/admin/cards", json=body, headers=admin)
        assert resp.status_code == 201, resp.text
        return str(resp.json()["card_id"])

    def import_in(region: str) -> str:
        """An import sent by an admin of `region` (an import belongs to its sender's)."""
        if region not in imports:
            sender = bearer(mint(client, admin, "admin", region))
            text = f"name,id_number,category,region\n王五,{id_number(1)},veteran,999999\n"
            resp = client.post(
                "/v1/admin/imports",
                content=text.encode(),
                headers={**sender, "Content-Type": "text/csv"},
            )
            assert resp.status_code == 202, resp.text
            imports[region] = resp.json()["import_id"]
            deadline = time.monotonic() + 20
            while (
                client.get(f"/v1/admin/imports/{imports[region]}", headers=admin).json()["status"]
                == "running"
            ):
                assert time.monotonic() < deadline
                time.sleep(0.05)
        return imports[region]

    return {
        "search cards": lambda h, r: client.get("/v1/admin/cards", params={"region": r}, headers=h),
        "list merchants": lambda h, r: client.get(
            "/v1/admin/merchants", params={"region": r}, headers=h
        ),
        "edit merchant": lambda h, r: client.patch(
            f"/v1/admin/merchants/{merchant(r)}", json={"name": "改名"}, headers=h
        ),
        "list tokens": lambda h, r: client.get("/v1/admin/tokens", params={"region": r}, headers=h),
        "import progress": lambda h, r: client.get(f"/v1/admin/imports/{import_in(r)}", headers=h),
        "import rejects": lambda h, r: client.get(
            f"/v1/admin/imports/{import_in(r)}/rejects.csv", headers=h
        ),
        "card notices": lambda h, r: client.get(f"/v1/admin/cards/{card(r)}/notices", headers=h),
    }


def test_every_console_endpoint_for_every_role_inside_and_outside(
    client: Any, admin_headers: Headers, services: WriteSide
) -> None:
    tokens = {role: bearer(mint(client, admin_headers, role, TOKEN_REGION)) for role in ROLES}
    minted = client.post(
        "/v1/admin/tokens", json={"role": "admin", "region": TOKEN_REGION}, headers=admin_headers
    ).json()
    revoked = minted["token"]
    resp = client.post(
        f"/v1/admin/tokens/{minted['token_id']}/revoke", json={"reason": "x"}, headers=admin_headers
    )
    assert resp.status_code == 200
    catch_up(services)
    endpoints = calls(client, admin_headers)
    assert set(endpoints) == set(ALLOWED)
    expected: dict[tuple[str, str, str], int] = {}
    actual: dict[tuple[str, str, str], int] = {}
    for (name, call), role, place in itertools.product(endpoints.items(), ROLES, PLACES):
        allowed = role in ALLOWED[name] and place == "inside"
        expected[(name, role, place)] = 200 if allowed else 403
        actual[(name, role, place)] = call(tokens[role], PLACES[place]).status_code
    for name, call in endpoints.items():
        for label, headers in (
            ("no token", {}),
            ("unknown token", bearer("adm_" + "0" * 40)),
            ("revoked token", bearer(revoked)),
        ):
            expected[(name, label, "inside")] = 401
            actual[(name, label, "inside")] = call(headers, PLACES["inside"]).status_code
    wrong = {k: (expected[k], actual[k]) for k in expected if expected[k] != actual[k]}
    assert not wrong, "\n".join(
        f"{k}: expected {e}, got {a}" for k, (e, a) in sorted(wrong.items())
    )


def test_only_issuers_and_admins_import(client: Any, admin_headers: Headers) -> None:
    text = f"name,id_number,category,region\n王五,{id_number(2)},veteran,500112\n".encode()
    for role in ROLES:
        headers = {
            **bearer(mint(client, admin_headers, role, TOKEN_REGION)),
            "Content-Type": "text/csv",
        }
        status = client.post("/v1/admin/imports", content=text, headers=headers).status_code
        assert status == (202 if role in ("admin", "issuer") else 403), role
