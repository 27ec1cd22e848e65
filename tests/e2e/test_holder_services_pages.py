"""Holder services in a real browser (Debian's Chromium via Playwright) at 360×740: the
inbox, filing an appeal, the remembered text size, read-aloud (the page's utterances are
recorded by wrapping the browser's own speechSynthesis.speak, which still runs), and
axe-core on each view; screenshots in test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.browser_support import (
    ADMIN_TOKEN,
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
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

RECORD_SPEECH = """
window.__spoken = [];
if ('speechSynthesis' in window) {
  const speak = window.speechSynthesis.speak.bind(window.speechSynthesis);
  window.speechSynthesis.speak = (u) => {
    window.__spoken.push({ text: u.text, lang: u.lang });
    speak(u);
  };
}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    require_browser()
    with live_server(tmp_path_factory.mktemp("holder-services") / "var") as live:
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def phone(browser: Any) -> Any:
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=1, locale="zh-CN")
    ctx.set_default_timeout(15_000)
    ctx.add_init_script(RECORD_SPEECH)
    return ctx


def open_card(page: Any, server: LiveServer, card: dict[str, Any]) -> None:
    page.goto(f"{server.url}{card['activation_url']}")  # the one-time link, as a holder's
    page.click("#ask-yes")
    page.wait_for_selector("#card-app:not([hidden])")
    page.wait_for_selector("#qr[data-code]")


