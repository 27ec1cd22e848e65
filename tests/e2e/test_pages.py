"""The pages in a real browser (Debian's Chromium via Playwright) against a real server.

Holder: activation from the one-time link `#activate=CODE` (after the page asks; refused
the second time) or a typed code, a non-extractable P-256 key bound to the card, the live
PTP1 code read back from a screenshot and accepted by /v1/verify as device_bound, the code
renewing every 30 s, and the page working offline from the service worker. Merchant: the
camera (Chromium's fake camera fed a QR video) for a valid, a revoked and a stale code,
and offline checks against a downloaded bundle with the network cut.
Admin: the same API and permissions. Every page: 360×740 screenshots in test-artifacts/
and no serious axe-core violation.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the tests skip (or fail under CI) in require_browser()
    expect = None

from tests.e2e.browser_support import (
    ADMIN_TOKEN,
    PHONE,
    LiveServer,
    artifact,
    decode_qr_png,
    dump,
    launch,
    live_server,
    qr_y4m,
    require_browser,
    run_axe,
    wait_for,
)

pytestmark = pytest.mark.browser

MERCHANT_KEY_STORAGE = "cardservice.merchant.key"
GREEN, RED = "rgb(11, 107, 42)", "rgb(163, 0, 22)"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    require_browser()
    with live_server(tmp_path_factory.mktemp("pages") / "var") as live:
        yield live


@pytest.fixture(scope="module")
def pw() -> Iterator[Any]:
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(pw: Any) -> Iterator[Any]:
    b = launch(pw)
    yield b
    b.close()


@pytest.fixture(scope="module")
def shop(server: LiveServer) -> dict[str, Any]:
    """A dining merchant in Yubei that accepts static codes too (its key already works)."""
    merchant = server.merchant(name="渝北老火锅", categories=["dining"])
    auth = {"Authorization": f"Bearer {merchant['api_key']}"}
    assert wait_for(lambda: server.http.get("/v1/verifications", headers=auth).status_code == 200)
    return merchant


def phone_context(browser: Any, **kw: Any) -> Any:
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=1, locale="zh-CN", **kw)
    ctx.set_default_timeout(15_000)
    return ctx


def watch_errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def device_bound_card(server: LiveServer, seq: int) -> tuple[dict[str, Any], Any, str]:
    """A card bound (through the API) to a P-256 key held here: (card, key, bound PTC1)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from cardservice import credentials

    card = server.issue_activated(seq)
    key = ec.generate_private_key(ec.SECP256R1())
    nums = key.public_key().public_numbers()
    jwk = credentials.DeviceKey(x=nums.x.to_bytes(32, "big"), y=nums.y.to_bytes(32, "big")).to_jwk()
    resp = server.http.post(
        f"/v1/cards/{card['card_id']}/device-key",
        json={"jwk": jwk},
        headers={"Authorization": f"Bearer {card['holder_token']}"},
    )
    assert resp.status_code == 200, resp.text
    return card, key, resp.json()["qr"]


def presentation(ptc1: str, key: Any, t: int) -> str:
    from cardservice import credentials

    return credentials.encode_ptp1(credentials.b45decode(ptc1[5:]), t, key)


def activate(page: Any, server: LiveServer, card: dict[str, Any]) -> str:
    """Open the card's one-time link, say yes to adding it, wait for the live code."""
    page.goto(f"{server.url}{card['activation_url']}")
    page.click("#ask-yes")
    return shown_code(page, card)


def shown_code(page: Any, card: dict[str, Any]) -> str:
    """Wait until the page shows a live code of `card` (not of another card), and read it."""
    page.wait_for_function(
        "id => { const q = document.getElementById('qr');"
        " return q.dataset.card === id && !!q.dataset.code; }",
        arg=card["card_id"],
    )
    code: str = page.get_attribute("#qr", "data-code")
    return code


def page_token(page: Any) -> dict[str, str]:
    """The holder token this page's phone holds for the card it shows."""
    token: str = page.evaluate(
        "async () => (await (await import('/static/js/wallet.js')).currentCard()).token"
    )
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------------------------------
# Holder


