"""Regional catalogs end to end through HTTP on SQLite and PostgreSQL: national + province +
district catalogs decide what a local and an out-of-region card get at the same district
scenic site (with reasons), a version scheduled for next month changes nothing today and
everything then, bad input publishes nothing, retries are idempotent, and the audit trail
answers by card, region, actor and time.

The admin API writes; the projections run in-process; `/v1/catalog`, `/v1/verify` and the
audit read views that lag writes slightly, so those reads poll.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cardservice.clock import FrozenClock
from tests.factories import card_body
from tests.merchant_support import ADMIN, DEADLINE_SECONDS, MerchantEnv, build_env

ALL_HOLDERS = [
    "veteran",
    "martyr_family",
    "duty_death_family",
    "illness_death_family",
    "disabled_veteran",
    "active_family",
]
DISTRICT, PROVINCE, NATION = "500112", "500000", "000000"  # 渝北区, 重庆市, 全国
ELSEWHERE = "110101"  # 北京市东城区
NEXT_MONTH = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)  # 10:00 on 1 July in Shanghai


def benefit(id: str, category: str = "scenic", **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": id,
        "title": f"优惠 {id}",
        "partner": "合作方",
        "category": category,
        "discount": "免门票",
        "holder_categories": ALL_HOLDERS,
        "local_only": False,
        "merchant_categories": [],
    }
    data.update(over)
    return data


NATIONAL_V1 = {
    "effective_from": "2026-05-01",
    "benefits": [
        benefit("cn-scenic", min_a_level=3, discount="A级景区门票半价"),
        benefit("cn-5a", min_a_level=5),
        benefit("cn-fuel", "transport", merchant_categories=["fuel"], discount="加油九折"),
        benefit("cn-old", "other"),
    ],
}
PROVINCE_V1 = {
    "effective_from": "2026-05-01",
    "benefits": [benefit("cq-parks", local_only=True, holder_categories=["veteran"])],
}
DISTRICT_V1 = {
    "effective_from": "2026-05-15",
    "benefits": [
        benefit("cn-scenic", discount="渝北区A级景区免门票"),  # overrides the national one
        benefit("yb-temple", local_only=True, holder_categories=["martyr_family"]),
        benefit("yb-all", discount="导览九折"),
    ],
    "withdrawn": ["cn-old"],
}
DISTRICT_V2 = {
    "effective_from": "2026-07-01",
    "benefits": [
        benefit("cn-scenic", discount="渝北区A级景区免门票"),
        benefit("yb-all", discount="导览八折"),
        benefit("yb-new", "dining", discount="景区餐厅九折"),
    ],
    "withdrawn": ["cn-old"],
}


@pytest.fixture
def env(backend: str, tmp_path: Path, clock: FrozenClock) -> Iterator[MerchantEnv]:
    yield from build_env(backend, tmp_path, clock)


def poll(read: Callable[[], Any], done: Callable[[Any], bool]) -> Any:
    """Read until `done` (the views lag writes slightly)."""
    end = time.monotonic() + DEADLINE_SECONDS
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < end, f"gave up waiting; last: {value}"
        time.sleep(0.02)


def publish(env: MerchantEnv, region: str, body: dict[str, Any], **headers: str) -> int:
    resp = env.client.put(
        f"/v1/admin/regions/{region}/catalog", json=body, headers={**ADMIN, **headers}
    )
    assert resp.status_code == 201, resp.text
    data = resp.json()
    assert data["region"] == region and data["effective_from"] == body["effective_from"]
    version: int = data["version"]
    return version


def versions(env: MerchantEnv, region: str) -> list[dict[str, Any]]:
    resp = env.client.get(f"/v1/catalog/{region}/versions")
    assert resp.status_code == 200, resp.text
    found: list[dict[str, Any]] = resp.json()["versions"]
    return found


def wait_versions(env: MerchantEnv, region: str, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = poll(lambda: versions(env, region), lambda v: len(v) >= count)
    return found


def catalog(env: MerchantEnv, region: str, **params: str) -> dict[str, Any]:
    resp = env.client.get(f"/v1/catalog/{region}", params=params)
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


def publish_all(env: MerchantEnv) -> None:
    publish(env, NATION, NATIONAL_V1)
    publish(env, PROVINCE, PROVINCE_V1)
    publish(env, DISTRICT, DISTRICT_V1)
    wait_versions(env, DISTRICT, 1)


def scenic_site(env: MerchantEnv) -> dict[str, str]:
    return env.merchant(
        name="渝北某4A景区", region=DISTRICT, kind="scenic_site", categories=["scenic"], a_level=4
    )


def verdict_when(
    env: MerchantEnv, qr: str, key: dict[str, str], done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """A valid verdict once `done` holds (the merchant API caches the catalog briefly)."""
    verdict: dict[str, Any] = poll(
        lambda: env.verify(qr, key).json(), lambda v: v["status"] == "valid" and done(v)
    )
    return verdict


def reasons(verdict: dict[str, Any]) -> dict[str, str]:
    return {n["id"]: n["reason"] for n in verdict["not_applicable"]}


def applied(verdict: dict[str, Any]) -> dict[str, tuple[str, int, str]]:
    return {b["id"]: (b["region"], b["version"], b["discount"]) for b in verdict["benefits"]}


# -- the catalog read ------------------------------------------------------------------------------
def test_effective_catalog_folds_the_chain_ancestors_first(env: MerchantEnv) -> None:
    assert catalog(env, DISTRICT, at="2026-06-01")["benefits"] == []  # nothing published yet
    publish_all(env)
    got = catalog(env, DISTRICT, at="2026-06-01")
    assert got["region"] == DISTRICT and got["at"] == "2026-06-01"
    ids = [b["id"] for b in got["benefits"]]
    # Ancestors first; the district's cn-scenic keeps the national one's place; cn-old is
    # withdrawn by the district.
    assert ids == ["cn-scenic", "cn-5a", "cn-fuel", "cq-parks", "yb-temple", "yb-all"]
    by_id = {b["id"]: b for b in got["benefits"]}
    assert (by_id["cn-scenic"]["region"], by_id["cn-scenic"]["version"]) == (DISTRICT, 1)
    assert by_id["cn-scenic"]["discount"] == "渝北区A级景区免门票"
    assert (by_id["cq-parks"]["region"], by_id["cq-parks"]["version"]) == (PROVINCE, 1)
    assert set(by_id["cn-5a"]) == {
        "id",
        "title",
        "partner",
        "category",
        "discount",
        "holder_categories",
        "local_only",
        "merchant_categories",
        "min_a_level",
        "limit",
        "companions",
        "region",
        "version",
    }
    assert (by_id["cn-5a"]["limit"], by_id["cn-5a"]["companions"]) == (None, 0)
    assert got["catalog_version"] == {NATION: 1, PROVINCE: 1, DISTRICT: 1}
    # Before the district's version starts, the national cn-scenic and cn-old apply.
    early = catalog(env, DISTRICT, at="2026-05-10")
    assert [b["id"] for b in early["benefits"]] == [
        "cn-scenic",
        "cn-5a",
        "cn-fuel",
        "cn-old",
        "cq-parks",
    ]
    assert early["benefits"][0]["region"] == NATION
    # A district with no catalog of its own gets its ancestors' (渝中区).
    assert [b["id"] for b in catalog(env, "500103", at="2026-06-01")["benefits"]] == [
        "cn-scenic",
        "cn-5a",
        "cn-fuel",
        "cn-old",
        "cq-parks",
    ]
    # Elsewhere only the national catalog applies; `at` defaults to today in Shanghai.
    beijing = catalog(env, ELSEWHERE)
    assert beijing["at"] == "2026-06-01"
    assert {b["region"] for b in beijing["benefits"]} == {NATION}


def test_versions_list_their_diffs(env: MerchantEnv) -> None:
    publish_all(env)
    publish(env, DISTRICT, DISTRICT_V2)
    listed = wait_versions(env, DISTRICT, 2)
    assert [v["version"] for v in listed] == [1, 2]
    assert listed[0]["diff"]["added"] == ["cn-scenic", "yb-temple", "yb-all"]
    assert listed[1]["diff"] == {
        "added": ["yb-new"],
        "removed": ["yb-temple"],
        "changed": ["yb-all"],
        "withdrawn_added": [],
        "withdrawn_removed": [],
    }
    assert listed[1]["effective_from"] == "2026-07-01"
    assert versions(env, "500103") == []
    admin = env.client.get(f"/v1/admin/regions/{DISTRICT}/catalog", headers=ADMIN).json()
    assert [v["version"] for v in admin["versions"]] == [1, 2]  # read-your-writes
    assert admin["versions"][1]["actor"]["id"] == "bootstrap"


# -- eligibility at the same district scenic site ----------------------------------------------
def test_local_and_out_of_region_cards_get_different_benefits_with_reasons(
    env: MerchantEnv,
) -> None:
    publish_all(env)
    site = scenic_site(env)
    local = env.issue(region=DISTRICT)
    visitor = env.issue(region=ELSEWHERE, name="王建国")

    mine = env.wait_status(local["qr"], site, "valid")
    theirs = env.wait_status(visitor["qr"], site, "valid")

    assert applied(mine) == {
        "cn-scenic": (DISTRICT, 1, "渝北区A级景区免门票"),
        "cq-parks": (PROVINCE, 1, "免门票"),
        "yb-all": (DISTRICT, 1, "导览九折"),
    }
    assert reasons(mine) == {
        "cn-5a": "a_level",
        "cn-fuel": "merchant_category",
        "yb-temple": "holder_category",
    }
    assert set(applied(theirs)) == {"cn-scenic", "yb-all"}
    assert reasons(theirs) == {**reasons(mine), "cq-parks": "local_only"}
    refusal = next(n for n in theirs["not_applicable"] if n["id"] == "cq-parks")
    # Said plainly, naming both regions, in Chinese first and in English.
    assert "重庆市" in refusal["message"] and "北京市东城区" in refusal["message"]
    assert "only for cards issued in" in refusal["message_en"]
    a_level = next(n for n in mine["not_applicable"] if n["id"] == "cn-5a")
    assert "5A" in a_level["message"] and "4A" in a_level["message"]
    for verdict in (mine, theirs):
        assert verdict["catalog_version"] == {NATION: 1, PROVINCE: 1, DISTRICT: 1}
        assert all(n["message"] and n["message_en"] for n in verdict["not_applicable"])

    # A restaurant in the same district has no A-level at all.
    diner = env.merchant(name="渝北餐馆", region=DISTRICT, kind="merchant", categories=["dining"])
    at_diner = env.wait_status(local["qr"], diner, "valid")
    assert reasons(at_diner)["cn-5a"] == "a_level"
    assert "不是A级景区" in next(
        n["message"] for n in at_diner["not_applicable"] if n["id"] == "cn-5a"
    )
    assert "cn-scenic" in applied(at_diner)  # the district's version has no minimum


def test_a_version_for_next_month_changes_nothing_today_and_everything_then(
    env: MerchantEnv, clock: FrozenClock
) -> None:
    publish_all(env)
    site = scenic_site(env)
    local = env.issue(region=DISTRICT)
    before = env.wait_status(local["qr"], site, "valid")

    assert publish(env, DISTRICT, DISTRICT_V2) == 2
    wait_versions(env, DISTRICT, 2)
    today = verdict_when(env, local["qr"], site, lambda v: "yb-new" in reasons(v))
    assert applied(today) == applied(before)
    assert today["catalog_version"] == {NATION: 1, PROVINCE: 1, DISTRICT: 1}
    # The scheduled benefit is explained, with its start date.
    assert reasons(today) == {**reasons(before), "yb-new": "not_yet_effective"}
    scheduled = next(n for n in today["not_applicable"] if n["id"] == "yb-new")
    assert "2026-07-01" in scheduled["message"]
    assert catalog(env, DISTRICT)["catalog_version"][DISTRICT] == 1
    assert [u["id"] for u in catalog(env, DISTRICT)["upcoming"]] == ["yb-new"]

    clock.set(NEXT_MONTH)
    then = env.wait_status(local["qr"], site, "valid")
    assert applied(then) == {
        "cn-scenic": (DISTRICT, 2, "渝北区A级景区免门票"),
        "cq-parks": (PROVINCE, 1, "免门票"),
        "yb-all": (DISTRICT, 2, "导览八折"),
        "yb-new": (DISTRICT, 2, "景区餐厅九折"),
    }
    assert reasons(then) == {"cn-5a": "a_level", "cn-fuel": "merchant_category"}
    assert then["catalog_version"] == {NATION: 1, PROVINCE: 1, DISTRICT: 2}
    now = catalog(env, DISTRICT)
    assert now["at"] == "2026-07-01" and now["catalog_version"][DISTRICT] == 2


def test_as_of_answers_what_the_catalog_said_then(env: MerchantEnv, clock: FrozenClock) -> None:
    publish_all(env)
    first_published = clock.now()
    clock.set(datetime(2026, 6, 10, 2, 0, tzinfo=UTC))
    publish(env, DISTRICT, DISTRICT_V2)
    wait_versions(env, DISTRICT, 2)
    later = catalog(env, DISTRICT, at="2026-07-05")
    assert later["catalog_version"][DISTRICT] == 2
    said = catalog(env, DISTRICT, at="2026-07-05", as_of="2026-06-05T12:00:00+08:00")
    assert said["catalog_version"][DISTRICT] == 1
    assert "yb-new" not in {b["id"] for b in said["benefits"]}
    assert said["as_of"] == "2026-06-05T04:00:00+00:00"
    # Exactly the publication instant counts; naive timestamps are read in Asia/Shanghai.
    exact = catalog(env, DISTRICT, at="2026-07-05", as_of=first_published.isoformat())
    assert exact["catalog_version"] == {NATION: 1, PROVINCE: 1, DISTRICT: 1}
    just_before = catalog(env, DISTRICT, at="2026-07-05", as_of="2026-06-01T09:59:59")
    assert just_before["catalog_version"] == {}
    before_anything = catalog(env, DISTRICT, at="2026-07-05", as_of="2026-01-01T00:00:00")
    assert before_anything["benefits"] == [] and before_anything["catalog_version"] == {}


# -- bad input ------------------------------------------------------------------------------------
BAD_BODIES: list[tuple[str, Any]] = [
    ("month 13", {**DISTRICT_V1, "effective_from": "2026-13-01"}),
    ("30 February", {**DISTRICT_V1, "effective_from": "2026-02-30"}),
    ("slashes", {**DISTRICT_V1, "effective_from": "2026/06/01"}),
    ("no dashes", {**DISTRICT_V1, "effective_from": "20260601"}),
    ("a timestamp", {**DISTRICT_V1, "effective_from": "2026-06-01T00:00:00"}),
    ("a number", {**DISTRICT_V1, "effective_from": 20260601}),
    ("empty date", {**DISTRICT_V1, "effective_from": ""}),
    ("no date", {"benefits": DISTRICT_V1["benefits"]}),
    ("duplicate ids", {**DISTRICT_V1, "benefits": [benefit("x"), benefit("y"), benefit("x")]}),
    ("unknown category", {**DISTRICT_V1, "benefits": [benefit("x", "food")]}),
    ("unknown holder", {**DISTRICT_V1, "benefits": [benefit("x", holder_categories=["soldier"])]}),
    ("no holders", {**DISTRICT_V1, "benefits": [benefit("x", holder_categories=[])]}),
    ("A-level 6", {**DISTRICT_V1, "benefits": [benefit("x", min_a_level=6)]}),
    ("A-level true", {**DISTRICT_V1, "benefits": [benefit("x", min_a_level=True)]}),
    ("local yes", {**DISTRICT_V1, "benefits": [benefit("x", local_only="yes")]}),
    ("blank title", {**DISTRICT_V1, "benefits": [benefit("x", title="  ")]}),
    ("bad id", {**DISTRICT_V1, "benefits": [benefit("x y")]}),
    ("extra field", {**DISTRICT_V1, "benefits": [{**benefit("x"), "price": 1}]}),
    ("benefit not an object", {**DISTRICT_V1, "benefits": ["x"]}),
    ("benefits not a list", {**DISTRICT_V1, "benefits": {"x": 1}}),
    ("withdrawn and kept", {**DISTRICT_V1, "withdrawn": ["yb-all"]}),
    ("withdrawn not a list", {**DISTRICT_V1, "withdrawn": "cn-old"}),
    ("unknown top field", {**DISTRICT_V1, "version": 7}),
    ("an array", [DISTRICT_V1]),
]


def test_bad_input_is_422_and_publishes_nothing(env: MerchantEnv) -> None:
    url = f"/v1/admin/regions/{DISTRICT}/catalog"
    for label, body in BAD_BODIES:
        resp = env.client.put(url, json=body, headers=ADMIN)
        assert resp.status_code == 422, (label, resp.text)
        assert resp.json()["error"] and resp.json()["detail"], label
    for region in ("509999", "5001", "abcdef", "0000000", "50011２"):
        resp = env.client.put(
            f"/v1/admin/regions/{region}/catalog", json=DISTRICT_V1, headers=ADMIN
        )
        assert resp.status_code == 422, (region, resp.text)
    json_type = {**ADMIN, "Content-Type": "application/json"}
    not_json = env.client.put(url, content=b"{effective_from", headers=json_type)
    assert not_json.status_code == 422
    # A catalog may be up to 1 MiB (500 benefits fit); past that, 413.
    many = {
        **DISTRICT_V1,
        "effective_from": "soon",
        "benefits": [benefit(f"b{i}") for i in range(200)],
    }
    assert env.client.put(url, json=many, headers=ADMIN).status_code == 422
    huge = {**DISTRICT_V1, "withdrawn": ["x" * 1000] * 1100}
    assert env.client.put(url, json=huge, headers=ADMIN).status_code == 413
    assert env.client.put(url, json=BAD_BODIES[0][1]).status_code == 401  # 401 comes first

    # Nothing was recorded: the aggregate (read-your-writes) has no version, and a good
    # version published now is number 1 and the only one the view ever shows.
    admin = env.client.get(url, headers=ADMIN).json()
    assert admin["versions"] == [] and admin["benefits"] == []
    assert publish(env, DISTRICT, DISTRICT_V1) == 1
    assert [v["version"] for v in wait_versions(env, DISTRICT, 1)] == [1]


def test_bad_catalog_queries_are_422_never_5xx(env: MerchantEnv) -> None:
    for path in (
        "/v1/catalog/509999",
        "/v1/catalog/abc",
        "/v1/catalog/500112?at=2026-6-1",
        "/v1/catalog/500112?at=2026-02-30",
        "/v1/catalog/500112?at=",
        "/v1/catalog/500112?as_of=yesterday",
        "/v1/catalog/500112?as_of=9999-12-31T23:59:59-23:59",
        "/v1/catalog/500112?as_of=" + "2" * 100,
        "/v1/catalog/509999/versions",
    ):
        resp = env.client.get(path)
        assert resp.status_code == 422, (path, resp.text)
    for at in ("0001-01-01", "9999-12-31"):
        assert catalog(env, DISTRICT, at=at)["benefits"] == []


# -- idempotency -----------------------------------------------------------------------------------
def test_idempotency_key_is_per_token_and_refuses_a_different_body(env: MerchantEnv) -> None:
    assert publish(env, DISTRICT, DISTRICT_V1, **{"Idempotency-Key": "k-1"}) == 1
    assert publish(env, DISTRICT, DISTRICT_V1, **{"Idempotency-Key": "k-1"}) == 1
    resp = env.client.put(
        f"/v1/admin/regions/{DISTRICT}/catalog",
        json=DISTRICT_V2,
        headers={**ADMIN, "Idempotency-Key": "k-1"},
    )
    assert resp.status_code == 422 and resp.json()["error"] == "idempotency_mismatch"
    minted = env.client.post(
        "/v1/admin/tokens", json={"region": PROVINCE, "role": "catalog_manager"}, headers=ADMIN
    ).json()
    other = {"Authorization": f"Bearer {minted['token']}", "Idempotency-Key": "k-1"}
    resp = env.client.put(f"/v1/admin/regions/{DISTRICT}/catalog", json=DISTRICT_V1, headers=other)
    assert resp.status_code == 201 and resp.json()["version"] == 2
    assert publish(env, DISTRICT, DISTRICT_V1) == 3  # no key: a new version each time
    assert [v["version"] for v in wait_versions(env, DISTRICT, 3)] == [1, 2, 3]


# -- the audit trail ------------------------------------------------------------------------------
def audit(env: MerchantEnv, headers: dict[str, str], **params: Any) -> Any:
    return env.client.get("/v1/admin/audit", params=params, headers=headers)


def test_audit_lists_actions_in_the_callers_subtree_with_filters(
    env: MerchantEnv, clock: FrozenClock
) -> None:
    def mint(region: str, role: str) -> tuple[dict[str, str], str]:
        resp = env.client.post(
            "/v1/admin/tokens", json={"region": region, "role": role}, headers=ADMIN
        )
        assert resp.status_code == 201, resp.text
        return {"Authorization": f"Bearer {resp.json()['token']}"}, resp.json()["token_id"]

    issuer, issuer_id = mint(PROVINCE, "issuer")
    manager, manager_id = mint(DISTRICT, "catalog_manager")
    auditor, _ = mint(PROVINCE, "auditor")
    clock.set(datetime(2026, 6, 2, 2, 0, tzinfo=UTC))
    card = env.client.post("/v1/admin/cards", json=card_body(1, region=DISTRICT), headers=issuer)
    assert card.status_code == 201, card.text
    card_id = card.json()["card_id"]
    clock.set(datetime(2026, 6, 3, 2, 0, tzinfo=UTC))
    suspend = env.client.post(
        f"/v1/admin/cards/{card_id}/suspend", json={"reason": "挂失"}, headers=issuer
    )
    assert suspend.status_code == 200
    publish(env, DISTRICT, DISTRICT_V1, Authorization=manager["Authorization"])
    elsewhere = env.client.post(
        "/v1/admin/cards", json=card_body(2, region=ELSEWHERE), headers=ADMIN
    )
    assert elsewhere.status_code == 201

    # The card's own history, newest first, with who did it and why.
    trail = poll(
        lambda: audit(env, auditor, card=card_id).json()["items"],
        lambda items: len(items) >= 2,
    )
    assert [i["type"] for i in trail] == ["Card.Suspended", "Card.Issued"]  # newest first
    assert trail[0]["reason"] == "挂失" and trail[0]["region"] == DISTRICT
    assert trail[0]["actor"] == {
        "id": issuer_id,
        "kind": "admin",
        "role": "issuer",
        "region": PROVINCE,
    }
    assert trail[1]["details"]["card_number"] == card.json()["card_number"]
    assert "token_hash" not in str(trail) and "sealed" not in str(trail)

    # By actor; by time; the catalog manager's publication under its region.
    by_manager = poll(
        lambda: audit(env, auditor, actor=manager_id).json()["items"], lambda items: len(items) >= 1
    )
    assert [i["type"] for i in by_manager] == ["RegionCatalog.VersionPublished"]
    assert by_manager[0]["details"]["version"] == 1
    day_two = audit(
        env, auditor, since="2026-06-02T00:00:00+08:00", until="2026-06-03T00:00:00+08:00"
    )
    assert [i["type"] for i in day_two.json()["items"]] == ["Card.Issued"]

    # Scope: the province auditor never sees Beijing; the national admin does, on request.
    poll(lambda: audit(env, ADMIN, region=ELSEWHERE).json()["items"], lambda items: len(items) >= 1)
    mine = audit(env, auditor, limit=500).json()
    assert mine["region"] == PROVINCE
    assert all(i["region"].startswith("50") for i in mine["items"])
    assert audit(env, auditor, region=ELSEWHERE).status_code == 403
    assert audit(env, auditor, region=NATION).status_code == 403
    assert audit(env, manager, region=PROVINCE).status_code == 403

    # Cursor pagination visits every entry once, newest first.
    everything = audit(env, ADMIN, limit=500).json()
    assert everything["next"] is None
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = audit(env, ADMIN, **params).json()
        seen += [f"{i['aggregate_id']}/{i['aggregate_version']}" for i in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [f"{i['aggregate_id']}/{i['aggregate_version']}" for i in everything["items"]]
    assert len(seen) == len(set(seen)) >= 6

    for bad in (
        {"card": "nope"},
        {"since": "june"},
        {"limit": "0"},
        {"cursor": "!!"},
        {"region": "5"},
    ):
        assert audit(env, ADMIN, **bad).status_code == 422, bad


def test_hostile_audit_queries_are_422_never_5xx(env: MerchantEnv) -> None:
    import base64

    def cursor(raw: str) -> str:
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    ok_id = "00000000-0000-0000-0000-000000000000"
    for params in (
        {"actor": "a\x00b"},
        {"actor": "x" * 201},
        {"cursor": cursor(f"{'9' * 30}|0|{ok_id}|1")},
        {"cursor": cursor(f"0|0|{ok_id}|-1")},
        {"cursor": cursor("0|0|not-a-uuid|1")},
        {"since": "0001-01-01T00:00:00+14:00"},
        {"until": "10000-01-01"},
        {"region": "509999"},
        {"card": ok_id + "0"},
        {"limit": "501"},
    ):
        resp = audit(env, ADMIN, **params)
        assert resp.status_code == 422, (params, resp.text)
    assert audit(env, ADMIN, since="0001-01-02", until="9999-12-30").status_code == 200
