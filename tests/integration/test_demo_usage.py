"""`cardservice demo` seeds limited benefits and a few weeks of usage, idempotently, so the
bureau's dashboard shows something on the first run; on both engines."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

from cardservice.clock import today_in_shanghai
from cardservice.demo import CATALOGS, seed
from cardservice.demo_usage import DAYS, period


def stats(
    client: Any, headers: dict[str, str], start: str, end: str, region: str = "000000"
) -> dict[str, Any]:
    resp = client.get(f"/v1/admin/stats?region={region}&from={start}&to={end}", headers=headers)
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


def test_demo_usage_fills_the_dashboard_once(
    services: Any, client: Any, admin_headers: dict[str, str]
) -> None:
    first = seed(services)
    verifications, redemptions = first.usage
    assert verifications >= DAYS * 6 and redemptions > 20
    again = seed(services)
    assert again.usage == (0, 0), "a second run writes no usage twice"

    today = today_in_shanghai(services.clock)
    start = (today - timedelta(days=DAYS)).isoformat()
    got = stats(client, admin_headers, start, today.isoformat())
    assert got["verifications"]["total"] == verifications
    assert got["redemptions"]["total"] == redemptions
    assert got["verifications"]["by_status"]["valid"] > got["verifications"]["total"] // 2
    assert len([d for d in got["by_day"] if d["verifications"]]) == DAYS
    assert any(k.endswith("/mobile-data") for k in got["redemptions"]["by_benefit"])
    chongqing = stats(client, admin_headers, start, today.isoformat(), "500000")
    assert chongqing["redemptions"]["out_of_region"] > 0  # cards from elsewhere used there

    # The demo's limits hold in its own history: 10 GB once a month, one companion.
    limits = {
        f"{region}/{b['id']}": b for region, bs in CATALOGS.items() for b in bs if "limit" in b
    }
    assert limits["000000/mobile-data"]["limit"] == {"count": 1, "per": "month"}
    assert limits["500112/yubei-scenic-family"]["companions"] == 1
    with services.db.transaction(write=False) as tx:
        rows = tx.all(
            "SELECT card_id, benefit_region, benefit_id, redeemed_at, companions, status "
            "FROM view_redemptions"
        )
        # The log's columns as the live path writes them: NULL, never "[]" or "{}".
        logged = tx.all("SELECT status, benefits, refusals, card_region FROM verification_log")
    assert len(rows) == redemptions
    assert not [r for r in logged if r[1] == "[]" or r[2] == "{}"]
    assert not [r for r in logged if r[0] != "valid" and (r[1] or r[2])]
    assert any(r[1] and json.loads(r[1])[0]["id"] for r in logged if r[0] == "valid")
    assert all(r[3] is None for r in logged if r[0] == "bad_signature")
    from datetime import datetime

    from cardservice.clock import SHANGHAI

    per_period: Counter[tuple[str, str, str]] = Counter()
    for card_id, region, benefit_id, at, companions, status in rows:
        assert status == "recorded"
        benefit = limits.get(f"{region}/{benefit_id}")
        if benefit is None:
            assert companions == 0
            continue
        assert companions <= benefit.get("companions", 0)
        moment = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
        local = moment.astimezone(SHANGHAI)
        per_period[(card_id, f"{region}/{benefit_id}", period(benefit["limit"]["per"], local))] += 1
    assert per_period and max(per_period.values()) <= 1
