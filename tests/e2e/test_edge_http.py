"""The edge of both apps, tried as an attacker would, on both storage engines.

Poisoned strings (NUL, U+200B, U+202E) anywhere in a body, other scripts' digits in an ID
number, JSON under another media type, a forged X-Forwarded-For, an Idempotency-Key
reused for another command, and every refusal as RFC 9457 problem details.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cardservice.api.app import create_app
from cardservice.bootstrap.write import WriteSide
from cardservice.clock import FrozenClock
from cardservice.http.problems import PROBLEM_MEDIA_TYPE, install_problem_handlers
from tests.conftest import ADMIN_TOKEN, make_settings
from tests.factories import card_body, id_number
from tests.integration.test_projections import NATIONAL

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PROBLEM_KEYS = {"type", "title", "status", "detail", "error"}
POISON = ["\x00", "\u200b", "\u202e", "\ufeff", "\x07", "\u2066"]


def stored(svc: WriteSide) -> tuple[int, int]:
    """How many events both stores hold: a refused command must not add one."""
    return (
        svc.ledger.recorder.max_notification_id() or 0,
        svc.catalog.recorder.max_notification_id() or 0,
    )


def assert_problem(resp: Any, status: int, error: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body: dict[str, Any] = resp.json()
    assert set(body) == PROBLEM_KEYS, body
    assert body["status"] == status and isinstance(body["detail"], str)
    assert body["type"].endswith(body["error"])
    if error is not None:
        assert body["error"] == error
    return body


def issue(client: Any, seq: int = 1, **kw: Any) -> dict[str, Any]:
    resp = client.post("/v1/admin/cards", json=card_body(seq, **kw), headers=ADMIN)
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


# -- text hygiene ------------------------------------------------------------------------


@pytest.mark.parametrize("poison", POISON)
def test_poisoned_holder_names_are_422_and_store_nothing(
    client: Any, services: WriteSide, poison: str
) -> None:
    before = stored(services)
    for name in [poison + "张三明", "张三" + poison + "明", "张三明" + poison]:
        assert_problem(
            client.post("/v1/admin/cards", json=card_body(1, name=name), headers=ADMIN), 422
        )
    assert stored(services) == before
    # The same person is still free to get a card: nothing half-made blocks them.
    issue(client, 1)


def test_holder_name_rules(client: Any) -> None:
    for bad in ["", "   ", "张" * 41, "张  三", "张三1", "Zhang<b>", "张三!"]:
        resp = client.post("/v1/admin/cards", json=card_body(1, name=bad), headers=ADMIN)
        assert_problem(resp, 422)
    # Letters, combining marks, the middle dot and single spaces; NFC first.
    assert issue(client, 2, name="阿依古丽·买买提")["status"] == "active"
    assert issue(client, 3, name="Jose\u0301 Li")["status"] == "active"
    assert issue(client, 4, name="  王五  ")["status"] == "active"


@pytest.mark.parametrize("poison", ["\x00", "\u200b", "\u202e"])
def test_poisoned_reasons_are_422_and_change_nothing(
    client: Any, services: WriteSide, poison: str
) -> None:
    card = issue(client)
    url = f"/v1/admin/cards/{card['card_id']}"
    before = stored(services)
    for action in ["suspend", "revoke"]:
        resp = client.post(f"{url}/{action}", json={"reason": f"lost{poison}"}, headers=ADMIN)
        assert_problem(resp, 422)
    assert stored(services) == before
    assert client.get(url, headers=ADMIN).json()["status"] == "active"
    # Free text may break lines.
    resp = client.post(f"{url}/suspend", json={"reason": "lost\nat the station"}, headers=ADMIN)
    assert resp.status_code == 200 and resp.json()["status"] == "suspended"


@pytest.mark.parametrize("poison", ["\x00", "\u200b", "\u202e"])
def test_poisoned_merchant_names_and_fields_are_422(
    client: Any, services: WriteSide, poison: str
) -> None:
    good = {
        "name": "洪崖洞景区",
        "region": "500112",
        "kind": "scenic_site",
        "categories": ["scenic"],
    }
    before = stored(services)
    for body in [
        {**good, "name": poison + good["name"]},
        {**good, "name": "洪崖洞" + poison + "景区"},
        {**good, "categories": ["sce" + poison + "nic"]},
        {**good, "kind": "scenic_site" + poison},
        {**good, "name": "\n".join(["洪崖洞", "景区"])},  # no line breaks outside free text
    ]:
        assert_problem(client.post("/v1/admin/merchants", json=body, headers=ADMIN), 422)
    assert stored(services) == before
    assert client.post("/v1/admin/merchants", json=good, headers=ADMIN).status_code == 201


def test_poison_in_catalog_titles_and_unknown_fields(client: Any, services: WriteSide) -> None:
    benefit = {
        "id": "free-entry",
        "title": "免费\u202e入园",
        "partner": "p",
        "category": "scenic",
        "discount": "free",
        "holder_categories": ["veteran"],
    }
    body = {"effective_from": "2026-06-01", "benefits": [benefit]}
    before = stored(services)
    resp = client.put("/v1/admin/regions/500112/catalog", json=body, headers=ADMIN)
    assert_problem(resp, 422)
    # Even a field the model would refuse for being unknown is checked first: no NUL passes.
    resp = client.post("/v1/activate", json={"code": "ABCDE-23456", "x\x00": 1})
    assert_problem(resp, 422)
    assert stored(services) == before


def test_poisoned_query_parameters_are_422(client: Any, services: WriteSide) -> None:
    for query in ["at=2026-06-01%00", "at=%E2%80%8B2026-06-01", "x%00=1", "at=%ff"]:
        assert_problem(client.get(f"/v1/catalog/500112?{query}"), 422, "invalid")
        url = f"/v1/admin/regions/500112/catalog?{query}"
        assert_problem(client.get(url, headers=ADMIN), 422, "invalid")
        assert_problem(client.get(url), 401)  # credentials are checked first
    assert client.get("/v1/catalog/500112?at=2026-06-01").status_code == 200
    from merchant_api.app import create_app as merchant_app

    key = client.post(
        "/v1/admin/merchants",
        json={"name": "店", "region": "500112", "kind": "merchant", "categories": []},
        headers=ADMIN,
    ).json()["api_key"]
    with TestClient(merchant_app(services.read), raise_server_exceptions=False) as c:
        headers = {"Authorization": f"Bearer {key}"}
        assert_problem(c.get("/v1/verifications?cursor=1%00", headers=headers), 422)


# -- ID numbers --------------------------------------------------------------------------


def test_id_numbers_are_ascii_and_x_is_x(client: Any, services: WriteSide) -> None:
    ascii_id = id_number(7)
    arabic = ascii_id[:17].translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")) + ascii_id[17]
    fullwidth = ascii_id.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    before = stored(services)
    for bad in [arabic, fullwidth, ascii_id[:-1] + "٣", " " + ascii_id[:17]]:
        body = card_body(7)
        body["holder"]["id_number"] = bad
        assert_problem(client.post("/v1/admin/cards", json=body, headers=ADMIN), 422)
    assert stored(services) == before
    # A check character X: the lower-case spelling is the same person (one card, not two).
    seq = next(s for s in range(100, 1000) if id_number(s).endswith("X"))
    first = card_body(seq)
    first["holder"]["id_number"] = id_number(seq).lower()
    assert client.post("/v1/admin/cards", json=first, headers=ADMIN).status_code == 201
    again = card_body(seq)
    assert client.post("/v1/admin/cards", json=again, headers=ADMIN).status_code == 409


# -- media types -------------------------------------------------------------------------


def test_json_endpoints_take_only_application_json(client: Any, services: WriteSide) -> None:
    body = json.dumps(card_body(1)).encode()
    before = stored(services)
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "",
        "multipart/form-data",
    ]:
        headers = {**ADMIN, "Content-Type": content_type}
        resp = client.post("/v1/admin/cards", content=body, headers=headers)
        assert_problem(resp, 415, "unsupported_media_type")
    form = client.post("/v1/admin/cards", data={"holder": "x"}, headers=ADMIN)
    assert_problem(form, 415)
    plain = client.post(
        "/v1/activate", content=b'{"code": "ABCDE-23456"}', headers={"Content-Type": "text/plain"}
    )
    assert_problem(plain, 415)
    assert stored(services) == before
    # The order: 401 before 415 (no token), 413 before 415 (too big), 415 before 422.
    assert (
        client.post(
            "/v1/admin/cards", content=body, headers={"Content-Type": "text/plain"}
        ).status_code
        == 401
    )
    huge = b"x" * 20_000
    assert (
        client.post(
            "/v1/admin/cards", content=huge, headers={**ADMIN, "Content-Type": "text/plain"}
        ).status_code
        == 413
    )
    assert (
        client.post(
            "/v1/admin/cards", content=b"{", headers={**ADMIN, "Content-Type": "text/plain"}
        ).status_code
        == 415
    )
    charset = {**ADMIN, "Content-Type": "application/json; charset=utf-8"}
    assert client.post("/v1/admin/cards", content=body, headers=charset).status_code == 201


# -- forwarded addresses -----------------------------------------------------------------


@pytest.fixture
def proxied(backend: str, tmp_path: Path, clock: FrozenClock) -> Iterator[WriteSide]:
    settings, schema = make_settings(
        backend, tmp_path, activation_burst=2, forwarded_allow_ips="10.0.0.0/8, 192.0.2.7"
    )
    svc = WriteSide.build(settings, clock)
    yield svc
    svc.close()
    if schema is not None:
        schema.drop()


def guesses(client: TestClient, forwarded: list[str | None]) -> list[int]:
    codes = []
    for hop in forwarded:
        headers = {"X-Forwarded-For": hop} if hop else {}
        codes.append(
            client.post("/v1/activate", json={"code": "ABCDE-23456"}, headers=headers).status_code
        )
    return codes


def test_forwarded_for_from_an_untrusted_peer_is_ignored(proxied: WriteSide) -> None:
    app = create_app(proxied, own_services=False)
    with TestClient(app, client=("203.0.113.9", 5000), raise_server_exceptions=False) as c:
        # Rotating the header buys nothing: the peer's bucket pays for every guess.
        codes = guesses(c, [f"198.51.100.{i}" for i in range(4)])
    assert codes == [404, 404, 429, 429]
    # Loopback is no proxy either unless named.
    with TestClient(app, client=("127.0.0.1", 5000), raise_server_exceptions=False) as c:
        assert guesses(c, ["198.51.100.1", "198.51.100.2", "198.51.100.3"]) == [404, 404, 429]


def test_forwarded_for_from_an_allowed_proxy_is_honoured(proxied: WriteSide) -> None:
    app = create_app(proxied, own_services=False)
    with TestClient(app, client=("10.1.2.3", 5000), raise_server_exceptions=False) as c:
        # Each client behind the proxy has its own bucket...
        assert guesses(c, ["198.51.100.1", "198.51.100.2", "198.51.100.3"]) == [404, 404, 404]
        # ...and one client is limited whatever it prepends: the proxy appends the truth.
        chain = ["1.1.1.1, 198.51.100.9", "2.2.2.2, 198.51.100.9", "3.3.3.3, 198.51.100.9"]
        assert guesses(c, chain) == [404, 404, 429]
        # Through two trusted proxies the right-most untrusted address counts.
        two = ["198.51.100.20, 192.0.2.7", "198.51.100.20, 192.0.2.7", "198.51.100.20, 192.0.2.7"]
        assert guesses(c, two) == [404, 404, 429]


# -- idempotency scope -------------------------------------------------------------------


def test_idempotency_key_is_scoped_to_method_and_path(client: Any) -> None:
    card = issue(client)
    url = f"/v1/admin/cards/{card['card_id']}"
    key = {**ADMIN, "Idempotency-Key": "k-1"}
    suspended = client.post(f"{url}/suspend", json={"reason": "lost"}, headers=key)
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    # The same request again is the same answer, applied once.
    again = client.post(f"{url}/suspend", json={"reason": "lost"}, headers=key)
    assert again.status_code == 200 and again.json()["status"] == "suspended"
    # The same key with another body in the same scope is refused.
    other = client.post(f"{url}/suspend", json={"reason": "stolen"}, headers=key)
    assert_problem(other, 422, "idempotency_mismatch")
    # Under another path it is simply another key: the revoke really revokes.
    revoked = client.post(f"{url}/revoke", json={"reason": "fraud"}, headers=key)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    history = client.get(url, headers=ADMIN).json()["history"]
    assert [h["type"] for h in history].count("Suspended") == 1
    assert client.get(url, headers=ADMIN).json()["status"] == "revoked"


def test_a_status_key_is_new_again_after_24_hours(client: Any, clock: FrozenClock) -> None:
    card = issue(client)
    url = f"/v1/admin/cards/{card['card_id']}"
    key = {**ADMIN, "Idempotency-Key": "k-day"}
    assert client.post(f"{url}/suspend", json={"reason": "lost"}, headers=key).status_code == 200
    assert (
        client.post(f"{url}/reinstate", json={"reason": "found"}, headers=ADMIN).status_code == 200
    )
    within = client.post(f"{url}/suspend", json={"reason": "lost"}, headers=key)
    assert within.status_code == 200 and within.json()["status"] == "suspended"  # 1st answer
    clock.advance(timedelta(hours=25))
    later = client.post(f"{url}/suspend", json={"reason": "lost"}, headers=key)
    assert later.status_code == 200 and later.json()["status"] == "suspended"


def test_issuance_keys_are_scoped_too(client: Any) -> None:
    key = {**ADMIN, "Idempotency-Key": "k-issue"}
    first = client.post("/v1/admin/cards", json=card_body(1), headers=key)
    replay = client.post("/v1/admin/cards", json=card_body(1), headers=key)
    assert first.status_code == replay.status_code == 201
    assert replay.json()["card_id"] == first.json()["card_id"]
    assert_problem(client.post("/v1/admin/cards", json=card_body(2), headers=key), 422)
    merchant = {"name": "火锅店", "region": "500112", "kind": "merchant", "categories": ["food"]}
    assert client.post("/v1/admin/merchants", json=merchant, headers=key).status_code == 201


# -- no unkeyed digest of personal data --------------------------------------------------


def test_history_shows_no_digest_of_the_issuance_request(client: Any, services: WriteSide) -> None:
    body = card_body(5)
    resp = client.post("/v1/admin/cards", json=body, headers={**ADMIN, "Idempotency-Key": "d"})
    card_id = resp.json()["card_id"]
    history = client.get(f"/v1/admin/cards/{card_id}", headers=ADMIN).json()["history"]
    shown = json.dumps(history, ensure_ascii=False)
    assert "request_digest" not in shown
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    plain = hashlib.sha256(canonical.encode()).hexdigest()
    assert plain not in shown
    # What the event store keeps is keyed: it is not the SHA-256 of the request either,
    # so guessing name, ID number and phone and hashing cannot confirm a guess.
    from uuid import UUID

    card = services.ledger.repository.get(UUID(card_id), version=1)
    recorded = card.request_digest
    assert recorded.startswith("h1:") and plain not in recorded
    # Nor the master secret's own HMAC of it: it is bound to the holder's data key, which
    # erasure destroys, so after erasure nobody can test a guess against it.
    from cardservice.http.jsonbody import DIGEST_PURPOSE, digest_of

    assert recorded != digest_of(body, services.settings.derived_key(DIGEST_PURPOSE))
    replay = client.post("/v1/admin/cards", json=body, headers={**ADMIN, "Idempotency-Key": "d"})
    assert replay.status_code == 201 and replay.json()["card_id"] == card_id
    services.ledger.erase_holder(card.holder_id, "request", NATIONAL)
    after = client.post("/v1/admin/cards", json=body, headers={**ADMIN, "Idempotency-Key": "d"})
    assert after.status_code < 500  # a replay after erasure cannot match: refused, not a 5xx


def test_a_v1_issued_event_is_upcast_without_its_plain_digest() -> None:
    from cardservice.domain.cards import Card

    state: dict[str, Any] = {"request_digest": "ab" * 32}
    Card.Issued.upcast_v1_v2(state)  # type: ignore[attr-defined]
    assert state["request_digest"] == ""
    keyed: dict[str, Any] = {"request_digest": "h1:" + "cd" * 32}
    Card.Issued.upcast_v1_v2(keyed)  # type: ignore[attr-defined]
    assert keyed["request_digest"] == "h1:" + "cd" * 32
    assert Card.Issued.class_version == 2  # type: ignore[attr-defined]


# -- problem details on both apps --------------------------------------------------------


def test_admin_app_answers_problems(client: Any) -> None:
    assert_problem(client.post("/v1/admin/cards", json=card_body(1)), 401, "unauthorized")
    assert_problem(client.get("/v1/no-such-thing"), 404, "not_found")
    assert_problem(client.delete("/v1/keys"), 405, "method_not_allowed")
    assert_problem(client.post("/v1/admin/cards", json={}, headers=ADMIN), 422, "invalid")
    assert_problem(client.get("/v1/admin/cards/not-a-uuid", headers=ADMIN), 404)
    big = {"code": "A" * 20_000}
    assert_problem(client.post("/v1/activate", json=big), 413, "payload_too_large")


def test_merchant_app_answers_problems(services: WriteSide) -> None:
    from merchant_api.app import create_app as merchant_app

    with TestClient(merchant_app(services.read), raise_server_exceptions=False) as c:
        assert_problem(c.post("/v1/verify", json={"qr": "x"}), 401, "unauthorized")
        assert_problem(c.get("/v1/verifications"), 401)
        assert_problem(c.get("/v1/nothing-here"), 404, "not_found")
        assert_problem(c.put("/v1/verify", json={}), 405)
        schema = c.get("/openapi.json").json()
        refusal = schema["paths"]["/v1/verify"]["post"]["responses"]["401"]
        assert PROBLEM_MEDIA_TYPE in refusal["content"]


def test_an_unhandled_error_is_a_logged_500_problem(caplog: pytest.LogCaptureFixture) -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    @app.post("/nul")
    async def nul() -> None:
        raise ValueError("A string literal cannot contain NUL (0x00) characters.")

    with TestClient(app, raise_server_exceptions=True) as c:  # nothing escapes to the server
        body = assert_problem(c.get("/boom"), 500, "internal")
        assert "a bug" not in body["detail"]
        assert_problem(c.post("/nul"), 500)
    assert any("unhandled error" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_serve_ignores_forwarded_for_from_loopback(tmp_path: Path) -> None:
    """`cardservice serve` over real HTTP: uvicorn's own default would trust loopback's
    X-Forwarded-For, so rotating it would buy unlimited activation guesses."""
    import httpx

    from tests.reliability.test_processes import CLI, Procs, free_port, wait_http
    from tests.reliability.test_worker_crash import process_env

    settings, _ = make_settings("sqlite", tmp_path)
    env = {**process_env(settings), "CARDSERVICE_ACTIVATION_BURST": "2"}
    env.pop("CARDSERVICE_FORWARDED_ALLOW_IPS", None)
    procs = Procs(tmp_path)
    try:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = procs.start("serve", [*CLI, "serve", "--port", str(port), "--no-workers"], env)
        wait_http(url + "/healthz", proc, procs.log(proc))
        codes = [
            httpx.post(
                url + "/v1/activate",
                json={"code": "ABCDE-23456"},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            ).status_code
            for i in range(4)
        ]
    finally:
        procs.stop()
    assert codes == [404, 404, 429, 429]
