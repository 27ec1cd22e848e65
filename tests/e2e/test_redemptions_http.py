"""Redemptions over HTTP on both engines: limits per Asia/Shanghai period, companions, every
refusal in the contract's order, Idempotency-Key, concurrency and the lists."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cardservice.clock import SHANGHAI, FrozenClock
from merchant_api.redeem import Refused
from tests.merchant_support import ADMIN, MerchantEnv, build_env, holder
from tests.redemption_support import (
    LIMITED,
    NATIONAL,
    benefit,
    publish,
    redeem,
    remaining,
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
    return env, merchant, card


def test_verdict_carries_remaining_and_a_redemption_answers_it_exactly(ready: Any) -> None:
    env, merchant, card = ready
    verdict = valid_verdict(env, card["qr"], merchant, "daily")
    assert remaining(verdict, "daily") == 2
    assert remaining(verdict, "free") is None
    first = redeem(env, merchant, verdict["verification_id"], "daily", companions=1)
    assert first.status_code == 201, first.text
    body = first.json()
    assert {"redemption_id", "verification_id", "benefit_id", "companions", "remaining"} <= set(
        body
    )
    assert (body["benefit_id"], body["companions"], body["remaining"]) == ("daily", 1, 1)
    assert body["verification_id"] == verdict["verification_id"]
    assert datetime.fromisoformat(body["redeemed_at"]) == env.clock.now()
    second = valid_verdict(env, card["qr"], merchant, "daily")
    assert redeem(env, merchant, second["verification_id"], "daily").json()["remaining"] == 0
    used_up = wait_remaining(env, card["qr"], merchant, "daily", 0)
    assert any(b["id"] == "daily" for b in used_up["benefits"])  # stays listed with 0
    third = redeem(env, merchant, used_up["verification_id"], "daily")
    assert third.status_code == 409 and third.json()["error"] == "limit_reached"
    # Unlimited benefits redeem without a count.
    free = redeem(env, merchant, used_up["verification_id"], "free")
    assert free.status_code == 201 and free.json()["remaining"] is None


def test_every_refusal(ready: Any) -> None:
    env, merchant, card = ready
    other = env.merchant(name="别家")
    verdict = valid_verdict(env, card["qr"], merchant, "once")
    vid = verdict["verification_id"]
    assert redeem(env, {}, vid, "once").status_code == 401
    assert redeem(env, {"Authorization": "Bearer nope"}, vid, "once").status_code == 401
    for bad in (
        {"verification_id": vid},
        {"verification_id": vid, "benefit_id": "once", "companions": -1},
        {"verification_id": vid, "benefit_id": "once", "companions": 11},
        {"verification_id": vid, "benefit_id": "once", "companions": True},
        {"verification_id": vid, "benefit_id": "once", "companions": "1"},
        {"verification_id": vid, "benefit_id": "on\u200bce"},
        {"verification_id": "x" * 65, "benefit_id": "once"},
        {"verification_id": vid, "benefit_id": "once", "extra": 1},
    ):
        resp = env.client.post("/v1/redemptions", json=bad, headers=merchant)
        assert resp.status_code == 422, (bad, resp.text)
    as_json = {**merchant, "Content-Type": "application/json"}
    not_json = env.client.post("/v1/redemptions", content=b"{", headers=as_json)
    assert not_json.status_code == 422
    as_form = {**merchant, "Content-Type": "application/x-www-form-urlencoded"}
    form = env.client.post("/v1/redemptions", content=b"verification_id=x", headers=as_form)
    assert form.status_code == 415
    huge = env.client.post(
        "/v1/redemptions", content=b'{"a": "' + b"x" * 20_000 + b'"}', headers=merchant
    )
    assert huge.status_code == 413
    unknown = redeem(env, merchant, "00000000-0000-4000-8000-000000000000", "once")
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_verification"
    foreign = redeem(env, other, vid, "once")  # another merchant's verification
    assert foreign.status_code == 404 and foreign.json()["error"] == "unknown_verification"
    absent = redeem(env, merchant, vid, "no-such-benefit")
    assert absent.status_code == 422
    too_many = redeem(env, merchant, vid, "once", companions=1)  # it allows none
    assert too_many.status_code == 422
    assert redeem(env, merchant, vid, "daily", companions=2).status_code == 422
    assert redeem(env, merchant, vid, "once").status_code == 201
    again = redeem(env, merchant, vid, "once")
    assert again.status_code == 409 and again.json()["error"] == "already_redeemed"
    # A refused verdict is this merchant's verification, but it applied no benefit: 422
    # (404 is for a verification that is not the merchant's; once the log holds it).
    env.action(card, "suspend")
    suspended = env.wait_status(card["qr"], merchant, "suspended")
    logged(env, merchant, suspended["verification_id"])
    refused = redeem(env, merchant, suspended["verification_id"], "free")
    assert (refused.status_code, refused.json()["error"]) == (422, "invalid"), refused.text
    env.action(card, "reinstate")
    # A failed redemption recorded nothing.
    assert [i["benefit_id"] for i in listed(env, merchant)] == ["once"]


def logged(env: MerchantEnv, headers: dict[str, str], verification_id: str) -> None:
    """Wait until the merchant's log lists this verification (its writer batches)."""
    for _ in range(500):
        items = env.client.get("/v1/verifications", headers=headers).json()["items"]
        if any(i["verification_id"] == verification_id for i in items):
            return
        threading.Event().wait(0.02)
    raise AssertionError("the verification never reached the log")