def test_holder_activation_binds_a_device_key_and_shows_a_verifiable_live_code(
    server: LiveServer, browser: Any, shop: dict[str, Any]
) -> None:
    from cardservice import credentials

    card = server.issue(101)
    ctx = phone_context(browser)
    page = ctx.new_page()
    errors = watch_errors(page)
    code = activate(page, server, card)
    assert page.url.endswith("/holder"), "the code leaves the address bar after activation"

    # The server now holds the card reissued with this phone's public key.
    holder = page_token(page)
    view = server.http.get(f"/v1/cards/{card['card_id']}", headers=holder).json()
    assert view["device_bound"] is True and view["version"] == 2

    # The private key lives in IndexedDB and cannot be exported.
    key = page.evaluate(
        """async () => {
            const { currentCard } = await import('/static/js/wallet.js');
            const c = await currentCard();
            const k = c.keyPair.privateKey;
            let exported = true;
            try { await crypto.subtle.exportKey('jwk', k); } catch { exported = false; }
            return { extractable: k.extractable, curve: k.algorithm.namedCurve,
                     usages: k.usages, exported };
        }"""
    )
    assert key == {"extractable": False, "curve": "P-256", "usages": ["sign"], "exported": False}

    # What is on the screen is what the page says it shows, and it verifies as device-bound.
    texts = decode_qr_png(page.locator("#qr").screenshot())
    assert texts == [code], "the on-screen QR decodes to the page's current code"
    parsed = credentials.parse_credential(code)
    assert parsed.presentation == "device_bound"
    assert credentials.verify_holder_signature(parsed)
    assert abs(int(time.time()) - (parsed.presented_at or 0)) <= 5
    assert parsed.claims.device_key is not None
    verdict = server.verify_until(shop["api_key"], code, "valid")
    assert verdict["valid"] is True, dump(verdict)
    assert verdict["presentation"] == "device_bound"
    assert verdict["card"]["masked_name"] == "张*明"

    # The countdown is visible; the masked details are shown, never the full number.
    assert re.fullmatch(r"\d{1,2} 秒后自动更新", page.text_content("#countdown-text") or "")
    assert page.text_content("#d-name") == "张*明"
    assert card["card_number"] not in (page.text_content("#panel-card") or "")
    page.screenshot(path=artifact("page-holder-card.png"), full_page=True)

    # "Who checked my card": the merchant that just verified it, read by the holder token.
    def history_names_the_shop() -> bool:
        page.click("#tab-card")
        page.click("#tab-history")
        page.wait_for_timeout(300)
        return shop["name"] in (page.text_content("#history-list") or "")

    assert wait_for(history_names_the_shop, timeout=10), page.text_content("#history-list")
    assert "有效" in (page.text_content("#history-list") or "")
    page.screenshot(path=artifact("page-holder-history-checked.png"), full_page=True)
    assert not errors, errors
    ctx.close()


