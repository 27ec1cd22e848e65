"""The merchant page's offline verifier in a real browser, against a real server.

Set-up pins the server's keys and shows each fingerprint (the same as Python's); a later
bundle signed by a key no pinned key vouched for is refused even when /v1/keys now lists
that key; an expired bundle gives no verdict at all (nothing green), says so in plain words
and asks to reconnect. Only the page's clock is moved (Playwright's clock).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the tests skip (or fail under CI) in require_browser()
    expect = None

from tests.e2e.browser_support import (
    PHONE,
    LiveServer,
    artifact,
    dump,
    launch,
    live_server,
    require_browser,
    run_axe,
    wait_for,
)

pytestmark = pytest.mark.browser
MERCHANT_KEY_STORAGE = "cardservice.merchant.key"
GREEN = "rgb(11, 107, 42)"
DAY = 86_400


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    require_browser()
    with live_server(tmp_path_factory.mktemp("offline-page") / "var") as live:
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shop(server: LiveServer) -> dict[str, Any]:
    merchant = server.merchant(name="渝北离线小馆", categories=["dining"])
    auth = {"Authorization": f"Bearer {merchant['api_key']}"}
    assert wait_for(lambda: server.http.get("/v1/verifications", headers=auth).status_code == 200)
    # The write side signs the region's first bundle within seconds; until then a download
    # is 503 (the page says so), which no test here is about.
    bundle = "/v1/offline-bundle"
    assert wait_for(lambda: server.http.get(bundle, headers=auth).status_code == 200, 30, 0.5)
    return merchant


def desk(browser: Any, server: LiveServer, key: str) -> tuple[Any, Any, list[str]]:
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=1, locale="zh-CN")
    ctx.set_default_timeout(15_000)
    ctx.add_init_script(f"localStorage.setItem({MERCHANT_KEY_STORAGE!r}, {key!r})")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server.url}/merchant")
    page.wait_for_selector("#desk:not([hidden])")
    return ctx, page, errors


def download(page: Any) -> None:
    page.evaluate("document.getElementById('bundle-msg').textContent = ''")
    page.click("#bundle-download")
    page.wait_for_function(
        "() => { const m = document.getElementById('bundle-msg').textContent;"
        " return m.includes('已保存') || m.includes('拒绝') || m.includes('无法'); }"
    )


def go_offline(ctx: Any, server: LiveServer) -> None:
    ctx.set_offline(True)
    ctx.route(f"{server.url}/**", lambda route: route.abort("internetdisconnected"))


def scan(page: Any, code: str) -> dict[str, Any]:
    page.fill("#manual-code", code)
    page.press("#manual-code", "Enter")
    page.wait_for_selector("#verdict:not([hidden])")
    got = {
        "status": page.get_attribute("#verdict", "data-status"),
        "valid": page.get_attribute("#verdict", "data-valid") == "true",
        "title": page.text_content("#verdict-title"),
        "words": page.text_content("#verdict-status"),
        "mode": page.text_content("#verdict-mode"),
        "background": page.eval_on_selector("#verdict", "e => getComputedStyle(e).backgroundColor"),
        "icon": page.text_content("#verdict-icon"),
    }
    return got


def shown_keys(page: Any) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = page.eval_on_selector_all(
        "#trust-keys li[data-kid]",
        "els => els.map(e => ({kid: e.dataset.kid, source: e.dataset.source,"
        " status: e.dataset.status, fingerprint: e.querySelector('.fingerprint').textContent}))",
    )
    return rows


def bundle_knows(server: LiveServer, key: str, qr: str, status: str = "valid") -> bool:
    """The bundle is a view that lags writes (and is cached briefly): poll until it has the card."""
    from merchant_api.bundle import open_bundle, pinned_keys, verify_offline
    from merchant_api.core import Policy

    resp = server.http.get("/v1/offline-bundle", headers={"Authorization": f"Bearer {key}"})
    if resp.status_code != 200:
        return False
    now = int(time.time())
    bundle = open_bundle(resp.content, pinned_keys(server.http.get("/v1/keys").json()), now)
    return verify_offline(qr, bundle, now, Policy())[0] == status


def server_fingerprints(server: LiveServer) -> dict[str, str]:
    from cardservice.credentials import fingerprint
    from cardservice.security import b64u_decode

    keys = server.http.get("/v1/keys").json()["keys"]
    return {k["kid"]: fingerprint(b64u_decode(k["x"])) for k in keys}


def test_set_up_pins_the_keys_and_shows_their_fingerprints(
    server: LiveServer, browser: Any, shop: dict[str, Any]
) -> None:
    ctx, page, errors = desk(browser, server, shop["api_key"])
    expect(page.locator("#trust-keys")).to_contain_text("尚未设置")
    download(page)
    expect(page.locator("#bundle-msg")).to_contain_text("已保存")
    expect(page.locator("#bundle-msg")).to_contain_text("首次设置")
    expected = server_fingerprints(server)
    rows = shown_keys(page)
    assert {r["kid"]: r["fingerprint"] for r in rows} == expected, dump(rows)
    assert all(r["source"] == "pinned" for r in rows)
    # The pinned list survives a reload and a second download does not set up again.
    page.reload()
    page.wait_for_selector("#desk:not([hidden])")
    assert {r["kid"]: r["fingerprint"] for r in shown_keys(page)} == expected
    download(page)
    expect(page.locator("#bundle-msg")).to_have_text("离线数据包已保存。")
    page.screenshot(path=artifact("page-merchant-trust.png"), full_page=True)
    assert not run_axe(page)
    assert not errors, errors
    ctx.close()


def forged(server: LiveServer) -> tuple[bytes, dict[str, Any], str]:
    """What a lying server would send: a bundle and a /v1/keys answer with its own key, and
    a card signed by that key (status index 0, active in the forged status list)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from cardservice.credentials import CardClaims, issue_ptc1, kid_for
    from cardservice.domain.identity import card_number
    from cardservice.security import b64u
    from merchant_api.bundle import BundleContent, sign_bundle

    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes_raw()
    entry = {
        "kid": b64u(kid_for(raw)),
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64u(raw),
        "use": "bundle",
        "status": "active",
        "not_after": None,
    }
    now = int(time.time())
    content = BundleContent(
        keys=[entry],
        status_list=b"\x00" * 16,
        catalog={"region": "500112", "at": "", "benefits": [], "versions": {}},
        merchant_region="500112",
    )
    bundle = sign_bundle(content, key, now, now + DAY)
    claims = CardClaims(
        issuer_region="500112",
        issued_at=now - 60,
        expires_at=now + 365 * DAY,
        card_id=uuid.uuid4(),
        card_number=card_number("500112", 2026, 9_999_999),
        category="veteran",
        region="500112",
        masked_name="王*五",
        version=1,
        status_index=0,
    )
    return bundle, {"keys": [entry]}, issue_ptc1(claims, key)


