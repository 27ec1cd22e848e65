"""Offline redemptions on both engines: recorded past the limit (`over_limit`), judged as of
`redeemed_at`, and a replayed batch records nothing twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cardservice.clock import FrozenClock
from tests.merchant_support import MerchantEnv, build_env, ptp1, resigned
from tests.redemption_support import (
    LIMITED,
    NATIONAL,
    benefit,
    iso,
    publish,
    redeem,
    valid_verdict,
    wait_remaining,
)


@pytest.fixture
def env(backend: str, tmp_path: Path, clock: FrozenClock) -> Iterator[MerchantEnv]:
    yield from build_env(backend, tmp_path, clock)


@pytest.fixture
def ready(env: MerchantEnv) -> tuple[MerchantEnv, dict[str, str], dict[str, Any]]:
    publish(env, NATIONAL, LIMITED, "2026-01-01")
    merchant = env.merchant()
    card = env.issue()
    valid_verdict(env, card["qr"], merchant, "daily")  # the views know card and catalog
    env.clock.advance(timedelta(hours=3))  # offline items may be from before the upload
    return env, merchant, card


def send(env: MerchantEnv, headers: dict[str, str], items: list[dict[str, Any]]) -> Any:
    return env.client.post("/v1/redemptions/offline", json={"items": items}, headers=headers)


def test_offline_past_the_limit_is_recorded_as_over_limit_and_replays_answer_the_same(
    ready: Any,
) -> None:
    env, merchant, card = ready
    earlier = env.clock.now() - timedelta(hours=2)
    items = [
        {
            "qr": card["qr"],
            "benefit_id": "daily",
            "redeemed_at": iso(earlier + timedelta(minutes=i)),
        }
        for i in range(3)
    ]
    items[0]["companions"] = 1
    first = send(env, merchant, items)
    assert first.status_code == 200, first.text
    results = first.json()["results"]
    assert [r["status"] for r in results] == ["recorded", "recorded", "over_limit"]
    assert [r["index"] for r in results] == [0, 1, 2]
    assert all(r["redemption_id"] for r in results)
    replay = send(env, merchant, items)
    assert replay.json() == first.json()
    # The counter counts all three: nothing left online today.
    verdict = wait_remaining(env, card["qr"], merchant, "daily", 0)
    assert redeem(env, merchant, verdict["verification_id"], "daily").json()["error"] == (
        "limit_reached"
    )
    for _ in range(500):
        listed = env.client.get("/v1/redemptions", headers=merchant).json()["items"]
        if len(listed) == 3:
            break
    assert sorted(i["status"] for i in listed) == ["over_limit", "recorded", "recorded"]


def test_each_item_is_judged_as_of_its_redeemed_at(ready: Any) -> None:
    env, merchant, card = ready
    now = env.clock.now()
    revoked = env.issue(name="王建国")
    valid_verdict(env, revoked["qr"], merchant, "free")
    env.action(revoked, "revoke")
    env.wait_status(revoked["qr"], merchant, "revoked")
    bound_card = env.issue(name="赵云")
    bound = env.bind(bound_card)
    env.wait_status(ptp1(bound, env.now()), merchant, "valid")
    items = [
        {"qr": "PTC1:NOT-A-CARD", "benefit_id": "free", "redeemed_at": iso(now)},
        {"qr": resigned(card["qr"]), "benefit_id": "free", "redeemed_at": iso(now)},
        {"qr": card["qr"], "benefit_id": "elsewhere", "redeemed_at": iso(now)},
        {"qr": card["qr"], "benefit_id": "free", "redeemed_at": iso(now + timedelta(hours=1))},
        {"qr": card["qr"], "benefit_id": "free", "redeemed_at": iso(now - timedelta(hours=25))},
        {"qr": revoked["qr"], "benefit_id": "free", "redeemed_at": iso(now)},
        {"qr": card["qr"], "benefit_id": "once", "redeemed_at": iso(now), "companions": 1},
        # A live presentation made 61 s before the stated redemption time.
        {
            "qr": ptp1(bound, env.now() - 61),
            "benefit_id": "free",
            "redeemed_at": iso(now),
        },
        {"qr": ptp1(bound, env.now() - 30), "benefit_id": "free", "redeemed_at": iso(now)},
        {"qr": card["qr"], "benefit_id": "free", "redeemed_at": iso(now - timedelta(hours=2))},
    ]
    results = send(env, merchant, items).json()["results"]
    statuses = [r["status"] for r in results]
    assert statuses == ["refused"] * 8 + ["recorded", "recorded"], results
    assert all(r["reason"] for r in results[:8])
    assert all(r["redemption_id"] is None for r in results[:8])


def test_hostile_batches(ready: Any) -> None:
    env, merchant, card = ready
    item = {"qr": card["qr"], "benefit_id": "free", "redeemed_at": iso(env.clock.now())}
    assert send(env, {}, [item]).status_code == 401
    assert send(env, merchant, [item] * 501).status_code == 422
    for bad in (
        {**item, "redeemed_at": "2026-06-01"},
        {**item, "redeemed_at": "2026-06-01T10:00:00"},  # no offset
        {**item, "redeemed_at": "２026-06-01T10:00:00+08:00"},
        {**item, "redeemed_at": "2026-13-01T10:00:00+08:00"},
        {**item, "redeemed_at": 1780000000},
        {**item, "companions": 11},
        {**item, "benefit_id": ""},
        {**item, "extra": True},
        {"qr": card["qr"], "benefit_id": "free"},
    ):
        resp = send(env, merchant, [bad])
        assert resp.status_code == 422, (bad, resp.text)
    big = env.client.post(
        "/v1/redemptions/offline",
        content=b'{"items": [], "x": "' + b"x" * (1024 * 1024) + b'"}',
        headers=merchant,
    )
    assert big.status_code == 413
    # Just under 1 MiB is read (16 KiB elsewhere): 200 items of a few KiB each.
    fat = [{**item, "qr": card["qr"] + " " * 3000} for _ in range(200)]
    resp = send(env, merchant, fat)
    assert resp.status_code == 200, resp.text[:200]
    assert {r["status"] for r in resp.json()["results"]} == {"recorded"}
    # Same (merchant, card, benefit, redeemed_at): one redemption.
    assert len({r["redemption_id"] for r in resp.json()["results"]}) == 1


def test_offline_items_of_another_merchant_are_their_own(env: MerchantEnv) -> None:
    publish(env, NATIONAL, [benefit("once", limit={"count": 1, "per": "ever"})], "2026-01-01")
    a, b = env.merchant(), env.merchant(name="另一家")
    card = env.issue()
    valid_verdict(env, card["qr"], a, "once")
    env.clock.advance(timedelta(minutes=10))
    item = {"qr": card["qr"], "benefit_id": "once", "redeemed_at": iso(env.clock.now())}
    assert send(env, a, [item]).json()["results"][0]["status"] == "recorded"
    assert send(env, b, [item]).json()["results"][0]["status"] == "over_limit"


# -- the card's status as of `redeemed_at`, from the card history view -------------------
def one(env: MerchantEnv, headers: dict[str, str], item: dict[str, Any]) -> dict[str, Any]:
    resp = send(env, headers, [item])
    assert resp.status_code == 200, resp.text
    result: dict[str, Any] = resp.json()["results"][0]
    return result


def test_a_card_revoked_after_redeemed_at_is_recorded_and_one_revoked_before_refused(
    ready: Any,
) -> None:
    env, merchant, _ = ready
    card = env.issue(name="钱学森")
    granted = env.clock.now()
    valid_verdict(env, card["qr"], merchant, "free")
    env.clock.advance(timedelta(hours=1))
    env.action(card, "revoke")  # an hour after the grant
    env.wait_status(card["qr"], merchant, "revoked")
    before = {"qr": card["qr"], "benefit_id": "free", "redeemed_at": iso(granted)}
    result = one(env, merchant, before)
    assert result["status"] == "recorded" and result["redemption_id"], result
    after = {**before, "redeemed_at": iso(env.clock.now() + timedelta(seconds=1))}
    assert one(env, merchant, after) == {
        "index": 0,
        "redemption_id": None,
        "status": "refused",
        "reason": "revoked",
    }


def test_a_redemption_while_suspended_is_refused_after_reinstatement(ready: Any) -> None:
    env, merchant, card = ready
    env.action(card, "suspend")
    env.wait_status(card["qr"], merchant, "suspended")
    env.clock.advance(timedelta(minutes=10))
    during = env.clock.now()
    env.clock.advance(timedelta(minutes=10))
    env.action(card, "reinstate")
    env.wait_status(card["qr"], merchant, "valid")
    item = {"qr": card["qr"], "benefit_id": "free", "redeemed_at": iso(during)}
    assert one(env, merchant, item) == {
        "index": 0,
        "redemption_id": None,
        "status": "refused",
        "reason": "suspended",
    }
    # After the reinstatement the same card is fine again.
    later = {**item, "redeemed_at": iso(env.clock.now())}
    assert one(env, merchant, later)["status"] == "recorded"


def test_a_code_current_at_redeemed_at_is_recorded_though_reissued_since(ready: Any) -> None:
    env, merchant, card = ready
    shown = env.clock.now()  # the holder showed the static code, offline
    env.clock.advance(timedelta(minutes=30))
    env.bind(card)  # a reissue: version 2, the static code of version 1 is superseded
    env.wait_status(card["qr"], merchant, "superseded")
    item = {"qr": card["qr"], "benefit_id": "free", "redeemed_at": iso(shown)}
    result = one(env, merchant, item)
    assert result["status"] == "recorded" and result["redemption_id"], result
    stale = {**item, "redeemed_at": iso(env.clock.now())}
    assert one(env, merchant, stale) == {
        "index": 0,
        "redemption_id": None,
        "status": "refused",
        "reason": "superseded",
    }