def test_holder_activates_with_the_one_time_link_once(server: LiveServer, browser: Any) -> None:
    card = server.issue(105)
    link = f"{server.url}{card['activation_url']}"
    assert re.fullmatch(r".*/holder#activate=[2-9A-HJ-NP-Z]{10}", link), link
    phone = phone_context(browser)
    page = phone.new_page()
    errors = watch_errors(page)
    page.goto(link)
    # The page asks before the link adds a card; nothing is redeemed before the answer.
    expect(page.locator("#ask")).to_be_visible()
    assert page.url.endswith("/holder"), "the code leaves the address bar"
    admin_view = server.http.get(f"/v1/admin/cards/{card['card_id']}", headers=server.admin())
    assert admin_view.json()["activation"]["state"] == "pending"
    page.click("#ask-yes")
    page.wait_for_selector("#qr[data-code]")
    assert page.text_content("#d-name") == "张*明"
    holder = page_token(page)
    view = server.http.get(f"/v1/cards/{card['card_id']}", headers=holder).json()
    assert view["device_bound"] is True and view["activation"]["state"] == "used"
    stored = page.evaluate(
        """async () => {
            const { loadWallet } = await import('/static/js/wallet.js');
            const w = await loadWallet();
            return { ids: w.cards.map((c) => c.cardId), current: w.current };
        }"""
    )
    assert stored == {"ids": [card["card_id"]], "current": card["card_id"]}

    # The same link on a second phone is refused in plain words, and nothing is stored.
    other = phone_context(browser)
    second = other.new_page()
    second.goto(link)
    second.click("#ask-yes")
    expect(second.locator("#activate-msg")).to_contain_text("已经用过")
    expect(second.locator("#activate-msg")).to_have_class(re.compile("message-error"))
    assert second.is_hidden("#card-app")
    stored_there = second.evaluate(
        "async () => (await (await import('/static/js/wallet.js')).loadWallet()).cards.length"
    )
    assert stored_there == 0
    second.screenshot(path=artifact("page-holder-activate-used.png"), full_page=True)
    assert not run_axe(second), dump(run_axe(second))
    # The first phone opening its link again keeps its card (and says why the code failed),
    # whether the page was open (a fragment change) or not (a fresh load).
    page.goto(link)
    page.click("#ask-yes")
    expect(page.locator("#card-problem")).to_contain_text("已经用过")
    assert page.is_hidden("#activate") and page.is_visible("#qr")
    fresh = phone.new_page()
    fresh.goto(link)
    fresh.click("#ask-yes")
    fresh.wait_for_selector("#qr[data-code]")
    expect(fresh.locator("#card-problem")).to_contain_text("已经用过")
    assert fresh.text_content("#d-name") == "张*明"
    assert not errors, errors
    other.close()
    phone.close()


def test_holder_activates_with_a_typed_code(server: LiveServer, browser: Any) -> None:
    card = server.issue(106)
    code = card["activation_code"]
    ctx = phone_context(browser)
    page = ctx.new_page()
    errors = watch_errors(page)
    page.goto(f"{server.url}/holder")
    page.wait_for_selector("#activate:not([hidden])")
    page.fill("#activation-code", "ABC")
    page.click("#activate-form button[type=submit]")
    expect(page.locator("#activate-msg")).to_contain_text("10位")
    page.fill("#activation-code", "ZZZZZ ZZZZZ")
    page.click("#activate-form button[type=submit]")
    expect(page.locator("#activate-msg")).to_contain_text("找不到")
    # Typed as an elderly holder might: lower case, a space instead of the dash.
    page.fill("#activation-code", code.lower().replace("-", " "))
    page.click("#activate-form button[type=submit]")
    page.wait_for_selector("#qr[data-code]")
    view = server.http.get(f"/v1/cards/{card['card_id']}", headers=page_token(page)).json()
    assert view["device_bound"] is True
    assert not errors, errors
    ctx.close()


def test_holder_code_renews_every_30_seconds(server: LiveServer, browser: Any) -> None:
    card = server.issue(102)
    ctx = phone_context(browser)
    page = ctx.new_page()
    activate(page, server, card)
    # A second page in the same phone profile, with a controllable clock.
    live = ctx.new_page()
    live.clock.install()
    live.goto(f"{server.url}/holder")
    live.wait_for_selector("#qr[data-code]")
    first, t1 = live.get_attribute("#qr", "data-code"), int(live.get_attribute("#qr", "data-t"))
    live.clock.run_for(10_000)
    assert int(live.get_attribute("#qr", "data-t")) == t1, "no renewal inside the 30 s"
    left = re.match(r"(\d+) 秒后自动更新", live.text_content("#countdown-text") or "")
    assert left and 15 <= int(left.group(1)) <= 20, "the countdown moved on by 10 s"
    live.clock.run_for(21_000)
    renewed = wait_for(lambda: live.get_attribute("#qr", "data-code") != first, timeout=10)
    assert renewed, "a new code after 30 s"
    t2 = int(live.get_attribute("#qr", "data-t"))
    assert 30 <= t2 - t1 <= 32
    shown = decode_qr_png(live.locator("#qr").screenshot())
    assert shown == [live.get_attribute("#qr", "data-code")]
    ctx.close()