def check(page: Any, name: str) -> None:
    page.screenshot(path=artifact(f"holder-services-{name}.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: {overflow}px wider than the phone"
    violations = run_axe(page)
    assert not violations, f"{name}: {dump(violations)}"


def test_inbox_shows_status_changes(server: LiveServer, browser: Any) -> None:
    card = server.issue(601)
    ctx = phone(browser)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    open_card(page, server, card)
    for action in ("suspend", "reinstate"):
        resp = server.http.post(
            f"/v1/admin/cards/{card['card_id']}/{action}", json={"reason": "核查"}, headers=ADMIN
        )
        assert resp.status_code == 200, resp.text

    def inbox_has_all() -> bool:
        page.click("#tab-card")
        page.click("#tab-inbox")
        page.wait_for_timeout(300)
        # The page bound its key first (a reissue), then the bureau suspended, reinstated.
        return page.locator("#notice-list li.notice").count() == 3

    assert wait_for(inbox_has_all, timeout=15), page.text_content("#notice-list")
    kinds = page.eval_on_selector_all("#notice-list li", "els => els.map(e => e.dataset.kind)")
    assert kinds == ["reinstated", "suspended", "reissued"]
    assert "暂停" in (page.text_content("#notice-list") or "")
    # The reissue is the phone binding its own key: said so, not "old codes no longer work".
    bound = page.text_content("#notice-list li[data-kind=reissued]") or ""
    assert "已与这部手机绑定" in bound and "不再有效" not in bound, bound
    check(page, "inbox")
    page.click("#lang-switch")
    assert wait_for(lambda: "suspended" in (page.text_content("#notice-list") or ""))
    check(page, "inbox-en")
    page.click("#lang-switch")
    assert not errors, errors
    ctx.close()


def test_text_size_is_remembered(server: LiveServer, browser: Any) -> None:
    card = server.issue(602)
    ctx = phone(browser)
    page = ctx.new_page()
    open_card(page, server, card)
    root_px = "parseFloat(getComputedStyle(document.documentElement).fontSize)"
    assert page.evaluate(root_px) == 20
    page.click("#text-size")
    assert page.evaluate(root_px) == 24
    assert page.get_attribute("#text-size", "aria-label") == "A+ 字号: 大"
    page.reload()
    page.wait_for_selector("#card-app:not([hidden])")
    assert page.evaluate(root_px) == 24, "remembered across a reload"
    page.click("#text-size")
    assert page.evaluate(root_px) == 28
    page.wait_for_selector("#qr[data-code]")
    check(page, "card-text-xl")
    page.goto(f"{server.url}/merchant")
    assert page.evaluate(root_px) == 28, "the same size on every page"
    page.click("#text-size")
    assert page.evaluate(root_px) == 20
    ctx.close()


def test_read_aloud_reads_the_card_in_chinese(server: LiveServer, browser: Any) -> None:
    card = server.issue(603)
    ctx = phone(browser)
    page = ctx.new_page()
    open_card(page, server, card)
    page.click("#panel-card .read-aloud")
    spoken = page.evaluate("window.__spoken")
    assert len(spoken) == 1 and spoken[0]["lang"] == "zh-CN", spoken
    assert "张*明" in spoken[0]["text"] and "退役军人" in spoken[0]["text"]
    page.click("#tab-benefits")
    page.wait_for_selector("#benefit-list li")
    page.click("#panel-benefits .read-aloud")
    spoken = page.evaluate("window.__spoken")
    assert len(spoken) == 2 and spoken[1]["text"], spoken
    ctx.close()


def test_holder_appeals_a_check_and_the_bureau_answers_in_the_queue(
    server: LiveServer, browser: Any
) -> None:
    card = server.issue(604)
    shop = server.merchant(name="渝北申诉测试店")
    ctx = phone(browser)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    open_card(page, server, card)
    code = page.get_attribute("#qr", "data-code")
    assert server.verify_until(shop["api_key"], code, "valid")["valid"]

    def check_listed() -> bool:
        page.click("#tab-card")
        page.click("#tab-history")
        page.wait_for_timeout(300)
        return page.locator("#history-list li .appeal-this").count() >= 1

    assert wait_for(check_listed, timeout=15), page.text_content("#history-list")
    page.click("#history-list li .appeal-this")
    assert page.is_visible("#panel-inbox") and page.is_visible("#appeal-about")
    page.fill("#appeal-text", "收银员不认这张卡，请核实。")
    check(page, "appeal-form")

    # The first answer is lost on the way back (the server filed the appeal); the holder
    # taps again, twice: one more request, with the same Idempotency-Key, one appeal.
    keys: list[str] = []

    def lose_first_answer(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        keys.append(route.request.headers.get("idempotency-key", ""))
        if len(keys) == 1:
            assert route.fetch().status == 201  # reached the server
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/v1/cards/*/appeals", lose_first_answer)
    page.click("#appeal-form button[type=submit]")
    assert wait_for(lambda: "网络" in (page.text_content("#appeal-msg") or ""))
    page.dblclick("#appeal-form button[type=submit]")
    assert wait_for(lambda: "申诉已提交" in (page.text_content("#appeal-msg") or ""))
    page.unroute("**/v1/cards/*/appeals")
    assert len(keys) == 2 and keys[0] == keys[1] and len(keys[0]) >= 16, keys

    # The bureau's queue on the admin page.
    admin = ctx.new_page()
    admin.on("pageerror", lambda exc: errors.append(str(exc)))
    admin.goto(f"{server.url}/admin")
    admin.fill("#admin-token", ADMIN_TOKEN)
    admin.click("#signin-form button")
    admin.wait_for_selector("#console:not([hidden])")

    def queued() -> bool:
        admin.click("#tab-cards")
        admin.click("#tab-appeals")
        admin.wait_for_timeout(300)
        return admin.locator("#appeals-queue li[data-appeal]").count() >= 1

    assert wait_for(queued, timeout=15), admin.text_content("#appeals-queue")
    mine = admin.locator("#appeals-queue li[data-appeal]", has_text="收银员不认这张卡")
    assert mine.count() == 1  # the retried filing is the same appeal
    entry = admin.locator("#appeals-queue li[data-appeal]").first
    assert "收银员不认这张卡" in (entry.text_content() or "")
    assert shop["name"] in (entry.text_content() or "")
    check(admin, "admin-appeals-queue")
    entry.locator("textarea").fill("已核实，已联系商户。")
    entry.locator("button[value=upheld]").click()
    assert wait_for(lambda: "已答复" in (admin.text_content("#appeals-msg") or ""))

    def answered_in_inbox() -> bool:
        page.click("#tab-card")
        page.click("#tab-inbox")
        page.wait_for_timeout(300)
        return page.locator("#notice-list li[data-kind=appeal_answered]").count() == 1

    assert wait_for(answered_in_inbox, timeout=15), page.text_content("#notice-list")
    assert "已核实" in (page.text_content("#appeal-list") or "")
    check(page, "inbox-appeal-answered")
    assert not errors, errors
    ctx.close()


def test_merchant_sees_the_photo_beside_the_verdict(server: LiveServer, browser: Any) -> None:
    import io

    from PIL import Image

    card = server.issue(605)
    picture = io.BytesIO()
    Image.new("RGB", (90, 120), (30, 90, 160)).save(picture, "JPEG")
    resp = server.http.put(
        f"/v1/admin/cards/{card['card_id']}/photo",
        content=picture.getvalue(),
        headers={**ADMIN, "Content-Type": "image/jpeg"},
    )
    assert resp.status_code == 204, resp.text
    shop = server.merchant(name="渝北照片测试店")
    server.verify_until(shop["api_key"], card["qr"], "valid")
    ctx = phone(browser)
    page = ctx.new_page()
    page.goto(f"{server.url}/merchant")
    page.fill("#merchant-key", shop["api_key"])
    page.click("#signin-form button")
    page.wait_for_selector("#desk:not([hidden])")
    page.fill("#manual-code", card["qr"])
    page.press("#manual-code", "Enter")
    page.wait_for_selector("#verdict:not([hidden])")
    page.wait_for_selector("#verdict-photo:not([hidden])")
    width = page.eval_on_selector("#verdict-photo", "e => e.getBoundingClientRect().width")
    assert width >= 200, "shown large"
    assert page.eval_on_selector("#verdict-photo", "e => e.naturalWidth") == 90
    page.click("#verdict .read-aloud")
    spoken = page.evaluate("window.__spoken")
    assert spoken and spoken[-1]["lang"] == "zh-CN" and "有效" in spoken[-1]["text"], spoken
    check(page, "merchant-verdict-photo")
    page.click("#verdict-next")
    assert page.is_hidden("#verdict-photo")
    ctx.close()