def test_a_key_no_pinned_key_vouched_for_is_refused(
    server: LiveServer, browser: Any, shop: dict[str, Any]
) -> None:
    genuine = server.issue(501)
    assert wait_for(lambda: bundle_knows(server, shop["api_key"], genuine["qr"]), timeout=30)
    ctx, page, errors = desk(browser, server, shop["api_key"])
    download(page)
    expect(page.locator("#bundle-msg")).to_contain_text("已保存")
    pinned = {r["kid"]: r["fingerprint"] for r in shown_keys(page)}

    # The server turns hostile: its own key in /v1/keys and a bundle signed with it.
    bundle, keys, forged_card = forged(server)
    ctx.route(f"{server.url}/v1/keys", lambda r: r.fulfill(json=keys))
    ctx.route(
        f"{server.url}/v1/offline-bundle",
        lambda r: r.fulfill(body=bundle, content_type="application/cose"),
    )
    download(page)
    expect(page.locator("#bundle-msg")).to_contain_text("本机不信任的密钥")
    assert page.get_attribute("#bundle-msg", "data-refused") == "unknown_signer"
    assert {r["kid"]: r["fingerprint"] for r in shown_keys(page)} == pinned
    page.screenshot(path=artifact("page-merchant-refused-key.png"), full_page=True)

    go_offline(ctx, server)
    got = scan(page, forged_card)
    assert got["status"] == "unknown_key" and not got["valid"], dump(got)
    assert got["background"] != GREEN
    page.click("#verdict-next")
    # The bundle kept from before still answers for the genuine card.
    got = scan(page, genuine["qr"])
    assert got["status"] == "valid", dump(got)
    page.click("#verdict-next")

    # Only the merchant can start over (and must then compare fingerprints again).
    for pattern in ("/**", "/v1/keys", "/v1/offline-bundle"):
        ctx.unroute(f"{server.url}{pattern}")
    ctx.set_offline(False)
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#trust-reset")
    assert {r["kid"]: r["fingerprint"] for r in shown_keys(page)} == pinned
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#trust-reset")
    expect(page.locator("#trust-keys")).to_contain_text("尚未设置")
    download(page)
    expect(page.locator("#bundle-msg")).to_contain_text("首次设置")
    assert {r["kid"]: r["fingerprint"] for r in shown_keys(page)} == pinned
    assert not errors, errors
    ctx.close()


