"""The console's card search through HTTP on both engines: keyed-hash matching, scoping,
paging, and every refusal (401, 403, 422); erasure removes the hashes."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest

from cardservice.bootstrap.write import WriteSide
from projections.service import runners_for
from tests.factories import card_body, id_number

Headers = dict[str, str]


def catch_up(svc: WriteSide) -> None:
    for runner in runners_for(svc.sources()):
        runner.setup()
        runner.catch_up()


@pytest.fixture(autouse=True)
def views(services: WriteSide) -> None:
    """The views exist before the first request, as `serve` and `migrate` make them."""
    catch_up(services)


def issue(client: Any, headers: Headers, seq: int, **kw: Any) -> dict[str, Any]:
    resp = client.post("/v1/admin/cards", json=card_body(seq, **kw), headers=headers)
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


def mint(client: Any, headers: Headers, role: str, region: str) -> Headers:
    resp = client.post("/v1/admin/tokens", json={"role": role, "region": region}, headers=headers)
    assert resp.status_code == 201, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


def search(client: Any, headers: Headers, **params: str) -> Any:
    return client.get("/v1/admin/cards", params=params, headers=headers)


def numbers(resp: Any) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [item["card_number"] for item in resp.json()["items"]]


def test_find_by_id_number_name_and_card_number(
    client: Any, admin_headers: Headers, services: WriteSide
) -> None:
    a = issue(client, admin_headers, 1, name="张三明")
    b = issue(client, admin_headers, 2, name="李四")
    issue(client, admin_headers, 3, name="张三明", region="110101")
    catch_up(services)
    the_id = id_number(1)
    assert numbers(search(client, admin_headers, id_number=the_id)) == [a["card_number"]]
    lower = the_id[:-1] + the_id[-1].lower()
    assert numbers(search(client, admin_headers, id_number=lower)) == numbers(
        search(client, admin_headers, id_number=the_id)
    )
    assert len(numbers(search(client, admin_headers, name="张三明"))) == 2
    assert numbers(search(client, admin_headers, name=" 李四 ")) == [b["card_number"]]
    assert numbers(search(client, admin_headers, card_number=b["card_number"])) == [
        b["card_number"]
    ]
    assert numbers(search(client, admin_headers, name="张三")) == []  # exact match only
    item = search(client, admin_headers, id_number=the_id).json()["items"][0]
    assert set(item) == {
        "card_id",
        "card_number",
        "status",
        "region",
        "category",
        "masked_name",
        "issued_at",
    }
    assert item["masked_name"] == "张*明" and item["status"] == "active"
    body = search(client, admin_headers, id_number=the_id).text
    assert the_id not in body and the_id[:-1] not in body and "张三明" not in body


def test_name_matches_after_nfc(client: Any, admin_headers: Headers, services: WriteSide) -> None:
    composed = unicodedata.normalize("NFC", "阮氏é")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    card = issue(client, admin_headers, 4, name=decomposed)
    catch_up(services)
    assert numbers(search(client, admin_headers, name=composed)) == [card["card_number"]]


def test_scoped_to_the_callers_subtree(
    client: Any, admin_headers: Headers, services: WriteSide
) -> None:
    inside = issue(client, admin_headers, 1, name="王五", region="500112")
    outside = issue(client, admin_headers, 2, name="王五", region="110101")
    catch_up(services)
    auditor = mint(client, admin_headers, "auditor", "500000")
    assert numbers(search(client, auditor, name="王五")) == [inside["card_number"]]
    assert numbers(search(client, auditor, card_number=outside["card_number"])) == []
    assert numbers(search(client, admin_headers, region="110000")) == [outside["card_number"]]
    assert numbers(search(client, admin_headers, region="500112", name="王五")) == [
        inside["card_number"]
    ]
    assert search(client, auditor, region="110000").status_code == 403
    assert search(client, auditor, region="000000").status_code == 403


def test_status_filter_and_cursor_paging(
    client: Any, admin_headers: Headers, services: WriteSide
) -> None:
    cards = [issue(client, admin_headers, seq) for seq in range(1, 6)]
    resp = client.post(
        f"/v1/admin/cards/{cards[0]['card_id']}/suspend",
        json={"reason": "lost"},
        headers=admin_headers,
    )
    assert resp.status_code == 200
    catch_up(services)
    assert numbers(search(client, admin_headers, status="suspended")) == [cards[0]["card_number"]]
    assert len(numbers(search(client, admin_headers, status="active"))) == 4
    seen: list[str] = []
    params: dict[str, str] = {"limit": "2"}
    while True:
        page = search(client, admin_headers, **params).json()
        seen += [i["card_number"] for i in page["items"]]
        if page["next"] is None:
            break
        params["cursor"] = page["next"]
    assert seen == sorted(c["card_number"] for c in cards)


def test_refusals(client: Any, admin_headers: Headers, services: WriteSide) -> None:
    assert client.get("/v1/admin/cards").status_code == 401
    assert search(client, {"Authorization": "Bearer nope"}).status_code == 401
    bad = [
        {"id_number": "50011219600101001"},  # 17 characters
        {"id_number": id_number(1)[:-1] + "0" if id_number(1)[-1] != "0" else "1"},
        {"id_number": "５" * 18},  # full-width digits
        {"card_number": "123"},
        {"name": "\u202e王五"},
        {"name": "x" * 300},
        {"status": "lost"},
        {"limit": "0"},
        {"limit": "١٠"},
        {"cursor": "!!!"},
        {"region": "999999"},
        {"region": "50011"},
        {"id_number": id_number(1), "name": "王五"},
    ]
    for params in bad:
        resp = search(client, admin_headers, **params)
        assert resp.status_code == 422, (params, resp.text)
        assert resp.headers["content-type"].startswith("application/")


def test_erasure_removes_the_hashes(
    client: Any, admin_headers: Headers, services: WriteSide
) -> None:
    from cardservice.domain.actors import Actor

    card = issue(client, admin_headers, 7, name="赵六")
    catch_up(services)
    assert numbers(search(client, admin_headers, name="赵六")) == [card["card_number"]]
    holder = services.ledger.card(__import__("uuid").UUID(card["card_id"])).holder_id
    services.ledger.erase_holder(holder, "request", Actor.system("test"))
    catch_up(services)
    assert numbers(search(client, admin_headers, name="赵六")) == []
    assert numbers(search(client, admin_headers, id_number=id_number(7))) == []
    with services.db.read() as tx:
        assert tx.all("SELECT * FROM holder_search WHERE holder_id = ?", (str(holder),)) == []
    # a rebuild from the sealed data cannot bring them back: the data key is gone
    assert services.ledger.reindex_holders([holder]) == 0
    # the card itself is still listed by number (revoked), masked
    found = search(client, admin_headers, card_number=card["card_number"]).json()["items"]
    assert [i["status"] for i in found] == ["revoked"]


def test_bulk_import_is_searchable(
    client: Any, admin_headers: Headers, services: WriteSide
) -> None:
    from cardservice.application import IssueCardRequest
    from cardservice.domain.actors import Actor

    national = Actor(kind="admin", id="bootstrap", role="admin", region="000000")
    request = IssueCardRequest(
        name="钱七", id_number=id_number(9), category="veteran", region="500112"
    )
    services.ledger.issue_cards_bulk([request], national)
    catch_up(services)
    assert len(numbers(search(client, admin_headers, name="钱七"))) == 1
    assert len(numbers(search(client, admin_headers, id_number=id_number(9)))) == 1


def test_reindex_restores_hashes_of_holders_not_erased(
    client: Any, admin_headers: Headers, services: WriteSide
) -> None:
    card = issue(client, admin_headers, 8, name="孙九")
    catch_up(services)
    with services.db.transaction() as tx:
        tx.execute("DELETE FROM holder_search")  # as for holders issued before search existed
    assert numbers(search(client, admin_headers, name="孙九")) == []
    assert services.ledger.reindex_all() == 2  # the ID number and the name
    assert numbers(search(client, admin_headers, name="孙九")) == [card["card_number"]]
