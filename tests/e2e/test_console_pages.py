"""The bureau console in a real browser: search to card detail, an import with its progress
bar and rejects download, a merchant edit, tokens and the audit viewer; keyboard use,
axe-core clean, screenshots kept (`-postgres` in the name for the PostgreSQL run). Every
test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
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
    ENGINES,
    LiveServer,
    dump,
    launch,
    live_server,
    require_browser,
    run_axe,
    wait_for,
)
from tests.factories import id_number

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Iterator[LiveServer]:
    require_browser()
    with live_server(tmp_path_factory.mktemp("console") / "var", engine) as live:
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1100, "height": 900}, accept_downloads=True)
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console", lambda m: errors.append(m.text) if m.type == "error" else None
    )  # a refused request logs too; tests that expect one clear the list
    page.goto(f"{server.url}/admin")
    page.fill("#admin-token", ADMIN_TOKEN)
    page.press("#admin-token", "Enter")  # the keyboard signs in
    page.wait_for_selector("#console:not([hidden])")
    page.errors = errors  # type: ignore[attr-defined]
    yield page
    ctx.close()


def axe_clean(page: Any) -> None:
    violations = run_axe(page)
    assert not violations, dump(violations)


def test_search_leads_to_the_card_detail(page: Any, server: LiveServer) -> None:
    card = server.issue(501, name="周八一")
    server.issue(502, name="周八一", region="500103")
    assert wait_for(
        lambda: (
            server.http.get("/v1/admin/cards", params={"name": "周八一"}, headers=server.admin())
            .json()["items"]
            .__len__()
            == 2
        )
    )
    page.select_option("#search-by", "name")
    page.fill("#search-term", "周八一")
    page.fill("#search-region", "重庆市 渝北区")
    page.press("#search-term", "Enter")
    rows = page.locator("#search-table tbody tr")
    expect(rows).to_have_count(1)
    assert "周*一" in (rows.first.text_content() or "")
    assert "渝北区" in (rows.first.text_content() or "")
    assert "周八一" not in (page.text_content("#search-table") or "")
    page.screenshot(path=server.artifact("console-search.png"), full_page=True)
    axe_clean(page)
    rows.first.locator("button").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#card-detail:not([hidden])")
    assert card["card_number"] in (page.text_content("#card-fields") or "")
    assert "有效" in (page.text_content("#card-status-words") or "")
    assert "发证" in (page.text_content("#history-table") or "")
    expect(page.locator("#card-notices")).to_be_visible()  # what the holder was told
    expect(page.locator("#card-appeals-list")).to_contain_text("这张卡没有申诉")
    page.fill("#status-reason", "证件遗失")
    page.click("#status-form [data-action=suspend]")
    expect(page.locator("#card-status-words")).to_contain_text("暂停")
    expect(page.locator("#history-table")).to_contain_text("暂停使用")
    page.screenshot(path=server.artifact("console-card.png"), full_page=True)
    axe_clean(page)

    page.select_option("#search-by", "id_number")
    page.fill("#search-term", id_number(501).lower())
    page.fill("#search-region", "")
    page.click("#search-form button[type=submit]")
    expect(page.locator("#search-table tbody tr")).to_have_count(1)
    page.fill("#search-region", "不存在的地方")
    page.click("#search-form button[type=submit]")
    expect(page.locator("#search-msg")).to_have_class(re.compile("message-error"))
    assert not page.errors, page.errors


def test_import_with_progress_and_rejects(page: Any, server: LiveServer, tmp_path: Path) -> None:
    rows = ["name,id_number,category,region"]
    # Names are letters only (digits are refused), so each row gets its own CJK given name.
    rows += [f"吴{chr(0x5B50 + n)},{id_number(600 + n)},veteran,500112" for n in range(40)]
    rows.append("坏行,123,veteran,500112")
    path = tmp_path / "holders.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    page.click("#tab-imports")
    page.set_input_files("#im-file", str(path))
    page.click("#im-form button[type=submit]")
    page.wait_for_selector("#im-progress-box:not([hidden])")
    expect(page.locator("#im-counts")).to_contain_text("41 / 41")
    expect(page.locator("#im-counts")).to_contain_text("新发 40")
    assert page.get_attribute("#im-progress", "value") == page.get_attribute("#im-progress", "max")
    page.wait_for_selector("#im-rejects:not([hidden])")
    page.screenshot(path=server.artifact("console-import.png"), full_page=True)
    axe_clean(page)
    with page.expect_download() as info:
        page.click("#im-rejects")
    saved = Path(info.value.path()).read_text(encoding="utf-8")
    assert saved.splitlines()[0] == "name,id_number,category,region,line,reason"
    assert saved.splitlines()[1].startswith("坏行,123,veteran,500112,42,")
    # the same file again: nothing twice
    page.click("#im-form button[type=submit]")
    expect(page.locator("#im-counts")).to_contain_text("已有 40")
    assert not page.errors, page.errors


def test_merchant_list_and_edit(page: Any, server: LiveServer) -> None:
    shop = server.merchant(name="解放碑小面", region="500103")
    assert wait_for(
        lambda: any(
            m["merchant_id"] == shop["merchant_id"]
            for m in server.http.get("/v1/admin/merchants", headers=server.admin()).json()["items"]
        )
    )
    page.click("#tab-merchants")
    page.fill("#ml-region", "重庆市 渝中区")
    page.click("#ml-form button[type=submit]")
    row = page.locator("#ml-table tbody tr", has_text="解放碑小面")
    expect(row).to_have_count(1)
    row.locator("button").click()
    expect(page.locator("#me-name")).to_be_focused()
    page.fill("#me-name", "解放碑老小面")
    page.fill("#me-a-level", "3")
    page.check("#me-require")
    page.screenshot(path=server.artifact("console-merchant-edit.png"), full_page=True)
    axe_clean(page)
    page.press("#me-name", "Enter")
    expect(page.locator("#me-msg")).to_contain_text("解放碑老小面")
    got = server.http.get(f"/v1/admin/merchants/{shop['merchant_id']}", headers=server.admin())
    assert got.json()["name"] == "解放碑老小面" and got.json()["a_level"] == 3
    assert got.json()["require_device_binding"] is True
    edited = page.locator("#ml-table tbody tr", has_text="解放碑老小面")
    expect(edited).to_contain_text("3A")
    assert not page.errors, page.errors


def test_tokens_and_audit(page: Any, server: LiveServer) -> None:
    page.click("#tab-tokens")
    page.select_option("#tk-role", "auditor")
    page.fill("#tk-region", "重庆市")
    page.fill("#tk-days", "30")
    page.click("#tk-form button[type=submit]")
    page.wait_for_selector("#tk-result:not([hidden])")
    minted = page.text_content("#tk-out") or ""
    assert minted.startswith("adm_")
    expect(page.locator("#tk-table tbody tr", has_text="审计员")).to_have_count(1)
    assert minted not in (page.text_content("#tk-table") or "")
    page.screenshot(path=server.artifact("console-tokens.png"), full_page=True)
    axe_clean(page)
    page.once("dialog", lambda d: d.accept())
    page.locator("#tk-table tbody tr", has_text="审计员").locator("button").click()
    expect(page.locator("#tk-msg")).to_contain_text("已撤销")
    auth = {"Authorization": f"Bearer {minted}"}
    assert server.http.get("/v1/admin/tokens", headers=auth).status_code == 401
    page.click("#tab-audit")
    expect(page.locator("#au-table tbody tr").first).to_be_visible()
    assert "发放令牌" in (page.text_content("#au-table") or "")
    page.screenshot(path=server.artifact("console-audit.png"), full_page=True)
    axe_clean(page)
    assert not page.errors, page.errors


def test_tabs_switch_with_the_keyboard(page: Any, server: LiveServer) -> None:
    """The WAI-ARIA tabs pattern: arrows (round the list), Home and End move focus and select;
    only the selected tab is in the Tab order, and Tab goes on into its panel."""
    tabs = page.locator("[role=tablist] [role=tab]")
    ids = [tabs.nth(n).get_attribute("id") for n in range(tabs.count())]
    assert ids[0] == "tab-cards" and len(ids) >= 3

    def selected(tab_id: str) -> None:
        expect(page.locator(f"#{tab_id}")).to_be_focused()
        expect(page.locator(f"#{tab_id}")).to_have_attribute("aria-selected", "true")
        panel = page.get_attribute(f"#{tab_id}", "aria-controls")
        expect(page.locator(f"#{panel}")).to_be_visible()
        for other in ids:
            if other != tab_id:
                expect(page.locator(f"#{other}")).to_have_attribute("aria-selected", "false")
                expect(page.locator(f"#{other}")).to_have_attribute("tabindex", "-1")
                hidden = page.get_attribute(f"#{other}", "aria-controls")
                expect(page.locator(f"#{hidden}")).to_be_hidden()
        expect(page.locator(f"#{tab_id}")).to_have_attribute("tabindex", "0")

    page.focus("#tab-cards")
    page.keyboard.press("ArrowRight")
    selected(ids[1])
    page.keyboard.press("ArrowRight")
    selected(ids[2])
    page.keyboard.press("ArrowLeft")
    selected(ids[1])
    page.keyboard.press("Home")
    selected(ids[0])
    page.keyboard.press("ArrowLeft")  # round from the first to the last
    selected(ids[-1])
    page.keyboard.press("ArrowRight")  # and back
    selected(ids[0])
    page.keyboard.press("End")
    selected(ids[-1])
    page.keyboard.press("Home")
    for _ in range(ids.index("tab-merchants")):
        page.keyboard.press("ArrowRight")
    selected("tab-merchants")
    page.keyboard.press("Tab")  # out of the tab list, into the merchants panel
    assert page.evaluate(
        "document.getElementById('panel-merchants').contains(document.activeElement)"
    ), page.evaluate("document.activeElement.outerHTML")
    page.keyboard.press("Shift+Tab")  # back to the selected tab, not the first one
    expect(page.locator("#tab-merchants")).to_be_focused()
    axe_clean(page)
    assert not page.errors, page.errors


def test_merchant_key_rotation_and_deactivation_from_the_page(
    page: Any, server: LiveServer
) -> None:
    shop = server.merchant(name="观音桥茶馆", region="500105")
    old_key = shop["api_key"]

    def answers(key: str) -> int:
        auth = {"Authorization": f"Bearer {key}"}
        return int(server.http.get("/v1/verifications", headers=auth).status_code)

    assert wait_for(lambda: answers(old_key) == 200)
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:  # the page asks before each; the test agrees
        dialogs.append(dialog.message)
        dialog.accept(dialog.default_value)  # a prompt's suggested reason, kept

    page.on("dialog", on_dialog)
    page.click("#tab-merchants")
    page.fill("#ml-region", "重庆市 江北区")
    page.click("#ml-form button[type=submit]")
    row = page.locator("#ml-table tbody tr", has_text="观音桥茶馆")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("在用")
    row.locator("button").click()
    expect(page.locator("#me-name")).to_be_focused()

    page.click("#me-rotate")
    expect(page.locator("#me-msg")).to_contain_text("只显示这一次")
    shown = page.text_content("#me-msg") or ""
    match = re.search(r"(mk_[A-Za-z0-9_-]+)\s*$", shown)
    assert match, shown
    new_key = match.group(1)
    assert new_key != old_key and len(new_key) > 20
    assert wait_for(lambda: answers(new_key) == 200 and answers(old_key) == 401)
    assert new_key not in (page.text_content("#ml-table") or "")
    page.screenshot(path=server.artifact("console-merchant-rotated.png"), full_page=True)
    axe_clean(page)
    # Shown once: opening the merchant again clears it, and nothing on the page keeps it.
    row.locator("button").click()
    assert new_key not in (page.text_content("body") or "")

    page.click("#me-deactivate")
    expect(page.locator("#me-msg")).to_contain_text("商户已停用")
    expect(page.locator("#me-form")).to_be_hidden()
    expect(row).to_contain_text("已停用")
    expect(row.locator("button")).to_have_count(0)
    got = server.http.get(f"/v1/admin/merchants/{shop['merchant_id']}", headers=server.admin())
    assert got.json()["active"] is False
    assert wait_for(lambda: answers(new_key) == 401)
    assert len(dialogs) == 2 and all("观音桥茶馆" in d for d in dialogs), dialogs
    audit = server.http.get("/v1/admin/audit", headers=server.admin()).json()["items"]
    assert any(e.get("reason") == "停止合作" for e in audit), audit[:3]
    page.screenshot(path=server.artifact("console-merchant-deactivated.png"), full_page=True)
    axe_clean(page)
    assert not page.errors, page.errors