def publish_bus_benefit(server: LiveServer) -> bool:
    """A Chongqing-wide catalog with one benefit; False while the catalog API is not served."""
    body = {
        "effective_from": "2020-01-01",
        "benefits": [
            {
                "id": "cq-bus-test",
                "title": "重庆公交免费乘坐",
                "partner": "重庆公交集团",
                "category": "transport",
                "discount": "免费",
                "holder_categories": ["veteran"],
                "local_only": True,
                "merchant_categories": ["bus"],
            },
        ],
    }
    resp = server.http.put("/v1/admin/regions/500000/catalog", json=body, headers=server.admin())
    if resp.status_code == 404:
        return False
    assert resp.status_code == 201, resp.text
    return bool(
        wait_for(lambda: "cq-bus-test" in server.http.get("/v1/catalog/500112").text, timeout=10)
    )


def test_holder_page_works_offline_after_the_first_visit(server: LiveServer, browser: Any) -> None:
    catalog_served = publish_bus_benefit(server)
    card = server.issue(103)
    ctx = phone_context(browser)
    page = ctx.new_page()
    activate(page, server, card)
    page.click("#tab-benefits")
    page.wait_for_selector("#benefit-list li")
    controlled = wait_for(
        lambda: page.evaluate("!!navigator.serviceWorker.controller") or (page.reload() and False),
        timeout=15,
    )
    assert controlled, "the service worker controls the page"
    # Cut the network: nothing reaches the server any more.
    ctx.set_offline(True)
    ctx.route(f"{server.url}/**", lambda route: route.abort("internetdisconnected"))
    page.reload()
    page.wait_for_selector("#qr[data-code]")
    assert page.is_visible("#offline-banner")
    shown = decode_qr_png(page.locator("#qr").screenshot())
    assert shown == [page.get_attribute("#qr", "data-code")]
    page.click("#tab-benefits")
    page.wait_for_selector("#benefit-list li")
    if catalog_served:  # the catalog seen online is still there, and says it is a saved copy
        expect(page.locator("#benefit-list")).to_contain_text("重庆公交免费乘坐")
        expect(page.locator("#benefit-note")).to_contain_text("离线显示")
    page.screenshot(path=artifact("page-holder-offline.png"), full_page=True)
    ctx.close()


def test_holder_language_switch_is_remembered(server: LiveServer, browser: Any) -> None:
    ctx = phone_context(browser)
    page = ctx.new_page()
    page.goto(f"{server.url}/holder")
    page.wait_for_selector("#activate:not([hidden])")
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.text_content("#activate-title") == "激活电子优待证"
    page.click("#lang-switch")
    assert page.get_attribute("html", "lang") == "en"
    assert page.text_content("#activate-title") == "Activate your electronic card"
    page.reload()
    page.wait_for_selector("#activate:not([hidden])")
    assert page.get_attribute("html", "lang") == "en"
    assert page.text_content("#activate-title") == "Activate your electronic card"
    assert page.get_attribute("#lang-switch", "lang") == "zh-CN"
    ctx.close()


# ---------------------------------------------------------------------------------------
# Merchant


def signed_in_merchant_page(ctx: Any, server: LiveServer, key: str) -> Any:
    ctx.add_init_script(f"localStorage.setItem({MERCHANT_KEY_STORAGE!r}, {key!r})")
    page = ctx.new_page()
    page.add_init_script(
        "window.__sounds = [];"
        "window.addEventListener('verdict-sound', e => __sounds.push(e.detail.ok));"
    )
    page.goto(f"{server.url}/merchant")
    page.wait_for_selector("#desk:not([hidden])")
    return page


