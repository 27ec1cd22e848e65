"""Appeals over HTTP on both engines: filed by the holder (on its own or about a check of
the card), seen by the bureau of either side with the verdict as decided (replayed with the
catalog as of the check, reasons included), answered once, and the answer a notice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cardservice.clock import FrozenClock
from tests.merchant_support import ADMIN, MerchantEnv, build_env, holder
from tests.waiting import wait

HOLDERS = ["veteran", "martyr_family"]


@pytest.fixture
def env(backend: str, tmp_path: Path, clock: FrozenClock) -> Iterator[MerchantEnv]:
    yield from build_env(backend, tmp_path, clock)


def benefit(id: str, **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": id,
        "title": f"优惠 {id}",
        "partner": "合作方",
        "category": "dining",
        "discount": "九折",
        "holder_categories": HOLDERS,
        "local_only": False,
        "merchant_categories": [],
    }
    data.update(over)
    return data


def publish(env: MerchantEnv, region: str, benefits: list[dict[str, Any]], day: str) -> None:
    body = {"effective_from": day, "benefits": benefits}
    resp = env.client.put(f"/v1/admin/regions/{region}/catalog", json=body, headers=ADMIN)
    assert resp.status_code == 201, resp.text


def mint(env: MerchantEnv, region: str, role: str) -> dict[str, str]:
    resp = env.client.post("/v1/admin/tokens", json={"region": region, "role": role}, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


def file(env: MerchantEnv, card: dict[str, Any], body: dict[str, Any], **headers: str) -> Any:
    return env.client.post(
        f"/v1/cards/{card['card_id']}/appeals", json=body, headers={**holder(card), **headers}
    )


def appeals(env: MerchantEnv, card: dict[str, Any]) -> list[dict[str, Any]]:
    resp = env.client.get(f"/v1/cards/{card['card_id']}/appeals", headers=holder(card))
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


def admin_list(env: MerchantEnv, headers: dict[str, str], **params: str) -> Any:
    return env.client.get("/v1/admin/appeals", params=params, headers=headers)


def checked(env: MerchantEnv, card: dict[str, Any], shop: dict[str, str]) -> dict[str, Any]:
    verdict = env.wait_status(card["qr"], shop, "valid")
    vid = verdict["verification_id"]

    def logged() -> bool:
        resp = env.client.get(f"/v1/cards/{card['card_id']}/verifications", headers=holder(card))
        return resp.status_code == 200 and any(
            i.get("verification_id") == vid for i in resp.json()["items"]
        )

    wait(logged, "the check in the holder's log")
    return verdict


def test_a_holder_appeals_a_check_and_the_merchants_bureau_answers(env: MerchantEnv) -> None:
    # Beijing publishes a local-only benefit; Yubei's holder is refused it at a Beijing shop.
    publish(
        env,
        "110000",
        [benefit("bj-local", local_only=True), benefit("bj-all", discount="八折")],
        "2026-05-01",
    )
    card = env.issue()
    shop = env.merchant(region="110105", categories=["dining"])
    verdict = wait(
        lambda: (v := checked(env, card, shop))["not_applicable"] and v, "benefits in the verdict"
    )
    assert [b["id"] for b in verdict["benefits"]] == ["bj-all"]

    # The catalog changes after the check: the appeal keeps the verdict as decided.
    env.clock.advance(timedelta(hours=1))
    publish(env, "110000", [benefit("bj-new")], "2026-06-01")
    resp = file(
        env,
        card,
        {"text": "景区说外地证不能用，\n请核实。", "verification_id": verdict["verification_id"]},
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["status"] == "open"
    appeal_id = resp.json()["appeal_id"]

    mine = wait(lambda: appeals(env, card), "the holder's appeal")
    assert mine[0]["appeal_id"] == appeal_id and mine[0]["answer"] is None
    assert mine[0]["text"] == "景区说外地证不能用，\n请核实。"
    decided = mine[0]["verification"]
    assert decided["status"] == "valid" and decided["merchant_region"] == "110105"
    assert [b["id"] for b in decided["benefits"]] == ["bj-all"]
    assert [(n["id"], n["reason"]) for n in decided["not_applicable"]] == [
        ("bj-local", "local_only")
    ]
    assert decided["catalog_version"] == verdict["catalog_version"]

    # Either side's bureau sees it; an unrelated one does not.
    beijing = mint(env, "110000", "issuer")
    yubei = mint(env, "500112", "auditor")
    shanghai = mint(env, "310000", "admin")
    for headers in (ADMIN, beijing, yubei):
        listed = admin_list(env, headers).json()["items"]
        assert [a["appeal_id"] for a in listed] == [appeal_id]
        assert listed[0]["verification"]["not_applicable"][0]["reason"] == "local_only"
    assert admin_list(env, shanghai).json()["items"] == []
    assert admin_list(env, ADMIN, region="500000").json()["items"][0]["appeal_id"] == appeal_id
    assert admin_list(env, ADMIN, region="440000").json()["items"] == []
    assert admin_list(env, ADMIN, status="answered").json()["items"] == []
    assert admin_list(env, beijing, region="500000").status_code == 403
    assert admin_list(env, ADMIN, region="999999").status_code == 422
    assert admin_list(env, ADMIN, status="closed").status_code == 422
    assert admin_list(env, ADMIN, cursor="!!").status_code == 422

    answer = {"outcome": "upheld", "reply": "已联系景区，外地证可享受通用优惠。"}
    path = f"/v1/admin/appeals/{appeal_id}/answer"
    assert env.client.post(path, json=answer, headers=yubei).status_code == 403  # auditor
    assert env.client.post(path, json=answer, headers=shanghai).status_code == 403
    assert (
        env.client.post(path, json={"outcome": "maybe", "reply": "x"}, headers=beijing).status_code
        == 422
    )
    assert (
        env.client.post(path, json={"outcome": "upheld", "reply": ""}, headers=beijing).status_code
        == 422
    )
    done = env.client.post(path, json=answer, headers=beijing)
    assert done.status_code == 200, done.text
    assert done.json()["answer"]["outcome"] == "upheld"
    again = env.client.post(path, json={"outcome": "rejected", "reply": "再答"}, headers=ADMIN)
    assert again.status_code == 409 and again.json()["error"] == "already_answered"

    def answered_notice() -> Any:
        resp = env.client.get(f"/v1/cards/{card['card_id']}/notices", headers=holder(card))
        return [n for n in resp.json()["items"] if n["kind"] == "appeal_answered"]

    notice = wait(answered_notice, "the appeal_answered notice")
    assert "申诉成立" in notice[0]["message"]
    got = wait(lambda: appeals(env, card)[0]["status"] == "answered" and appeals(env, card), "x")
    assert got[0]["answer"]["reply"] == answer["reply"]
    assert admin_list(env, ADMIN, status="open").json()["items"] == []


def test_appeal_refusals(env: MerchantEnv) -> None:
    card, other = env.issue(), env.issue()
    shop = env.merchant()
    foreign = checked(env, other, shop)
    assert (
        file(env, card, {"text": "x", "verification_id": foreign["verification_id"]}).status_code
        == 422
    )
    assert file(env, card, {"text": "x", "verification_id": "no-such-check"}).status_code == 422
    for bad in (
        {"text": ""},
        {"text": "   "},
        {"text": "长" * 1001},
        {"text": "a\u202eb"},
        {"text": "a\x00b"},
        {"text": 5},
        {"text": "x", "extra": 1},
        {},
    ):
        resp = file(env, card, bad)
        assert resp.status_code == 422, (bad, resp.text)
    assert file(env, card, {"text": "长" * 1000}).status_code == 201
    path = f"/v1/cards/{card['card_id']}/appeals"
    assert env.client.post(path, json={"text": "x"}).status_code == 401
    assert env.client.post(path, json={"text": "x"}, headers=holder(other)).status_code == 401
    assert env.client.get(path, headers=holder(other)).status_code == 401
    assert env.client.get("/v1/admin/appeals").status_code == 401
    unknown = "/v1/admin/appeals/00000000-0000-4000-8000-000000000000/answer"
    body = {"outcome": "rejected", "reply": "x"}
    assert env.client.post(unknown, json=body, headers=ADMIN).status_code == 404
    assert (
        env.client.post("/v1/admin/appeals/nope/answer", json=body, headers=ADMIN).status_code
        == 404
    )

    # A retried filing (same Idempotency-Key) is one appeal.
    first = file(env, other, {"text": "重复"}, **{"Idempotency-Key": "k1"})
    second = file(env, other, {"text": "重复"}, **{"Idempotency-Key": "k1"})
    assert first.status_code == second.status_code == 201
    assert first.json()["appeal_id"] == second.json()["appeal_id"]
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    changed = file(env, other, {"text": "另一件事"}, **{"Idempotency-Key": "k1"})
    assert changed.status_code == 422, changed.text
    assert wait(lambda: len(appeals(env, other)) == 1, "one appeal")
