"""Lost acknowledgement: the server commits and answers, but the connection is reset before
the client reads the answer (a TCP proxy in between drops it). The client retries with the
same Idempotency-Key and gets the first answer again; the effect happened exactly once.
Admin writes and the merchant API's redemptions alike.

Real HTTP server, real sockets, SQLite and PostgreSQL; only the clock is fixed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import httpx
import pytest

from cardservice.api import presenters
from cardservice.bootstrap.write import WriteSide
from cardservice.clock import FrozenClock
from tests.factories import card_body
from tests.merchant_support import MerchantEnv
from tests.redemption_support import LIMITED, NATIONAL, publish, valid_verdict
from tests.reliability.support import DroppingProxy, served

CATALOG = {
    "effective_from": "2026-06-01",
    "benefits": [
        {
            "id": "bus",
            "title": "公交免费",
            "partner": "重庆公交",
            "category": "transport",
            "discount": "免费",
            "holder_categories": ["veteran"],
            "local_only": False,
            "merchant_categories": [],
        }
    ],
}


@pytest.fixture
def proxy(services: WriteSide) -> Iterator[DroppingProxy]:
    from cardservice.api.app import create_app

    app = create_app(services, own_services=False)
    with served(app) as url:
        front = DroppingProxy(int(url.rsplit(":", 1)[1]))
        try:
            yield front
        finally:
            front.close()


def send_until_answered(
    proxy: DroppingProxy, method: str, path: str, *, headers: dict[str, str], json: Any
) -> tuple[httpx.Response, int]:
    """What a careful client does: on a transport error, send the same request again."""
    failures = 0
    while True:
        try:
            resp = httpx.request(method, proxy.url + path, headers=headers, json=json, timeout=30)
            return resp, failures
        except httpx.TransportError:
            failures += 1
            assert failures <= 5, "the proxy kept dropping"


def events_of(services: WriteSide, app: str, suffix: str) -> list[Any]:
    application = services.ledger if app == "ledger" else services.catalog
    notes = application.recorder.select_notifications(1, limit=10_000)
    return [n for n in notes if n.topic.endswith(suffix)]


def test_issue_revoke_catalog_merchant_survive_a_lost_reply(
    services: WriteSide, proxy: DroppingProxy, admin_headers: dict[str, str]
) -> None:
    # Issue: the first reply is lost after COMMIT; the retry returns the same card.
    headers = {**admin_headers, "Idempotency-Key": "issue-0001"}
    proxy.drop(1)
    resp, failures = send_until_answered(
        proxy, "POST", "/v1/admin/cards", headers=headers, json=card_body(5)
    )
    assert failures == 1 and len(proxy.dropped) == 1
    assert b" 201 " in proxy.dropped[0].split(b"\r\n")[0]  # the server did answer 201 first
    assert resp.status_code == 201, resp.text
    assert resp.headers.get("Idempotent-Replayed") == "true"
    card = resp.json()
    assert card["card_id"].encode() in proxy.dropped[0]  # the very card of the lost reply
    assert len(events_of(services, "ledger", "Card.Issued")) == 1
    # And with a fresh key the person already holds an active card of that category.
    again = httpx.post(
        proxy.url + "/v1/admin/cards",
        headers={**admin_headers, "Idempotency-Key": "issue-0002"},
        json=card_body(5),
    )
    assert again.status_code == 409, again.text

    # Revoke: lost reply, retried with the same key: 200, one Revoked event, not a 409.
    revoke = f"/v1/admin/cards/{card['card_id']}/revoke"
    headers = {**admin_headers, "Idempotency-Key": "revoke-0001"}
    proxy.drop(1)
    resp, failures = send_until_answered(
        proxy, "POST", revoke, headers=headers, json={"reason": "lost"}
    )
    assert failures == 1 and resp.status_code == 200, resp.text
    assert resp.json()["status"] == "revoked"
    history = presenters.history(services.ledger, UUID(card["card_id"]))
    assert [h["type"] for h in history] == ["Issued", "ActivationCodeIssued", "Revoked"]

    # Catalog version: the retry answers the version made the first time; one version.
    path = "/v1/admin/regions/500000/catalog"
    headers = {**admin_headers, "Idempotency-Key": "catalog-0001"}
    proxy.drop(1)
    resp, failures = send_until_answered(proxy, "PUT", path, headers=headers, json=CATALOG)
    assert failures == 1 and resp.status_code == 201, resp.text
    assert resp.json()["version"] == 1
    assert len(services.catalog.catalog_history("500000")) == 1
    # Same key, different body: refused, nothing recorded.
    changed = {**CATALOG, "effective_from": "2026-07-01"}
    resp = httpx.put(proxy.url + path, headers=headers, json=changed)
    assert resp.status_code == 422
    assert len(services.catalog.catalog_history("500000")) == 1

    # Merchant registration: one merchant however many replies are lost.
    body = {"name": "老兵饭店", "region": "500112", "kind": "merchant", "categories": ["dining"]}
    headers = {**admin_headers, "Idempotency-Key": "merchant-0001"}
    proxy.drop(2)
    resp, failures = send_until_answered(
        proxy, "POST", "/v1/admin/merchants", headers=headers, json=body
    )
    assert failures == 2 and resp.status_code == 201, resp.text
    first_ids = {reply.split(b'"merchant_id":"')[1][:36] for reply in proxy.dropped[-2:]}
    assert first_ids == {resp.json()["merchant_id"].encode()}
    assert len(events_of(services, "catalog", "Merchant.Registered")) == 1


def test_without_a_key_a_lost_reply_is_not_applied_twice_either(
    services: WriteSide, proxy: DroppingProxy, admin_headers: dict[str, str]
) -> None:
    """No Idempotency-Key: the retry cannot return the first answer, but the domain still
    refuses the duplicate (409: one active card per person and category)."""
    proxy.drop(1)
    resp, failures = send_until_answered(
        proxy, "POST", "/v1/admin/cards", headers=admin_headers, json=card_body(9)
    )
    assert failures == 1
    assert resp.status_code == 409, resp.text
    assert len(events_of(services, "ledger", "Card.Issued")) == 1


# -- POST /v1/redemptions (the merchant API, served with the rest) -----------------------
@pytest.fixture
def served_all(services: WriteSide, clock: FrozenClock) -> Iterator[tuple[Any, DroppingProxy]]:
    """The whole service with its projections running, behind a dropping proxy: a client
    straight to the server (set-up) and the proxy (the requests under test)."""
    from cardservice.bootstrap.serve import add_background, served_app

    background = add_background(services)
    services.lifecycle.start()
    app = served_app(services, run_projections=False, own=False)
    with served(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        front = DroppingProxy(int(url.rsplit(":", 1)[1]))
        try:
            yield (
                MerchantEnv(svc=services, client=client, clock=clock, background=background),
                front,
            )
        finally:
            front.close()


def redemption_events(env: MerchantEnv) -> list[Any]:
    app = env.svc.read.merchant_api.desk.app  # the Redemptions application's own store
    notes = app.recorder.select_notifications(1, limit=10_000)
    return [n for n in notes if n.topic.endswith("Redemption.Recorded")]


def test_a_redemption_survives_a_lost_reply(served_all: tuple[MerchantEnv, DroppingProxy]) -> None:
    env, proxy = served_all
    publish(env, NATIONAL, LIMITED, "2026-01-01")
    merchant = env.merchant()
    card = env.issue()
    verdict = valid_verdict(env, card["qr"], merchant, "daily")
    body = {"verification_id": verdict["verification_id"], "benefit_id": "daily"}
    # The first reply is lost after COMMIT; the retry with the same key answers it again.
    headers = {**merchant, "Idempotency-Key": "redeem-lost-0001"}
    proxy.drop(1)
    resp, failures = send_until_answered(
        proxy, "POST", "/v1/redemptions", headers=headers, json=body
    )
    assert failures == 1 and len(proxy.dropped) == 1
    assert b" 201 " in proxy.dropped[0].split(b"\r\n")[0]  # the server did answer 201 first
    assert resp.status_code == 201, resp.text
    assert resp.json()["redemption_id"].encode() in proxy.dropped[0]  # the very same one
    assert resp.json()["remaining"] == 1  # counted once
    assert len(redemption_events(env)) == 1
    # The same key with another body: 422, nothing recorded.
    other = {**body, "benefit_id": "free"}
    changed = httpx.post(proxy.url + "/v1/redemptions", headers=headers, json=other)
    assert changed.status_code == 422 and changed.json()["error"] == "idempotency_mismatch"
    # Without a key the retry cannot answer the first 201, but nothing counts twice.
    proxy.drop(1)
    body = {"verification_id": verdict["verification_id"], "benefit_id": "once"}
    resp, failures = send_until_answered(
        proxy, "POST", "/v1/redemptions", headers=merchant, json=body
    )
    assert failures == 1 and b" 201 " in proxy.dropped[1].split(b"\r\n")[0]
    assert resp.status_code == 409 and resp.json()["error"] == "already_redeemed", resp.text
    assert len(redemption_events(env)) == 2