def verdict_of(page: Any) -> dict[str, Any]:
    page.wait_for_selector("#verdict:not([hidden])")
    return {
        "status": page.get_attribute("#verdict", "data-status"),
        "valid": page.get_attribute("#verdict", "data-valid") == "true",
        "offline": page.get_attribute("#verdict", "data-offline") == "true",
        "title": page.text_content("#verdict-title"),
        "words": page.text_content("#verdict-status"),
        "mode": page.text_content("#verdict-mode"),
        "background": page.eval_on_selector("#verdict", "e => getComputedStyle(e).backgroundColor"),
        "sounds": page.evaluate("window.__sounds"),
    }


def test_merchant_camera_verdicts_valid_revoked_and_stale(
    server: LiveServer, pw: Any, shop: dict[str, Any], tmp_path: Path
) -> None:
    now = int(time.time())
    _, valid_key, valid_ptc1 = device_bound_card(server, 201)
    _, stale_key, stale_ptc1 = device_bound_card(server, 202)
    revoked = server.issue(203)
    resp = server.http.post(
        f"/v1/admin/cards/{revoked['card_id']}/revoke",
        json={"reason": "lost"},
        headers=server.admin(),
    )
    assert resp.status_code == 200
    cases = [
        ("valid", presentation(valid_ptc1, valid_key, now), True, GREEN),
        ("revoked", revoked["qr"], False, RED),
        ("stale_presentation", presentation(stale_ptc1, stale_key, now - 120), False, RED),
    ]
    for status, code, _, _ in cases:  # the verification path's views have caught up
        assert server.verify_until(shop["api_key"], code, status)["status"] == status
    for status, code, valid, colour in cases:
        video = qr_y4m(code, tmp_path / f"{status}.y4m")
        camera = launch(
            pw,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        )
        try:
            ctx = phone_context(camera, permissions=["camera"])
            page = signed_in_merchant_page(ctx, server, shop["api_key"])
            errors = watch_errors(page)
            page.click("#camera-toggle")
            got = verdict_of(page)
            assert got["status"] == status, dump(got)
            assert got["valid"] is valid and got["offline"] is False
            assert got["background"] == colour
            assert got["sounds"] == [valid]
            assert got["words"] == ("可以享受优待" if valid else "不能使用")
            page.screenshot(path=artifact(f"page-merchant-verdict-{status}.png"))
            assert not errors, errors
        finally:
            camera.close()


def test_merchant_requires_the_live_code_where_configured(server: LiveServer, browser: Any) -> None:
    gate = server.merchant(
        name="统景温泉景区",
        kind="scenic_site",
        categories=["scenic"],
        a_level=4,
        require_device_binding=True,
    )
    card = server.issue(204)
    assert server.verify_until(gate["api_key"], card["qr"], "static_not_allowed")
    ctx = phone_context(browser)
    page = signed_in_merchant_page(ctx, server, gate["api_key"])
    page.fill("#manual-code", card["qr"] + "\n")
    page.press("#manual-code", "Enter")
    got = verdict_of(page)
    assert got["status"] == "static_not_allowed" and got["title"] == "本店只接受手机动态码"
    ctx.close()


def test_merchant_offline_mode_with_a_downloaded_bundle(
    server: LiveServer, browser: Any, shop: dict[str, Any]
) -> None:
    now = int(time.time())
    _, key, ptc1 = device_bound_card(server, 301)
    revoked = server.issue(302)
    server.http.post(
        f"/v1/admin/cards/{revoked['card_id']}/revoke", json={"reason": "x"}, headers=server.admin()
    )
    assert server.verify_until(shop["api_key"], revoked["qr"], "revoked")["status"] == "revoked"
    server.background.signer.run_once(force=True)  # the write side re-signs (within 5 s)
    ctx = phone_context(browser)
    page = signed_in_merchant_page(ctx, server, shop["api_key"])
    page.click("#bundle-download")
    expect(page.locator("#bundle-msg")).to_contain_text("已保存")
    assert "更新于" in (page.text_content("#bundle-info") or "")

    ctx.set_offline(True)
    ctx.route(f"{server.url}/**", lambda route: route.abort("internetdisconnected"))
    expect(page.locator("#mode-pill")).to_have_text("离线核验")
    for code, status in [
        (presentation(ptc1, key, int(time.time())), "valid"),
        (revoked["qr"], "revoked"),
        (presentation(ptc1, key, now - 300), "stale_presentation"),
        ("PTC1:NOT-A-CARD", "malformed"),
    ]:
        page.fill("#manual-code", code)
        page.press("#manual-code", "Enter")
        got = verdict_of(page)
        assert got["status"] == status, dump(got)
        assert got["offline"] is True and "离线核验" in got["mode"] and "前" in got["mode"]
        if status == "valid":
            page.screenshot(path=artifact("page-merchant-offline-valid.png"))
        page.click("#verdict-next")
    ctx.close()