@pytest.mark.parametrize(
    ("age", "status"),
    [
        (timedelta(minutes=15), 201),  # not older than 15 minutes: still redeemable
        (timedelta(minutes=15, microseconds=1), 422),
        (timedelta(minutes=15, seconds=1), 422),
    ],
)
def test_a_verification_older_than_15_minutes_is_refused(
    ready: Any, age: timedelta, status: int
) -> None:
    env, merchant, card = ready
    verdict = valid_verdict(env, card["qr"], merchant, "free")
    env.clock.advance(age)
    resp = redeem(env, merchant, verdict["verification_id"], "free")
    assert resp.status_code == status, resp.text
    if status == 422:
        assert resp.json()["error"] == "invalid"
        assert listed(env, merchant) == []
    else:
        assert listed(env, merchant, want=1)[0]["benefit_id"] == "free"


def test_already_redeemed_is_checked_before_limit_reached(ready: Any) -> None:
    env, merchant, card = ready
    verdict = valid_verdict(env, card["qr"], merchant, "monthly")
    assert redeem(env, merchant, verdict["verification_id"], "monthly").status_code == 201
    # Now the month is used up too, yet the same verification is told already_redeemed.
    again = redeem(env, merchant, verdict["verification_id"], "monthly")
    assert again.json()["error"] == "already_redeemed"


def test_idempotency_key_answers_the_first_201_and_refuses_another_body(ready: Any) -> None:
    env, merchant, card = ready
    verdict = valid_verdict(env, card["qr"], merchant, "daily")
    key = {"Idempotency-Key": "redeem-1"}
    first = redeem(env, merchant, verdict["verification_id"], "daily", extra_headers=key)
    assert first.status_code == 201
    replay = redeem(env, merchant, verdict["verification_id"], "daily", extra_headers=key)
    assert (replay.status_code, replay.json()) == (201, first.json())
    other = redeem(env, merchant, verdict["verification_id"], "free", extra_headers=key)
    assert other.status_code == 422
    # Replayed before any other check: even once the verification is too old.
    env.clock.advance(timedelta(minutes=20))
    late = redeem(env, merchant, verdict["verification_id"], "daily", extra_headers=key)
    assert (late.status_code, late.json()) == (201, first.json())
    assert len(listed(env, merchant, want=1)) == 1


