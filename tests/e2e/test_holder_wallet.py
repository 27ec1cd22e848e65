"""Several cards on one phone, in a real browser (Debian's Chromium via Playwright) against a
real server: the page asks before a link adds a card (a crafted link never swaps the card
or discards its key), keeps each card with its own session and non-extractable key, moves
between them with a big switcher, and "remove from this phone" ends the session and
deletes the key. A card activated on another phone says so here. 360×740 screenshots in
test-artifacts/ and no serious axe-core violation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the tests skip (or fail under CI) in require_browser()
    expect = None

from tests.e2e.browser_support import (
    LiveServer,
    artifact,
    dump,
    launch,
    live_server,
    require_browser,
    run_axe,
    wait_for,
)
from tests.e2e.test_pages import activate, phone_context, shown_code, watch_errors

pytestmark = pytest.mark.browser

WALLET = """async () => {
    const { loadWallet } = await import('/static/js/wallet.js');
    const w = await loadWallet();
    const out = [];
    for (const c of w.cards) {
        const pub = await crypto.subtle.exportKey('jwk', c.keyPair.publicKey);
        out.push({ cardId: c.cardId, token: c.token, x: pub.x,
                   extractable: c.keyPair.privateKey.extractable });
    }
    return { current: w.current, cards: out };
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    require_browser()
    with live_server(tmp_path_factory.mktemp("wallet") / "var") as live:
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
    merchant = server.merchant(name="渝北老兵饭店", categories=["dining"])
    auth = {"Authorization": f"Bearer {merchant['api_key']}"}
    assert wait_for(lambda: server.http.get("/v1/verifications", headers=auth).status_code == 200)
    return merchant


def wallet(page: Any) -> dict[str, Any]:
    got: dict[str, Any] = page.evaluate(WALLET)
    return got


def by_id(state: dict[str, Any], card_id: str) -> dict[str, Any]:
    return next(c for c in state["cards"] if c["cardId"] == card_id)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def activation_state(server: LiveServer, card: dict[str, Any]) -> str:
    got = server.http.get(f"/v1/admin/cards/{card['card_id']}", headers=server.admin()).json()
    state: str = got["activation"]["state"]
    return state


def test_a_link_asks_before_it_adds_a_card_and_never_swaps_one(
    server: LiveServer, browser: Any
) -> None:
    mine = server.issue(601, name="张三明")
    crafted = server.issue(602, name="李四光")  # someone else's card, sent as a link
    ctx = phone_context(browser)
    page = ctx.new_page()
    errors = watch_errors(page)
    activate(page, server, mine)
    before = wallet(page)

    page.goto(f"{server.url}{crafted['activation_url']}")
    question = page.locator("#ask")
    expect(question).to_be_visible()
    expect(page.locator("#ask-title")).to_contain_text("添加")
    expect(page.locator("#ask-cards")).to_contain_text("张*明")  # the card that stays
    assert page.is_hidden("#card-app") and page.is_hidden("#activate")
    assert page.url.endswith("/holder"), "the code leaves the address bar before the answer"
    page.screenshot(path=artifact("page-holder-ask-add.png"), full_page=True)
    assert not run_axe(page), dump(run_axe(page))
    page.click("#ask-no")
    # Declined: the same card, the same key, the same session; the link's code unused.
    assert shown_code(page, mine)
    expect(page.locator("#card-problem")).to_contain_text("没有添加")
    assert wallet(page) == before
    assert activation_state(server, crafted) == "pending"

    # The same link opened while the page is open (only the fragment changes) asks too.
    page.evaluate("link => { location.hash = link; }", crafted["activation_url"].split("#")[1])
    expect(question).to_be_visible()
    page.keyboard.press("Escape")  # also "no"
    assert shown_code(page, mine) and wallet(page) == before
    assert activation_state(server, crafted) == "pending"
    token = by_id(before, mine["card_id"])["token"]
    assert server.http.get(f"/v1/cards/{mine['card_id']}", headers=bearer(token)).status_code == 200
    assert not errors, errors
    ctx.close()


def test_two_cards_on_one_phone_with_a_switcher(
    server: LiveServer, browser: Any, shop: dict[str, Any]
) -> None:
    father = server.issue(611, name="王建国", category="disabled_veteran")
    son = server.issue(612, name="王小明", category="veteran")
    ctx = phone_context(browser)
    page = ctx.new_page()
    errors = watch_errors(page)
    activate(page, server, son)
    assert page.is_hidden("#switcher-cards"), "one card: nothing to switch between"
    page.goto(f"{server.url}{father['activation_url']}")
    expect(page.locator("#ask-cards")).to_contain_text("王*明")
    page.click("#ask-yes")
    father_code = shown_code(page, father)

    # Each card has its own session and its own non-extractable key, bound on the server.
    state = wallet(page)
    assert [c["cardId"] for c in state["cards"]] == [son["card_id"], father["card_id"]]
    assert state["current"] == father["card_id"]
    assert (
        len({c["x"] for c in state["cards"]}) == 2
        and len({c["token"] for c in state["cards"]}) == 2
    )
    assert not any(c["extractable"] for c in state["cards"])
    for c in state["cards"]:
        view = server.http.get(f"/v1/cards/{c['cardId']}", headers=bearer(c["token"])).json()
        assert view["device_bound"] is True
    other = by_id(state, son["card_id"])["token"]
    assert (
        server.http.get(f"/v1/cards/{father['card_id']}", headers=bearer(other)).status_code == 401
    )

    # The switcher: big buttons, the shown card pressed; each card's live code verifies.
    buttons = page.locator("#switcher-cards .switch-card")
    expect(buttons).to_have_count(2)
    pressed = page.locator("#switcher-cards [aria-pressed=true]")
    expect(pressed).to_contain_text("王*国")
    box = buttons.first.bounding_box()
    assert box and box["height"] >= 64 and box["width"] >= 140, box
    verdict = server.verify_until(shop["api_key"], father_code, "valid")
    assert verdict["card"]["masked_name"] == "王*国" and verdict["presentation"] == "device_bound"
    page.screenshot(path=artifact("page-holder-two-cards.png"), full_page=True)
    assert not run_axe(page), dump(run_axe(page))
    buttons.filter(has_text="王*明").click()
    son_code = shown_code(page, son)
    expect(page.locator("#d-name")).to_have_text("王*明")
    expect(pressed).to_contain_text("王*明")
    verdict = server.verify_until(shop["api_key"], son_code, "valid")
    assert verdict["card"]["masked_name"] == "王*明" and verdict["presentation"] == "device_bound"
    # The choice is remembered; both cards are still there after a reload.
    page.reload()
    assert shown_code(page, son)
    expect(buttons).to_have_count(2)
    assert not errors, errors
    ctx.close()


def test_remove_from_this_phone_ends_the_session_and_deletes_the_key(
    server: LiveServer, browser: Any
) -> None:
    first = server.issue(621, name="赵一鸣")
    second = server.issue(622, name="钱二宝")
    ctx = phone_context(browser)
    page = ctx.new_page()
    errors = watch_errors(page)
    activate(page, server, first)
    page.goto(f"{server.url}{second['activation_url']}")
    page.click("#ask-yes")
    shown_code(page, second)
    state = wallet(page)
    tokens = {c["cardId"]: c["token"] for c in state["cards"]}

    # Asked first; "keep" changes nothing.
    page.click("#remove-card")
    expect(page.locator("#ask-text")).to_contain_text("钱*宝")
    page.screenshot(path=artifact("page-holder-ask-remove.png"), full_page=True)
    page.click("#ask-no")
    assert shown_code(page, second) and wallet(page) == state

    page.click("#remove-card")
    page.click("#ask-yes")
    assert shown_code(page, first), "the other card is shown"
    left = wallet(page)
    assert [c["cardId"] for c in left["cards"]] == [first["card_id"]]
    assert left["current"] == first["card_id"]
    assert page.is_hidden("#switcher-cards")
    path = f"/v1/cards/{second['card_id']}"
    assert server.http.get(path, headers=bearer(tokens[second["card_id"]])).status_code == 401
    ok = server.http.get(f"/v1/cards/{first['card_id']}", headers=bearer(tokens[first["card_id"]]))
    assert ok.status_code == 200
    history = server.http.get(f"/v1/admin/cards/{second['card_id']}", headers=server.admin())
    assert any(
        h["type"] == "SessionEnded" and h["reason"] == "removed_from_phone"
        for h in history.json()["history"]
    )

    page.click("#remove-card")
    page.click("#ask-yes")
    expect(page.locator("#activate-msg")).to_contain_text("已从本手机删除")
    assert page.is_visible("#activate") and page.is_hidden("#card-app")
    assert wallet(page) == {"current": None, "cards": []}
    path = f"/v1/cards/{first['card_id']}"
    assert server.http.get(path, headers=bearer(tokens[first["card_id"]])).status_code == 401
    page.reload()
    page.wait_for_selector("#activate:not([hidden])")
    assert not errors, errors
    ctx.close()


def test_a_card_activated_on_another_phone_says_so(server: LiveServer, browser: Any) -> None:
    card = server.issue(631, name="孙大圣")
    old_phone = phone_context(browser)
    page = old_phone.new_page()
    activate(page, server, card)
    code = server.http.post(
        f"/v1/admin/cards/{card['card_id']}/activation",
        json={"reason": "new phone"},
        headers=server.admin(),
    ).json()["activation_code"]
    new_phone = phone_context(browser)
    other = new_phone.new_page()
    other.goto(f"{server.url}/holder")
    other.fill("#activation-code", code)  # typed: the holder's own action, no question
    other.click("#activate-form button[type=submit]")
    assert shown_code(other, card)
    page.reload()
    expect(page.locator("#card-problem")).to_contain_text("另一部手机")
    page.screenshot(path=artifact("page-holder-session-ended.png"), full_page=True)
    old_phone.close()
    new_phone.close()


def test_over_the_binding_limit_the_card_is_kept_and_says_so(
    server: LiveServer, browser: Any
) -> None:
    """The sixth binding of the day is 429: the phone keeps the card and its new session
    (the code is spent) and says to come back tomorrow, instead of losing both."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from cardservice import credentials
    from cardservice.domain.policy import DEVICE_BINDINGS_PER_DAY

    card = server.issue_activated(641, name="周六郎")
    for n in range(DEVICE_BINDINGS_PER_DAY):
        jwk = credentials.DeviceKey.from_public_key(
            ec.derive_private_key(0x7000 + n, ec.SECP256R1()).public_key()
        ).to_jwk()
        resp = server.http.post(
            f"/v1/cards/{card['card_id']}/device-key",
            json={"jwk": jwk},
            headers=bearer(card["holder_token"]),
        )
        assert resp.status_code == 200, resp.text
    link = server.http.post(
        f"/v1/admin/cards/{card['card_id']}/activation",
        json={"reason": "new phone"},
        headers=server.admin(),
    ).json()["activation_url"]
    ctx = phone_context(browser)
    page = ctx.new_page()
    errors = watch_errors(page)
    page.goto(f"{server.url}{link}")
    page.click("#ask-yes")
    expect(page.locator("#card-problem")).to_contain_text("上限")
    state = wallet(page)
    assert [c["cardId"] for c in state["cards"]] == [card["card_id"]]
    token = state["cards"][0]["token"]
    assert server.http.get(f"/v1/cards/{card['card_id']}", headers=bearer(token)).status_code == 200
    assert page.get_attribute("#qr", "data-code") is None, "no code from an unbound key"
    assert not errors, errors
    ctx.close()


def test_a_card_saved_before_the_wallet_moves_into_it(server: LiveServer, browser: Any) -> None:
    """A phone that kept one card (the old `holder.card` record, with the old permanent
    token) keeps it in the list, key included; the old token no longer opens it, and the
    page says what to do."""
    card = server.issue(651, name="吴老汉")
    ctx = phone_context(browser)
    page = ctx.new_page()
    page.goto(f"{server.url}/holder")
    page.wait_for_selector("#activate:not([hidden])")
    page.evaluate(
        """async ([cardId, qr]) => {
            const { store } = await import('/static/js/app.js');
            const { newDeviceKey } = await import('/static/js/ptc.js');
            const keyPair = await newDeviceKey();
            const view = { masked_name: '吴*汉', category: 'veteran', status: 'active',
                           region: '500112', card_number: '', expires: '' };
            await store.put('holder.card', { cardId, token: 'ht_' + 'A'.repeat(43), keyPair,
                                             qr, view, savedAt: Date.now() });
        }""",
        [card["card_id"], card["qr"]],
    )
    page.reload()
    expect(page.locator("#card-problem")).to_contain_text("另一部手机")
    state = wallet(page)
    assert [c["cardId"] for c in state["cards"]] == [card["card_id"]]
    assert state["cards"][0]["extractable"] is False
    old = page.evaluate("async () => (await import('/static/js/app.js')).store.get('holder.card')")
    assert old is None
    ctx.close()