# ---------------------------------------------------------------------------------------
# Admin


def test_admin_issues_looks_up_and_changes_status_with_history(
    server: LiveServer, browser: Any
) -> None:
    from tests.factories import id_number

    ctx = browser.new_context(viewport={"width": 1024, "height": 900})
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    errors = watch_errors(page)
    page.goto(f"{server.url}/admin")
    page.fill("#admin-token", "wrong-token")
    page.click("#signin-form button")
    expect(page.locator("#signin-msg")).to_have_class(re.compile("message-error"))
    assert page.is_hidden("#console")
    page.fill("#admin-token", ADMIN_TOKEN)
    page.click("#signin-form button")
    page.wait_for_selector("#console:not([hidden])")

    page.fill("#issue-name", "李四光")
    page.fill("#issue-id-number", id_number(401))
    page.select_option("#issue-category", "martyr_family")
    page.fill("#issue-region", "500112")
    page.click("#issue-form button[type=submit]")
    page.wait_for_selector("#issue-result:not([hidden])")
    link = page.get_attribute("#activation-link", "href") or ""
    assert re.fullmatch(rf"{server.url}/holder#activate=[2-9A-HJ-NP-Z]{{10}}", link), link
    code = page.text_content("#activation-code-out") or ""
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{5}-[2-9A-HJ-NP-Z]{5}", code), code
    assert link.endswith(code.replace("-", ""))
    assert "只能使用一次" in (page.text_content("#activation-expires") or "")
    page.wait_for_selector("#card-detail:not([hidden])")
    assert "烈士遗属" in (page.text_content("#card-fields") or "")
    assert "待激活" in (page.text_content("#card-fields") or "")

    page.click("#status-form [data-action=suspend]")
    assert "请填写原因" in (page.text_content("#card-msg") or "")
    page.fill("#status-reason", "证件遗失")
    page.click("#status-form [data-action=suspend]")
    expect(page.locator("#card-msg")).to_contain_text("已暂停")
    page.fill("#status-reason", "again")
    page.click("#status-form [data-action=suspend]")
    expect(page.locator("#card-msg")).to_have_class(re.compile("message-error"))
    rows = page.locator("#history-table tbody tr")
    assert rows.count() == 3  # Issued, ActivationCodeIssued, Suspended
    assert "证件遗失" in (rows.nth(2).text_content() or "")

    # A lost phone: a new one-time code replaces the first.
    page.click("#new-activation")
    page.wait_for_selector("#new-activation-result:not([hidden])")
    expect(page.locator("#card-msg")).to_have_class(re.compile("message-ok"))
    fresh = page.text_content("#new-activation-code-out") or ""
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{5}-[2-9A-HJ-NP-Z]{5}", fresh) and fresh != code
    expect(rows).to_have_count(4)
    old = server.http.post("/v1/activate", json={"code": code})
    assert old.status_code == 410 and old.json()["error"] == "code_superseded"
    assert server.http.post("/v1/activate", json={"code": fresh}).status_code == 200
    violations = run_axe(page)  # the code, its link and QR shown to the officer
    assert not violations, dump(violations)

    page.click("#tab-merchants")
    page.fill("#m-name", "洪崖洞")
    page.fill("#m-region", "500103")
    page.select_option("#m-kind", "scenic_site")
    page.fill("#m-categories", "scenic")
    page.fill("#m-a-level", "4")
    page.click("#merchant-form button[type=submit]")
    page.wait_for_selector("#merchant-result:not([hidden])")
    assert len(page.text_content("#merchant-key-out") or "") > 20
    assert not errors, errors
    ctx.close()