def test_the_merchant_policy_comes_from_the_header_beside_the_bundle(
    server: LiveServer, browser: Any
) -> None:
    """The signed bundle is the region's, the same for every merchant there; a merchant that
    requires device binding says so in the `Merchant-Policy` header, and the page, offline,
    refuses a static code there while the shop next door accepts it."""
    strict = server.merchant(
        name="渝北绑定商店", categories=["dining"], require_device_binding=True
    )
    auth = {"Authorization": f"Bearer {strict['api_key']}"}
    card = server.issue(504)
    assert wait_for(lambda: bundle_knows(server, strict["api_key"], card["qr"]), timeout=30)
    resp = server.http.get("/v1/offline-bundle", headers=auth)
    assert '"require_device_binding":true' in resp.headers["merchant-policy"]
    ctx, page, errors = desk(browser, server, strict["api_key"])
    download(page)
    expect(page.locator("#bundle-msg")).to_contain_text("已保存")
    go_offline(ctx, server)
    got = scan(page, card["qr"])
    assert got["status"] == "static_not_allowed" and not got["valid"], dump(got)
    assert not errors, errors
    ctx.close()


def test_an_expired_bundle_verifies_nothing(
    server: LiveServer, browser: Any, shop: dict[str, Any]
) -> None:
    card = server.issue(502)
    revoked = server.issue(503)
    server.http.post(
        f"/v1/admin/cards/{revoked['card_id']}/revoke", json={"reason": "x"}, headers=server.admin()
    )
    assert wait_for(lambda: bundle_knows(server, shop["api_key"], revoked["qr"], "revoked"), 30)
    assert bundle_knows(server, shop["api_key"], card["qr"])
    ctx, page, errors = desk(browser, server, shop["api_key"])
    download(page)
    expect(page.locator("#bundle-msg")).to_contain_text("已保存")
    go_offline(ctx, server)
    assert scan(page, card["qr"])["status"] == "valid"
    page.click("#verdict-next")

    later = datetime.fromtimestamp(time.time() + DAY + 3600, UTC)
    page.clock.set_fixed_time(later)
    for code in (card["qr"], revoked["qr"], "PTC1:NOT-A-CARD"):
        got = scan(page, code)
        assert got["status"] == "bundle_expired" and got["valid"] is False, dump(got)
        assert got["background"] != GREEN and got["icon"] != "✓"
        assert got["title"] == "离线数据包已过期"
        assert "请联网" in got["words"]
        page.screenshot(path=artifact("page-merchant-expired-bundle.png"))
        page.click("#verdict-next")
    expect(page.locator("#bundle-info")).to_contain_text("过期")
    expect(page.locator("#bundle-info")).to_contain_text("请联网")
    # Still nothing after a reload (the kept bundle is known to be expired).
    ctx.unroute(f"{server.url}/**")
    ctx.set_offline(False)
    page.reload()
    page.wait_for_selector("#desk:not([hidden])")
    page.clock.set_fixed_time(later)
    go_offline(ctx, server)
    got = scan(page, card["qr"])
    assert got["status"] == "bundle_expired", dump(got)
    assert not errors, errors
    ctx.close()


def test_a_replayed_older_bundle_is_refused(
    server: LiveServer, browser: Any, shop: dict[str, Any]
) -> None:
    """A replay of yesterday's bundle could hide a revocation made since: refused."""
    auth = {"Authorization": f"Bearer {shop['api_key']}"}
    older = server.http.get("/v1/offline-bundle", headers=auth).content
    time.sleep(1.1)  # bundles carry whole seconds
    server.background.signer.run_once(force=True)  # the write side re-signs
    assert server.http.get("/v1/offline-bundle", headers=auth).content != older
    ctx, page, errors = desk(browser, server, shop["api_key"])
    download(page)
    expect(page.locator("#bundle-msg")).to_contain_text("已保存")
    ctx.route(
        f"{server.url}/v1/offline-bundle",
        lambda r: r.fulfill(body=older, content_type="application/cose"),
    )
    download(page)
    assert page.get_attribute("#bundle-msg", "data-refused") == "older"
    expect(page.locator("#bundle-msg")).to_contain_text("更旧")
    assert not errors, errors
    ctx.close()
