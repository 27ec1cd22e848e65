"""Holder notices on both engines: the inbox folded from card events, newest first, and
its delivery through the transactional outbox to a real local HTTP receiver that refuses
at first, across a restart of the whole service."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cardservice.bootstrap.write import WriteSide
from cardservice.clock import FrozenClock
from cardservice.outbox import NoticeDelivery, backlog, pending
from projections.service import ProjectionService
from tests.conftest import make_settings
from tests.factories import activated
from tests.merchant_support import ADMIN, MerchantEnv, build_env, holder
from tests.notify_support import Receiver
from tests.waiting import wait


@pytest.fixture
def env(backend: str, tmp_path: Path, clock: FrozenClock) -> Iterator[MerchantEnv]:
    yield from build_env(backend, tmp_path, clock)


def inbox(env: MerchantEnv, card: dict[str, Any]) -> list[dict[str, Any]]:
    resp = env.client.get(f"/v1/cards/{card['card_id']}/notices", headers=holder(card))
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


def test_inbox_has_every_status_change_newest_first(env: MerchantEnv) -> None:
    card = env.issue()
    assert inbox(env, card) == []  # issuance itself is no notice
    env.action(card, "suspend")
    env.clock.advance(timedelta(minutes=1))
    env.action(card, "reinstate")
    env.clock.advance(timedelta(minutes=1))
    resp = env.client.post(
        f"/v1/admin/cards/{card['card_id']}/activation", json={"reason": "新手机"}, headers=ADMIN
    )
    assert resp.status_code == 201, resp.text
    env.clock.advance(timedelta(minutes=1))
    env.action(card, "revoke")
    items = wait(lambda: len(inbox(env, card)) == 4 and inbox(env, card), "four notices")
    assert [i["kind"] for i in items] == ["revoked", "activation_code", "reinstated", "suspended"]
    suspended = items[3]
    assert (
        suspended["message"].startswith("您的优待证已被暂停使用") and "test" in suspended["message"]
    )
    assert items[3]["message_en"].startswith("Your card has been suspended")
    assert all(i["at"].endswith("+00:00") for i in items)
    assert len({i["id"] for i in items}) == 4
    # The code itself is never in a notice.
    assert not any(card["activation_code"].replace("-", "") in i["message"] for i in items)


def test_inbox_refuses_other_cards_tokens(env: MerchantEnv) -> None:
    mine, other = env.issue(), env.issue()
    path = f"/v1/cards/{mine['card_id']}/notices"
    assert env.client.get(path).status_code == 401
    assert env.client.get(path, headers=holder(other)).status_code == 401
    assert env.client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert env.client.get("/v1/cards/not-a-uuid/notices", headers=holder(mine)).status_code == 401


def test_expiring_appears_thirty_days_before_expiry(env: MerchantEnv) -> None:
    card = env.issue(valid_years=1)
    view = env.client.get(f"/v1/admin/cards/{card['card_id']}", headers=ADMIN).json()
    expires_on = view["expires"]
    env.clock.advance(timedelta(days=365 - 31))
    assert [i["kind"] for i in inbox(env, card)] == []
    env.clock.advance(timedelta(days=2))
    items = inbox(env, card)
    assert [i["kind"] for i in items] == ["expiring"]
    assert expires_on in items[0]["message"] and expires_on in items[0]["message_en"]
    assert items[0]["id"] == inbox(env, card)[0]["id"]  # stable


def test_notices_reach_a_gateway_that_fails_at_first(env: MerchantEnv) -> None:
    receiver = Receiver(lambda n, body, key: 503 if n <= 3 else 200).start()
    try:
        body = {
            "holder": {
                "name": "王五一",
                "id_number": _id(77),
                "category": "veteran",
                "phone": "13800138000",
            },
            "region": "500112",
        }
        resp = env.client.post("/v1/admin/cards", json=body, headers=ADMIN)
        assert resp.status_code == 201, resp.text
        card = activated(env.client, resp.json())
        env.action(card, "suspend")
        env.action(card, "reinstate")
        wait(lambda: len(inbox(env, card)) == 2, "two notices")
        assert backlog(env.svc)["pending"] == 2
        delivery = NoticeDelivery(env.svc, url=receiver.url, poll_seconds=0.01)
        delivery.base, delivery.cap = 0.02, 0.1
        delivery.start()
        try:
            wait(lambda: len(receiver.delivered_keys()) == 2, "two deliveries")
        finally:
            delivery.stop()
        assert len(receiver.requests) >= 5  # three refusals, then both
        ids = {i["id"] for i in inbox(env, card)}
        assert set(receiver.delivered_keys()) == ids
        for key, sent, _ in receiver.requests:
            assert sent["notice_id"] == key
            assert set(sent) == {
                "notice_id",
                "card_id",
                "kind",
                "at",
                "message",
                "message_en",
                "phone",
            }
            assert sent["card_id"] == card["card_id"] and sent["phone"] == "13800138000"
        assert pending(env.svc) == 0
        assert backlog(env.svc) == {
            "pending": 0,
            "oldest_seconds": None,
            "max_attempts": 0,
            "failed": 0,
        }
    finally:
        receiver.stop()


def _id(seq: int) -> str:
    from tests.factories import id_number

    return id_number(seq)


def test_delivery_survives_a_restart(backend: str, tmp_path: Path, clock: FrozenClock) -> None:
    receiver = Receiver(lambda n, body, key: 503).start()  # down for the first process
    settings, schema = make_settings(
        backend,
        tmp_path,
        notify_url=receiver.url,
        notify_backoff_seconds=0.02,
        notify_backoff_max_seconds=0.05,
    )
    try:
        svc = WriteSide.build(settings, clock)
        projections = ProjectionService(svc.sources())
        projections.start()
        delivery = NoticeDelivery(svc, poll_seconds=0.01)
        delivery.start()
        from cardservice.application import IssueCardRequest
        from cardservice.domain.actors import Actor

        actor = Actor(kind="admin", id="test", role="admin", region="000000")
        issued = svc.ledger.issue_card(
            IssueCardRequest(name="赵六一", id_number=_id(5), category="veteran", region="500112"),
            actor,
        )
        svc.ledger.change_status(issued.card.id, "suspend", "核查", actor)
        wait(lambda: len(receiver.requests) >= 2, "refused attempts")
        delivery.stop()
        projections.stop()
        svc.close()
        assert receiver.delivered_keys() == []

        receiver.behaviour = lambda n, body, key: 200
        svc = WriteSide.build(settings, clock)
        delivery = NoticeDelivery(svc, poll_seconds=0.01)
        delivery.start()
        try:
            wait(lambda: len(receiver.delivered_keys()) == 1, "delivery after the restart")
        finally:
            delivery.stop()
            svc.close()
        assert receiver.requests[-1][1]["kind"] == "suspended"
    finally:
        receiver.stop()
        if schema is not None:
            schema.drop()


def test_a_rebuilt_inbox_sends_nothing_twice(env: MerchantEnv) -> None:
    from projections.notices import NoticesView
    from projections.service import rebuild

    receiver = Receiver().start()
    try:
        card = env.issue()
        env.action(card, "suspend")
        before = wait(lambda: inbox(env, card), "a notice")
        delivery = NoticeDelivery(env.svc, url=receiver.url, poll_seconds=0.01)
        delivery.start()
        try:
            wait(lambda: len(receiver.requests) == 1, "one delivery")
            rebuild(env.svc.sources(), NoticesView())
            assert inbox(env, card) == before
            time.sleep(0.3)
        finally:
            delivery.stop()
        assert len(receiver.requests) == 1 and pending(env.svc) == 0
    finally:
        receiver.stop()


def test_expiring_notices_are_queued_once(env: MerchantEnv) -> None:
    card = env.issue(valid_years=1)
    wait(lambda: env.client.get(f"/v1/admin/cards/{card['card_id']}", headers=ADMIN), "card")
    env.clock.advance(timedelta(days=365 - 10))
    receiver = Receiver().start()
    try:
        delivery = NoticeDelivery(env.svc, url=receiver.url, poll_seconds=0.01)
        wait(lambda: delivery.sweep_expiring() == 1, "the card in the status view")
        assert delivery.sweep_expiring() == 1  # queued again: the same id, nothing new
        delivery.start()
        try:
            wait(lambda: len(receiver.requests) == 1, "the expiring notice")
        finally:
            delivery.stop()
        key, body, _ = receiver.requests[0]
        assert body["kind"] == "expiring" and key == inbox(env, card)[0]["id"]
    finally:
        receiver.stop()
