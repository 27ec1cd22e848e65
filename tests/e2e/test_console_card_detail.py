"""What the console's card detail reads, on both engines: the card's notices (as in the
holder's inbox) and its appeals through the queue's `card` filter, scoped to the subtree."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cardservice.bootstrap.write import WriteSide
from cardservice.clock import FrozenClock
from tests.e2e.test_console_search import catch_up, mint, views
from tests.factories import issue_and_activate

Headers = dict[str, str]
__all__ = ["views"]
UNKNOWN = "00000000-0000-0000-0000-000000000000"


def holder(card: dict[str, Any]) -> Headers:
    return {"Authorization": f"Bearer {card['holder_token']}"}


def test_card_notices_for_the_bureau(
    client: Any, admin_headers: Headers, services: WriteSide
) -> None:
    card = issue_and_activate(client, admin_headers, 1)
    url = f"/v1/admin/cards/{card['card_id']}/suspend"
    assert client.post(url, json={"reason": "核查中"}, headers=admin_headers).status_code == 200
    catch_up(services)
    path = f"/v1/admin/cards/{card['card_id']}/notices"
    auditor = mint(client, admin_headers, "auditor", "500100")
    resp = client.get(path, headers=auditor)
    assert resp.status_code == 200, resp.text
    mine = client.get(f"/v1/cards/{card['card_id']}/notices", headers=holder(card)).json()
    assert resp.json() == mine and mine["items"][0]["kind"] == "suspended"
    assert set(mine["items"][0]) == {"id", "at", "kind", "message", "message_en"}
    assert client.get(path).status_code == 401
    outsider = mint(client, admin_headers, "auditor", "110000")
    assert client.get(path, headers=outsider).status_code == 403
    for unknown in (UNKNOWN, "nope"):
        got = client.get(f"/v1/admin/cards/{unknown}/notices", headers=admin_headers)
        assert got.status_code == 404 and got.json()["error"] == "not_found"


def test_appeals_of_one_card(
    client: Any, admin_headers: Headers, services: WriteSide, clock: FrozenClock
) -> None:
    one = issue_and_activate(client, admin_headers, 1)
    two = issue_and_activate(client, admin_headers, 2)
    for card, text in ((one, "第一次申诉"), (one, "第二次申诉"), (two, "另一张卡")):
        resp = client.post(
            f"/v1/cards/{card['card_id']}/appeals", json={"text": text}, headers=holder(card)
        )
        assert resp.status_code == 201, resp.text
        clock.advance(timedelta(minutes=1))
    catch_up(services)

    def of(card_id: str, headers: Headers, **params: Any) -> Any:
        return client.get("/v1/admin/appeals", params={"card": card_id, **params}, headers=headers)

    got = of(one["card_id"], admin_headers).json()
    assert [a["text"] for a in got["items"]] == ["第二次申诉", "第一次申诉"]
    assert {a["card_id"] for a in got["items"]} == {one["card_id"]}
    page = of(one["card_id"], admin_headers, limit=1).json()
    assert len(page["items"]) == 1 and page["next"]
    rest = of(one["card_id"], admin_headers, limit=1, cursor=page["next"]).json()
    assert [a["text"] for a in rest["items"]] == ["第一次申诉"] and rest["next"] is None
    assert of(one["card_id"], admin_headers, status="answered").json()["items"] == []
    assert of(UNKNOWN, admin_headers).json() == {"items": [], "next": None}
    outsider = mint(client, admin_headers, "auditor", "110000")
    assert of(one["card_id"], outsider).json()["items"] == []  # scoped to the subtree
    bad = of("nope", admin_headers)
    assert bad.status_code == 422 and bad.json()["error"] == "invalid"
