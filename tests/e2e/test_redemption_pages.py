"""Redeeming on the merchant page, its offline queue, "my usage" on the holder page and the
statistics dashboard on the admin page: a real server, Debian's Chromium, screenshots kept
in test-artifacts/ (`-postgres` in the name for the PostgreSQL run). Every test runs on
SQLite and on PostgreSQL. Nothing is mocked; the merchant page goes offline through Playwright's
network switch (the page sees navigator.onLine and failing requests, as on a real phone)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e.browser_support import (
    ADMIN_TOKEN,
    ENGINES,
    PHONE,
    LiveServer,
    dump,
    launch,
    live_server,
    require_browser,
    run_axe,
    wait_for,
)
from tests.e2e.test_offline_page import bundle_knows, desk, download, go_offline, scan

pytestmark = pytest.mark.browser
CITY = "500000"
BENEFITS = [
    {
        "id": "meal-half",
        "title": "就餐半价",
        "partner": "渝北餐饮协会",
        "category": "dining",
        "discount": "半价",
        "holder_categories": ["veteran"],
        "merchant_categories": ["dining"],
        "limit": {"count": 2, "per": "day"},
        "companions": 1,
    },
    {
        "id": "tea-free",
        "title": "免费茶水",
        "partner": "渝北餐饮协会",
        "category": "dining",
        "discount": "免费",
        "holder_categories": ["veteran"],
    },
]


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Iterator[LiveServer]:
    require_browser()
    with live_server(tmp_path_factory.mktemp("redemption-pages") / "var", engine) as live:
        today = datetime.now(UTC).date().isoformat()
        resp = live.http.put(
            f"/v1/admin/regions/{CITY}/catalog",
            json={"effective_from": today, "benefits": BENEFITS},
            headers=live.admin(),
        )
        assert resp.status_code == 201, resp.text
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def shop(server: LiveServer, name: str) -> dict[str, Any]:
    merchant = server.merchant(name=name, categories=["dining"])
    auth = {"Authorization": f"Bearer {merchant['api_key']}"}
    assert wait_for(lambda: server.http.get("/v1/verifications", headers=auth).status_code == 200)
    return merchant


def offered(server: LiveServer, key: str, qr: str) -> dict[str, Any]:
    """Verify until the catalog view offers the limited benefit (views lag writes)."""
    verdict: dict[str, Any] = wait_for(
        lambda: (
            v
            if (v := server.verify(key, qr))["valid"]
            and any(b["id"] == "meal-half" for b in v["benefits"])
            else None
        ),
        timeout=15,
    )
    assert verdict, "the limited benefit never showed"
    return verdict


def redemptions(server: LiveServer, key: str) -> list[dict[str, Any]]:
    resp = server.http.get("/v1/redemptions", headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


def check(server: LiveServer, page: Any, name: str) -> None:
    page.screenshot(path=server.artifact(f"redemption-{name}.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: {overflow}px wider than the phone"
    violations = run_axe(page)
    assert not violations, f"{name}: {dump(violations)}"


def test_redeem_with_a_companion_shows_what_is_left(server: LiveServer, browser: Any) -> None:
    merchant = shop(server, "渝北核销小馆")
    card = server.issue(701)
    offered(server, merchant["api_key"], card["qr"])
    ctx, page, errors = desk(browser, server, merchant["api_key"])
    got = scan(page, card["qr"])
    assert got["valid"], got
    row = page.locator("#verdict-benefits .redeem[data-benefit=meal-half]")
    assert "2" in (row.locator(".redeem-left").text_content() or "")
    # The unlimited benefit has no stepper; the limited one allows one companion, no more.
    assert page.locator("#verdict-benefits .redeem[data-benefit=tea-free] .stepper").count() == 0
    plus = row.locator(".stepper-btn").nth(1)
    plus.click()
    assert plus.is_disabled()
    assert row.locator(".stepper-value").text_content() == "1"
    check(server, page, "verdict-with-redeem")
    row.locator(".redeem-btn").click()
    page.wait_for_function(
        "() => document.querySelector('.redeem[data-benefit=meal-half] .redeem-msg')"
        ".dataset.outcome === 'recorded'"
    )
    assert row.locator(".redeem-left").get_attribute("data-remaining") == "1"
    assert row.locator(".redeem-btn").is_disabled(), "one verdict redeems a benefit once"
    check(server, page, "redeemed")
    mine = redemptions(server, merchant["api_key"])
    assert [(r["benefit_id"], r["companions"], r["status"]) for r in mine] == [
        ("meal-half", 1, "recorded")
    ]

    # A second check redeems the last one; a third shows 0 left and no button to press.
    page.click("#verdict-next")
    scan(page, card["qr"])
    page.locator(".redeem[data-benefit=meal-half] .redeem-btn").click()
    page.wait_for_function(
        "() => document.querySelector('.redeem[data-benefit=meal-half] .redeem-msg')"
        ".dataset.outcome === 'recorded'"
    )

    def used_up() -> bool:
        page.click("#verdict-next")
        page.evaluate("document.getElementById('manual-code').value = ''")
        page.wait_for_timeout(4100)  # the page ignores the same code within 4 s
        scan(page, card["qr"])
        left = page.locator(".redeem[data-benefit=meal-half] .redeem-left")
        return left.get_attribute("data-remaining") == "0"

    assert wait_for(used_up, timeout=20)
    assert page.locator(".redeem[data-benefit=meal-half] .redeem-btn").is_disabled()
    check(server, page, "used-up")
    assert not errors, errors
    ctx.close()


def test_offline_redemptions_are_queued_and_sent_once_back_online(
    server: LiveServer, browser: Any
) -> None:
    merchant = shop(server, "渝北离线核销店")
    key = merchant["api_key"]
    card = server.issue(702)
    offered(server, key, card["qr"])
    assert wait_for(lambda: bundle_knows(server, key, card["qr"]), timeout=15)
    ctx, page, errors = desk(browser, server, key)
    download(page)
    assert "已保存" in (page.text_content("#bundle-msg") or "")
    go_offline(ctx, server)
    got = scan(page, card["qr"])
    assert got["valid"] and page.get_attribute("#verdict", "data-offline") == "true", got
    row = page.locator("#verdict-benefits .redeem[data-benefit=meal-half]")
    row.locator(".redeem-btn").click()
    page.wait_for_function(
        "() => document.querySelector('.redeem[data-benefit=meal-half] .redeem-msg')"
        ".dataset.outcome === 'queued'"
    )
    page.click("#verdict-next")
    assert page.get_attribute("#queue-info", "data-pending") == "1"
    check(server, page, "offline-queued")
    assert redemptions(server, key) == []

    # Back online: the page sends the batch by itself and shows each outcome.
    ctx.unroute(f"{server.url}/**")
    ctx.set_offline(False)
    page.wait_for_selector("#queue-outcomes li[data-status=recorded]")
    assert page.get_attribute("#queue-info", "data-pending") == "0"
    check(server, page, "offline-sent")
    mine = redemptions(server, key)
    assert [(r["benefit_id"], r["status"], r["verification_id"]) for r in mine] == [
        ("meal-half", "recorded", None)
    ]
    # A reload sends nothing again: the queue is empty, the outcome stays.
    page.reload()
    page.wait_for_selector("#queue-outcomes li[data-status=recorded]")
    time.sleep(0.5)
    assert len(redemptions(server, key)) == 1
    assert not errors, errors
    ctx.close()


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Iterator[LiveServer]:
    """A server seeded by `cardservice demo` (its own, so the demo catalogs stay apart)."""
    require_browser()
    from cardservice.demo import seed

    with live_server(tmp_path_factory.mktemp("dashboard") / "var", engine) as live:
        seed(live.svc)
        yield live


def test_dashboard_charts_the_demo_usage_and_offers_the_settlement(
    demo_server: LiveServer, browser: Any
) -> None:
    server = demo_server
    ctx = browser.new_context(
        viewport={"width": 1100, "height": 900}, locale="zh-CN", accept_downloads=True
    )
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # The sign-in probe's 404 is expected; a CSP refusal (the chart library) is not.
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.goto(f"{server.url}/admin")
    page.fill("#admin-token", ADMIN_TOKEN)
    page.click("#signin-form button")
    page.wait_for_selector("#console:not([hidden])")
    page.click("#tab-stats")
    page.wait_for_selector("#stats-dashboard[data-loaded=true]")
    start = page.input_value("#stats-from")
    end = page.input_value("#stats-to")
    resp = server.http.get(f"/v1/admin/stats?from={start}&to={end}", headers=server.admin())
    api = resp.json()
    assert api["redemptions"]["total"] > 0
    shown = page.eval_on_selector_all(
        "#stats-cards [data-stat]",
        "els => Object.fromEntries(els.map(e =>"
        " [e.dataset.stat, e.querySelector('strong').textContent]))",
    )
    assert shown["verifications"] == str(api["verifications"]["total"])
    assert shown["redemptions"] == str(api["redemptions"]["total"])
    assert shown["valid"] == str(api["verifications"]["by_status"]["valid"])
    # Chart.js drew on every canvas (pixels, not a blank bitmap) under the strict CSP.
    for chart in ("days", "status", "benefits", "region", "top"):
        drawn = page.evaluate(
            f"""() => {{ const c = document.getElementById('chart-{chart}');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }}"""
        )
        assert drawn > 500, chart
        assert page.get_attribute(f"#chart-{chart}", "aria-label")
    assert "每月赠送10GB国内流量" in (page.get_attribute("#chart-benefits", "aria-label") or "")
    page.screenshot(path=server.artifact("redemption-dashboard.png"), full_page=True)
    violations = run_axe(page)
    assert not violations, dump(violations)

    # Chongqing: holders from elsewhere redeemed there, and the share says so.
    page.fill("#stats-region", "500000")
    page.click("#stats-form button[type=submit]")
    page.wait_for_function(
        "() => document.getElementById('chart-region').dataset.summary.match(/[1-9][0-9]*%/)"
    )
    page.screenshot(path=server.artifact("redemption-dashboard-chongqing.png"), full_page=True)

    with page.expect_download() as info:
        page.click("#stats-csv")
    body = info.value.path().read_bytes()
    expected = server.http.get(
        f"/v1/admin/settlement?region=500000&from={start}&to={end}", headers=server.admin()
    )
    assert body == expected.content
    assert body.startswith("\ufeffmerchant_region,card_region,".encode())
    assert info.value.suggested_filename.endswith(".csv")

    # A region code missing from the table (422), or a range over 366 days: words, no charts
    # redrawn from nothing, no script error.
    for region, start_day in (("999999", start), ("500000", "2020-01-01")):
        page.fill("#stats-region", region)
        page.fill("#stats-from", start_day)
        page.click("#stats-form button[type=submit]")
        page.wait_for_function(
            "() => { const m = document.getElementById('stats-msg').textContent;"
            " return m && m !== '正在加载…'; }"
        )
        assert page.text_content("#stats-msg"), region
    assert not errors, errors
    ctx.close()


def test_holder_sees_usage_and_what_is_left(server: LiveServer, browser: Any) -> None:
    merchant = shop(server, "渝北用量小馆")
    card = server.issue(703)
    verdict = offered(server, merchant["api_key"], card["qr"])
    auth = {"Authorization": f"Bearer {merchant['api_key']}"}
    resp = server.http.post(
        "/v1/redemptions",
        json={
            "verification_id": verdict["verification_id"],
            "benefit_id": "meal-half",
            "companions": 1,
        },
        headers=auth,
    )
    assert resp.status_code == 201, resp.text
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=1, locale="zh-CN")
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server.url}{card['activation_url']}")  # the holder's one-time link
    page.click("#ask-yes")
    page.wait_for_selector("#card-app:not([hidden])")
    page.click("#tab-history")
    page.wait_for_selector("#usage-list li[data-benefit=meal-half]")
    item = page.locator("#usage-list li[data-benefit=meal-half]")
    assert merchant["name"] in (item.text_content() or "")
    left = page.locator("#usage-left li[data-benefit='500000/meal-half']")
    left.wait_for()
    assert left.get_attribute("data-remaining") == "1"
    assert "1" in (left.text_content() or "") and "2" in (left.text_content() or "")
    check(server, page, "holder-usage")
    assert not errors, errors
    ctx.close()


def test_an_offline_redemption_past_the_limit_is_recorded_and_shown_as_over(
    server: LiveServer, browser: Any
) -> None:
    merchant = shop(server, "渝北超限测试店")
    key = merchant["api_key"]
    auth = {"Authorization": f"Bearer {key}"}
    card = server.issue(704)
    for _ in range(2):  # today's two are used up online
        verdict = offered(server, key, card["qr"])
        resp = server.http.post(
            "/v1/redemptions",
            json={"verification_id": verdict["verification_id"], "benefit_id": "meal-half"},
            headers=auth,
        )
        assert resp.status_code == 201, resp.text
    assert wait_for(lambda: bundle_knows(server, key, card["qr"]), timeout=15)
    ctx, page, errors = desk(browser, server, key)
    download(page)
    go_offline(ctx, server)
    scan(page, card["qr"])
    # Offline the page knows the limit, not what was used: it says the upload will tell.
    left = page.locator(".redeem[data-benefit=meal-half] .redeem-left").text_content() or ""
    assert "离线" in left, left
    page.locator(".redeem[data-benefit=meal-half] .redeem-btn").click()
    page.wait_for_selector(".redeem[data-benefit=meal-half] .redeem-msg[data-outcome=queued]")
    page.click("#verdict-next")
    ctx.unroute(f"{server.url}/**")
    ctx.set_offline(False)
    page.wait_for_selector("#queue-outcomes li[data-status=over_limit]")
    check(server, page, "offline-over-limit")
    statuses = sorted(r["status"] for r in redemptions(server, key))
    assert statuses == ["over_limit", "recorded", "recorded"]
    assert not errors, errors
    ctx.close()