def test_admin_catalog_editor_drafts_diffs_and_schedules(server: LiveServer, browser: Any) -> None:
    from datetime import date, timedelta

    base = {
        "effective_from": date.today().isoformat(),
        "benefits": [
            {
                "id": "hotpot",
                "title": "火锅九折",
                "partner": "渝北餐饮协会",
                "category": "dining",
                "discount": "九折",
                "holder_categories": ["veteran"],
                "local_only": False,
                "merchant_categories": ["dining"],
                "limit": {"count": 2, "per": "day"},
            },
        ],
    }
    resp = server.http.put("/v1/admin/regions/500112/catalog", json=base, headers=server.admin())
    if resp.status_code == 404:
        pytest.skip("PUT /v1/admin/regions/{region}/catalog is not served yet")
    assert resp.status_code == 201, resp.text
    wait_for(lambda: server.http.get("/v1/catalog/500112").json()["benefits"], timeout=10)
    ctx = browser.new_context(viewport={"width": 1024, "height": 900})
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    page.goto(f"{server.url}/admin")
    page.fill("#admin-token", ADMIN_TOKEN)
    page.click("#signin-form button")
    page.click("#tab-catalog")
    # The clerk names the region as the list offers it, not by its code.
    assert page.locator("#region-names option[value='重庆市 渝北区']").count() == 1
    page.fill("#catalog-region", "重庆市 渝北区")
    page.click("#catalog-load button")
    page.wait_for_selector("#catalog-editor:not([hidden])")
    assert "500112" in (page.text_content("#catalog-current") or "")
    assert "相同" in (page.text_content("#draft-diff") or "")
    page.fill("#b0-discount", "八折")
    # The existing limit: a new count, then a new period; both stay.
    page.fill("#b0-limit", "5")
    page.select_option("#b0-limit-per", "year")
    page.click("#draft-add")
    page.fill("#b1-id", "taxi")
    page.fill("#b1-title", "出租车优先")
    page.fill("#b1-partner", "渝北出租车公司")
    page.fill("#b1-category", "transport")
    page.fill("#b1-discount", "优先派车")
    # Two new benefits limited to 3 a month with one companion: the count typed before the
    # period on one, after it on the other (the editor once kept only the last of the two).
    for n, (ident, count_first) in enumerate((("noodles", True), ("museum", False)), start=2):
        page.click("#draft-add")
        page.fill(f"#b{n}-id", ident)
        page.fill(f"#b{n}-title", f"{ident} 限次")
        page.fill(f"#b{n}-partner", "渝北文旅")
        page.fill(f"#b{n}-category", "scenic")
        page.fill(f"#b{n}-discount", "半价")
        if count_first:
            page.fill(f"#b{n}-limit", "3")
            page.select_option(f"#b{n}-limit-per", "month")
        else:
            page.select_option(f"#b{n}-limit-per", "month")
            page.fill(f"#b{n}-limit", "3")
        page.fill(f"#b{n}-companions", "1")
    diff = page.text_content("#draft-diff") or ""
    assert "新增" in diff and "taxi" in diff and "修改" in diff and "八折" in diff
    future = (date.today() + timedelta(days=7)).isoformat()
    page.fill("#effective-from", future)
    page.click("#publish-form button")
    expect(page.locator("#catalog-msg")).to_contain_text("已发布")
    page.screenshot(path=artifact("page-admin-catalog.png"), full_page=True)

    def published_ids(day: str) -> list[str]:
        benefits = server.http.get(f"/v1/catalog/500112?at={day}").json()["benefits"]
        return [b["id"] for b in benefits if b["region"] == "500112"]

    want = ["hotpot", "taxi", "noodles", "museum"]
    later = wait_for(lambda: published_ids(future) == want, timeout=10)
    assert later, "the new version is in force from its date"
    published = {
        b["id"]: (b.get("limit"), b.get("companions", 0))
        for b in server.http.get(f"/v1/catalog/500112?at={future}").json()["benefits"]
        if b["region"] == "500112"
    }
    assert published == {
        "hotpot": ({"count": 5, "per": "year"}, 0),
        "taxi": (None, 0),
        "noodles": ({"count": 3, "per": "month"}, 1),
        "museum": ({"count": 3, "per": "month"}, 1),
    }
    today = server.http.get("/v1/catalog/500112").json()["benefits"]
    assert [b["discount"] for b in today if b["region"] == "500112"] == ["九折"]
    ctx.close()