def race(api: Any, who: Any, calls: list[tuple[str, str]]) -> list[Any]:
    """Each (verification, benefit) redeemed by its own thread under one Idempotency-Key,
    all released at once: the answers (a body or the refusal's code), in call order."""
    answers: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def attempt(i: int, vid: str, benefit_id: str) -> None:
        body = {"verification_id": vid, "benefit_id": benefit_id, "companions": 0}
        digest = f"{vid}:{benefit_id}"  # what the route derives from the body, per body
        start.wait()
        try:
            answers[i] = api.desk.redeem(who, vid, benefit_id, 0, key="race-key", digest=digest) | {
                "sent": body
            }
        except Refused as exc:
            answers[i] = exc.code

    threads = [
        threading.Thread(target=attempt, args=(i, vid, b)) for i, (vid, b) in enumerate(calls)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return answers


def test_a_retry_racing_its_original_under_one_key_answers_the_first_201(
    env: MerchantEnv,
) -> None:
    """Both requests pass the key check before either saves; the loser's save collides on
    the redemption and finds the key saved with it: the first answer, not 409."""
    publish(env, NATIONAL, LIMITED, "2026-01-01")
    api = env.client.app.state.merchant_api
    for n in range(6):
        headers = env.merchant(name=f"并发{n}")  # a key is scoped per merchant
        who = api.authenticate(headers["Authorization"][7:])
        card = env.issue()
        vid = valid_verdict(env, card["qr"], headers, "daily")["verification_id"]
        first, second = race(api, who, [(vid, "daily"), (vid, "daily")])
        assert isinstance(first, dict) and first == second, (first, second)
        assert first["remaining"] == 1  # counted once
        assert len(listed(env, headers, want=1)) == 1
        # The same key with another body, racing: one 201, the other 422.
        other = env.merchant(name=f"另一并发{n}")
        who = api.authenticate(other["Authorization"][7:])
        vid = valid_verdict(env, card["qr"], other, "free")["verification_id"]
        answers = race(api, who, [(vid, "free"), (vid, "daily")])
        codes = sorted("201" if isinstance(a, dict) else a for a in answers)
        assert codes == ["201", "idempotency_mismatch"], answers
        assert len(listed(env, other, want=1)) == 1


def _at_shanghai(y: int, m: int, d: int, hh: int, mm: int, ss: int) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("benefit_id", "before", "after"),
    [
        # The day turns at Asia/Shanghai midnight (16:00 UTC), not at UTC midnight.
        ("daily", (2026, 6, 1, 23, 59, 59), (2026, 6, 2, 0, 0, 0)),
        ("monthly", (2026, 6, 30, 23, 59, 59), (2026, 7, 1, 0, 0, 0)),
        ("yearly", (2026, 12, 31, 23, 59, 59), (2027, 1, 1, 0, 0, 0)),
    ],
)
def test_limits_reset_at_the_shanghai_period_boundary(
    ready: Any, benefit_id: str, before: tuple[int, ...], after: tuple[int, ...]
) -> None:
    env, merchant, card = ready
    count = next(b["limit"]["count"] for b in LIMITED if b["id"] == benefit_id)
    env.clock.set(_at_shanghai(*before) - timedelta(minutes=1))
    for _ in range(count):
        verdict = valid_verdict(env, card["qr"], merchant, benefit_id)
        assert redeem(env, merchant, verdict["verification_id"], benefit_id).status_code == 201
    env.clock.set(_at_shanghai(*before))
    verdict = valid_verdict(env, card["qr"], merchant, benefit_id)
    refused = redeem(env, merchant, verdict["verification_id"], benefit_id)
    assert refused.json()["error"] == "limit_reached"
    env.clock.set(_at_shanghai(*after))
    verdict = wait_remaining(env, card["qr"], merchant, benefit_id, count)
    assert redeem(env, merchant, verdict["verification_id"], benefit_id).status_code == 201


def test_ever_means_once_for_the_card_whole_life(ready: Any) -> None:
    env, merchant, card = ready
    verdict = valid_verdict(env, card["qr"], merchant, "once")
    assert redeem(env, merchant, verdict["verification_id"], "once").status_code == 201
    env.clock.advance(timedelta(days=400))
    later = valid_verdict(env, card["qr"], merchant, "once")
    assert redeem(env, merchant, later["verification_id"], "once").json()["error"] == (
        "limit_reached"
    )


def test_counters_are_per_card_and_per_publishing_region(env: MerchantEnv) -> None:
    publish(env, NATIONAL, [benefit("meal", limit={"count": 1, "per": "day"})], "2026-01-01")
    merchant = env.merchant()
    a, b = env.issue(), env.issue(name="王建国")
    for card in (a, b):
        verdict = valid_verdict(env, card["qr"], merchant, "meal")
        assert redeem(env, merchant, verdict["verification_id"], "meal").status_code == 201
    # The district republishes "meal" under its own region: a new counter.
    publish(env, "500112", [benefit("meal", limit={"count": 1, "per": "day"})], "2026-01-01")
    verdict = wait_region(env, a["qr"], merchant, "meal", "500112")
    assert remaining(verdict, "meal") == 1
    assert redeem(env, merchant, verdict["verification_id"], "meal").status_code == 201


def wait_region(
    env: MerchantEnv, qr: str, headers: dict[str, str], benefit_id: str, region: str
) -> dict[str, Any]:
    for _ in range(500):
        verdict = valid_verdict(env, qr, headers, benefit_id)
        if any(b["id"] == benefit_id and b["region"] == region for b in verdict["benefits"]):
            return verdict
        threading.Event().wait(0.02)
    raise AssertionError("the district's benefit never reached the verdict")


