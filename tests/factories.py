"""Valid test inputs: real-format resident ID numbers and card bodies."""

from __future__ import annotations

from typing import Any

from cardservice.domain.identity import mod11_2_check


def id_number(seq: int, region: str = "500112", born: str = "19600101") -> str:
    body = f"{region}{born}{seq % 1000:03d}"
    return body + mod11_2_check(body)


def card_body(
    seq: int = 1,
    *,
    name: str = "张三明",
    category: str = "veteran",
    region: str = "500112",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "holder": {"name": name, "id_number": id_number(seq), "category": category},
        "region": region,
    }
    body.update(extra)
    return body


def activated(client: Any, issued: dict[str, Any], **headers: str) -> dict[str, Any]:
    """The issuance answer plus the `holder_token` of a phone that redeemed its code.

    Issuance hands out no holder token: a phone gets one only through `/v1/activate`, as
    a real holder's would. `client` is any HTTP client with `post` (TestClient, httpx)."""
    resp = client.post("/v1/activate", json={"code": issued["activation_code"]}, headers=headers)
    assert resp.status_code == 200, resp.text
    return {**issued, "holder_token": resp.json()["holder_token"]}


def issue_and_activate(
    client: Any, admin: dict[str, str], seq: int = 1, **kw: Any
) -> dict[str, Any]:
    """Issue a card (`card_body(seq, **kw)`) and activate it on a phone."""
    resp = client.post("/v1/admin/cards", json=card_body(seq, **kw), headers=admin)
    assert resp.status_code == 201, resp.text
    return activated(client, resp.json())