# ---------------------------------------------------------------------------------------
# Every page: phone layout, screenshots, accessibility


def test_every_page_at_360_wide_is_readable_and_passes_axe(
    server: LiveServer, browser: Any, shop: dict[str, Any]
) -> None:
    card = server.issue(501)
    ctx = phone_context(browser)
    page = ctx.new_page()
    views: list[tuple[str, Any]] = []

    def check(name: str) -> None:
        page.screenshot(path=artifact(f"page-{name}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        widest = page.evaluate(  # name what sticks out, so a failure says where
            "() => [...document.querySelectorAll('body *')]"
            ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)"
            ".slice(0, 3).map(e => e.tagName + '#' + e.id + '.' + e.className)"
        )
        assert overflow <= 0, f"{name}: {overflow}px wider than the phone ({widest})"
        violations = run_axe(page)
        assert not violations, f"{name}: {dump(violations)}"
        views.append((name, page.url))

    page.goto(f"{server.url}/")
    check("landing")
    page.goto(f"{server.url}/holder")
    page.wait_for_selector("#activate:not([hidden])")
    check("holder-activate")
    activate(page, server, card)
    size = page.eval_on_selector("#countdown-text", "e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 24, "large type for the countdown"
    check("holder-card")
    page.click("#tab-benefits")
    page.wait_for_selector("#benefit-list li")
    check("holder-benefits")
    page.click("#tab-history")
    page.wait_for_selector("#history-list li")
    check("holder-history")
    page.click("#lang-switch")
    page.click("#tab-card")
    check("holder-card-en")
    page.click("#lang-switch")

    page.goto(f"{server.url}/merchant")
    page.wait_for_selector("#signin:not([hidden])")
    check("merchant-signin")
    page.fill("#merchant-key", shop["api_key"])
    page.click("#signin-form button")
    page.wait_for_selector("#desk:not([hidden])")
    check("merchant-desk")
    server.verify_until(shop["api_key"], card["qr"], "superseded")
    page.fill("#manual-code", card["qr"])
    page.press("#manual-code", "Enter")
    page.wait_for_selector("#verdict:not([hidden])")
    check("merchant-verdict-superseded")
    page.click("#verdict-next")

    page.goto(f"{server.url}/admin")
    page.wait_for_selector("#signin:not([hidden])")
    check("admin-signin")
    page.fill("#admin-token", ADMIN_TOKEN)
    page.click("#signin-form button")
    page.wait_for_selector("#console:not([hidden])")
    page.click("details.panel-quiet summary")  # the console's lookup by card id
    page.fill("#lookup-id", card["card_id"])
    page.click("#lookup-form button")
    page.wait_for_selector("#card-detail:not([hidden])")
    check("admin-card")
    page.click("#tab-merchants")
    check("admin-merchants")
    page.click("#tab-catalog")
    page.fill("#catalog-region", "500112")
    page.click("#catalog-load button")
    page.wait_for_selector("#catalog-editor:not([hidden]), #catalog-msg.message-error")
    check("admin-catalog-phone")
    assert len(views) == 13
    ctx.close()