def test_of_n_simultaneous_redemptions_exactly_the_remaining_succeed(env: MerchantEnv) -> None:
    publish(env, NATIONAL, [benefit("rare", limit={"count": 3, "per": "month"})], "2026-01-01")
    merchants = [env.merchant(name=f"商户{i}") for i in range(4)]
    card = env.issue()
    api = env.client.app.state.merchant_api
    jobs: list[tuple[Any, str]] = []
    for headers in merchants:
        for _ in range(3):
            verdict = valid_verdict(env, card["qr"], headers, "rare")
            jobs.append(
                (api.authenticate(headers["Authorization"][7:]), verdict["verification_id"])
            )
    results: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(len(jobs))

    def attempt(who: Any, vid: str) -> None:
        start.wait()
        try:
            api.desk.redeem(who, vid, "rare", 0)
            outcome = "ok"
        except Refused as exc:
            outcome = exc.code
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=attempt, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == sorted(["ok"] * 3 + ["limit_reached"] * (len(jobs) - 3))
    wait_remaining(env, card["qr"], merchants[0], "rare", 0)


def listed(env: MerchantEnv, headers: dict[str, str], want: int | None = None) -> list[Any]:
    for _ in range(500):
        items: list[Any] = env.client.get("/v1/redemptions", headers=headers).json()["items"]
        if want is None or len(items) >= want:
            return items
        threading.Event().wait(0.02)
    raise AssertionError("redemptions never listed")


def test_lists_newest_first_with_a_cursor_and_the_holder_sees_where(ready: Any) -> None:
    env, merchant, card = ready
    verdict = valid_verdict(env, card["qr"], merchant, "free")
    for benefit_id in ("free", "daily", "once"):
        assert redeem(env, merchant, verdict["verification_id"], benefit_id).status_code == 201
    items = listed(env, merchant, want=3)
    assert [i["benefit_id"] for i in items] == ["once", "daily", "free"]
    page = env.client.get("/v1/redemptions?limit=2", headers=merchant).json()
    assert [i["benefit_id"] for i in page["items"]] == ["once", "daily"]
    rest = env.client.get(f"/v1/redemptions?limit=2&cursor={page['next']}", headers=merchant)
    assert [i["benefit_id"] for i in rest.json()["items"]] == ["free"]
    assert rest.json()["next"] is None
    assert env.client.get("/v1/redemptions?cursor=abc", headers=merchant).status_code == 422
    assert env.client.get("/v1/redemptions").status_code == 401
    mine = env.client.get(f"/v1/cards/{card['card_id']}/redemptions", headers=holder(card))
    assert mine.status_code == 200
    assert {i["merchant"]["name"] for i in mine.json()["items"]} == {"商户1"}
    stranger = env.issue(name="王建国")
    wrong = env.client.get(f"/v1/cards/{card['card_id']}/redemptions", headers=holder(stranger))
    assert wrong.status_code == 401
    # The admin token is not a holder token.
    assert (
        env.client.get(f"/v1/cards/{card['card_id']}/redemptions", headers=ADMIN).status_code == 401
    )


def test_catalog_put_and_get_carry_limit_and_companions(env: MerchantEnv) -> None:
    publish(env, NATIONAL, LIMITED, "2026-01-01")
    for _ in range(500):  # the catalog view lags the PUT
        got = env.client.get(f"/v1/catalog/{NATIONAL}?at=2026-06-01").json()["benefits"]
        if got:
            break
        threading.Event().wait(0.02)
    by_id = {b["id"]: b for b in got}
    assert by_id["daily"]["limit"] == {"count": 2, "per": "day"}
    assert by_id["daily"]["companions"] == 1
    assert (by_id["free"]["limit"], by_id["free"]["companions"]) == (None, 0)
    url = f"/v1/admin/regions/{NATIONAL}/catalog"
    for bad in (
        {"limit": {"count": 0, "per": "day"}},
        {"limit": {"count": 1001, "per": "day"}},
        {"limit": {"count": 1, "per": "week"}},
        {"limit": {"count": "1", "per": "day"}},
        {"limit": {"count": 1}},
        {"limit": {"count": 1, "per": "day", "x": 1}},
        {"limit": 5},
        {"companions": 11},
        {"companions": -1},
        {"companions": 1.5},
    ):
        body = {"effective_from": "2026-07-01", "benefits": [benefit("x", **bad)]}
        resp = env.client.put(url, json=body, headers=ADMIN)
        assert resp.status_code == 422, (bad, resp.text)
