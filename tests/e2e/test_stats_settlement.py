"""Statistics and settlement on both engines, compared with a fold this test computes itself
from every verdict and redemption it saw; scoping, ranges and the CSV's exact form."""

from __future__ import annotations

import csv
import io
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cardservice.clock import SHANGHAI, FrozenClock
from cardservice.domain.regions import regions
from tests.merchant_support import ADMIN, MerchantEnv, build_env
from tests.redemption_support import NATIONAL, benefit, iso, publish


@pytest.fixture
def env(backend: str, tmp_path: Path, clock: FrozenClock) -> Iterator[MerchantEnv]:
    yield from build_env(backend, tmp_path, clock)


class Ledger:
    """What the test saw: every verdict and every redemption, folded independently."""

    def __init__(self, env: MerchantEnv) -> None:
        self.env = env
        self.verdicts: list[tuple[str, str, str]] = []  # merchant region, day, status
        self.redemptions: list[tuple[str, str, str, str, str, int]] = []

    def day(self, moment: datetime) -> str:
        return moment.astimezone(SHANGHAI).date().isoformat()

    def verify(self, qr: str, merchant: tuple[str, dict[str, str]], want: str) -> dict[str, Any]:
        region, headers = merchant
        end = time.monotonic() + 10
        while True:
            verdict: dict[str, Any] = self.env.verify(qr, headers).json()
            self.verdicts.append((region, self.day(self.env.clock.now()), verdict["status"]))
            if verdict["status"] == want and (want != "valid" or verdict["benefits"]):
                return verdict
            assert time.monotonic() < end, verdict
            time.sleep(0.02)

    def redeem(
        self,
        merchant: tuple[str, dict[str, str]],
        card_region: str,
        verdict: dict[str, Any],
        benefit_id: str,
        companions: int = 0,
    ) -> None:
        resp = self.env.client.post(
            "/v1/redemptions",
            json={
                "verification_id": verdict["verification_id"],
                "benefit_id": benefit_id,
                "companions": companions,
            },
            headers=merchant[1],
        )
        assert resp.status_code == 201, resp.text
        region = next(b["region"] for b in verdict["benefits"] if b["id"] == benefit_id)
        self.redemptions.append(
            (
                merchant[0],
                card_region,
                region,
                benefit_id,
                self.day(self.env.clock.now()),
                companions,
            )
        )

    def offline(
        self,
        merchant: tuple[str, dict[str, str]],
        card: dict[str, Any],
        card_region: str,
        benefit_id: str,
        at: datetime,
    ) -> None:
        body = {"items": [{"qr": card["qr"], "benefit_id": benefit_id, "redeemed_at": iso(at)}]}
        resp = self.env.client.post("/v1/redemptions/offline", json=body, headers=merchant[1])
        assert resp.json()["results"][0]["status"] in ("recorded", "over_limit"), resp.text
        self.redemptions.append((merchant[0], card_region, NATIONAL, benefit_id, self.day(at), 0))

    def expected_stats(self, region: str, start: date, end: date) -> dict[str, Any]:
        table = regions()
        days = [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
        inside = [v for v in self.verdicts if table.is_within(v[0], region) and v[1] in days]
        spent = [r for r in self.redemptions if table.is_within(r[0], region) and r[4] in days]
        by_status = Counter(v[2] for v in inside)
        return {
            "region": region,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "verifications": {"total": len(inside), "by_status": dict(by_status)},
            "redemptions": {
                "total": len(spent),
                "companions": sum(r[5] for r in spent),
                "by_benefit": dict(Counter(f"{r[2]}/{r[3]}" for r in spent)),
                "out_of_region": sum(1 for r in spent if not table.is_within(r[1], region)),
            },
            "by_day": [
                {
                    "date": d,
                    "verifications": sum(1 for v in inside if v[1] == d),
                    "valid": sum(1 for v in inside if v[1] == d and v[2] == "valid"),
                    "redemptions": sum(1 for r in spent if r[4] == d),
                }
                for d in days
            ],
        }

    def expected_settlement(self, region: str, start: date, end: date) -> list[list[str]]:
        table = regions()
        days = {(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)}
        sums: dict[tuple[str, str, str, str], list[int]] = {}
        for m, c, br, b, d, comp in self.redemptions:
            if table.is_within(m, region) and d in days:
                entry = sums.setdefault((m, c, b, br), [0, 0])
                entry[0] += 1
                entry[1] += comp
        return [[*k, str(v[0]), str(v[1])] for k, v in sorted(sums.items())]


def stats(env: MerchantEnv, headers: dict[str, str], **params: str) -> Any:
    return env.client.get("/v1/admin/stats", params=params, headers=headers)


def eventually_equal(fetch: Any, expected: Any) -> None:
    end = time.monotonic() + 10
    while True:
        got = fetch()
        if got == expected:
            return
        assert time.monotonic() < end, (got, expected)
        time.sleep(0.05)


def test_stats_and_settlement_equal_an_independent_fold(env: MerchantEnv) -> None:
    publish(
        env,
        NATIONAL,
        [
            benefit("meal", limit={"count": 5, "per": "day"}, companions=2),
            benefit("ticket"),
        ],
        "2026-01-01",
    )
    yubei = ("500112", env.merchant(region="500112"))
    yuzhong = ("500103", env.merchant(region="500103", name="渝中商户"))
    beijing = ("110101", env.merchant(region="110101", name="东城商户"))
    local = env.issue(region="500112")
    visitor = env.issue(region="110101", name="王建国")
    gone = env.issue(region="500103", name="赵云")
    seen = Ledger(env)
    # Day 1 (Shanghai 2026-06-01), ending one second before Shanghai midnight.
    v = seen.verify(local["qr"], yubei, "valid")
    seen.redeem(yubei, "500112", v, "meal", companions=2)
    seen.redeem(yubei, "500112", v, "ticket")
    v = seen.verify(visitor["qr"], yubei, "valid")
    seen.redeem(yubei, "110101", v, "meal")
    v = seen.verify(visitor["qr"], beijing, "valid")
    seen.redeem(beijing, "110101", v, "ticket")
    env.action(gone, "revoke")
    seen.verify(gone["qr"], yuzhong, "revoked")
    env.clock.set(datetime(2026, 6, 1, 23, 59, 59, tzinfo=SHANGHAI))
    v = seen.verify(local["qr"], yuzhong, "valid")
    seen.redeem(yuzhong, "500112", v, "meal", companions=1)
    # Day 2: past midnight, plus an offline redemption stated on day 1.
    env.clock.set(datetime(2026, 6, 2, 0, 0, 1, tzinfo=SHANGHAI))
    v = seen.verify(visitor["qr"], yuzhong, "valid")
    seen.redeem(yuzhong, "110101", v, "meal")
    seen.offline(yubei, visitor, "110101", "ticket", datetime(2026, 6, 1, 20, 0, tzinfo=SHANGHAI))
    env.clock.set(datetime(2026, 6, 4, 12, 0, tzinfo=SHANGHAI))
    seen.verify("PTC1:GARBAGE", beijing, "malformed")

    d1, d4 = date(2026, 6, 1), date(2026, 6, 4)
    for region in ("000000", "500000", "500112", "500103", "110000", "440000"):
        for start, end in ((d1, d4), (d1, d1), (date(2026, 6, 2), date(2026, 6, 3))):
            params = {"region": region, "from": start.isoformat(), "to": end.isoformat()}
            eventually_equal(
                lambda p=params: stats(env, ADMIN, **p).json(),
                seen.expected_stats(region, start, end),
            )
            eventually_equal(
                lambda p=params: settlement_rows(env, ADMIN, p),
                seen.expected_settlement(region, start, end),
            )


def settlement_rows(env: MerchantEnv, headers: dict[str, str], params: dict[str, str]) -> Any:
    resp = env.client.get("/v1/admin/settlement", params=params, headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "text/csv; charset=utf-8"
    raw = resp.content
    assert raw.startswith("\ufeff".encode()) and b"\r" not in raw
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == [
        "merchant_region",
        "card_region",
        "benefit_id",
        "benefit_region",
        "redemptions",
        "companions",
    ]
    return rows[1:]


def test_scope_ranges_and_roles(env: MerchantEnv) -> None:
    resp = env.client.post(
        "/v1/admin/tokens", json={"region": "500000", "role": "auditor"}, headers=ADMIN
    )
    assert resp.status_code == 201, resp.text
    auditor = {"Authorization": f"Bearer {resp.json()['token']}"}
    for path in ("/v1/admin/stats", "/v1/admin/settlement"):
        assert env.client.get(path).status_code == 401
        assert env.client.get(path, headers={"Authorization": "Bearer x"}).status_code == 401
        own = env.client.get(path, headers=auditor)
        assert own.status_code == 200, own.text
        assert env.client.get(path, params={"region": "500112"}, headers=auditor).status_code == (
            200
        )
        assert env.client.get(path, params={"region": "110000"}, headers=auditor).status_code == (
            403
        )
        assert env.client.get(path, params={"region": "000000"}, headers=auditor).status_code == (
            403
        )
        for bad in (
            {"from": "2026-06-02", "to": "2026-06-01"},
            {"from": "2025-06-01", "to": "2026-06-02"},  # 367 days
            {"from": "2026-6-1"},
            {"from": "２026-06-01"},
            {"to": "2026-02-30"},
            {"region": "509999"},
            {"region": "5001"},
        ):
            assert env.client.get(path, params=bad, headers=auditor).status_code == 422, bad
        year = {"from": "2025-06-02", "to": "2026-06-02"}  # 366 days: allowed
        assert env.client.get(path, params=year, headers=auditor).status_code == 200
    today = stats(env, auditor).json()
    assert today["region"] == "500000" and today["from"] == today["to"] == "2026-06-01"
    assert [d["date"] for d in today["by_day"]] == ["2026-06-01"]
    assert today["verifications"] == {"total": 0, "by_status": {}}
    empty = env.client.get("/v1/admin/settlement", headers=auditor).content
    assert empty == "\ufeffmerchant_region,card_region,benefit_id,benefit_region,".encode() + (
        b"redemptions,companions\n"
    )
