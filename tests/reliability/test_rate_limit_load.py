"""Rate limiting under real load: a real merchant_api process on the real clock. One
merchant floods it from several connections and gets 429s with Retry-After, its accepted
count bounded by the token bucket; another merchant verifying at a normal pace meanwhile
gets every answer; a wrong key gets 401 (credentials are checked before the rate)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from cardservice.bootstrap.write import WriteSide
from cardservice.clock import SystemClock
from tests.conftest import make_settings
from tests.integration.test_projections import NATIONAL, catch_up
from tests.reliability.support import free_port
from tests.reliability.test_processes import wait_http
from tests.reliability.test_worker_crash import process_env

pytestmark = pytest.mark.slow

RATE = 10  # per second per merchant key; burst twice that
FLOOD_SECONDS = 3.0


def test_a_flooding_merchant_is_limited_and_others_are_not(tmp_path: Path) -> None:
    settings, _ = make_settings("sqlite", tmp_path)
    svc = WriteSide.build(settings, SystemClock())
    try:
        keys = []
        for name in ("洪水商户", "正常商户"):
            merchant = svc.catalog.register_merchant(
                name=name,
                region="500112",
                kind="merchant",
                categories=[],
                a_level=None,
                require_device_binding=False,
                actor=NATIONAL,
            )
            assert merchant.api_key is not None
            keys.append({"Authorization": f"Bearer {merchant.api_key}"})
        svc.ledger.keyring()
        catch_up(svc)
    finally:
        svc.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**process_env(settings), "CARDSERVICE_MERCHANT_RATE": str(RATE)}
    log = tmp_path / "server.log"
    with log.open("ab") as out:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "merchant_api.app:create_app",
                "--factory",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_http(url + "/healthz", server, log)
        flooder, neighbour = keys
        counts: dict[str, int] = {}
        retry_after: set[str] = set()
        neighbour_codes: list[int] = []
        stray_codes: list[int] = []
        lock = threading.Lock()
        stop = time.monotonic() + FLOOD_SECONDS

        def flood() -> None:
            with httpx.Client(base_url=url, timeout=10) as client:
                while time.monotonic() < stop:
                    resp = client.post("/v1/verify", json={"qr": "PTC1:X"}, headers=flooder)
                    with lock:
                        counts[str(resp.status_code)] = counts.get(str(resp.status_code), 0) + 1
                        if resp.status_code == 429:
                            retry_after.add(resp.headers.get("retry-after", ""))

        def steady() -> None:
            with httpx.Client(base_url=url, timeout=10) as client:
                while time.monotonic() < stop:
                    resp = client.post("/v1/verify", json={"qr": "PTC1:X"}, headers=neighbour)
                    neighbour_codes.append(resp.status_code)
                    bad = {"Authorization": "Bearer mk_not_a_key"}
                    stray_codes.append(
                        client.post("/v1/verify", json={"qr": "x"}, headers=bad).status_code
                    )
                    time.sleep(1 / (RATE * 0.8))

        started = time.monotonic()
        threads = [threading.Thread(target=flood) for _ in range(6)]
        threads.append(threading.Thread(target=steady))
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        elapsed = time.monotonic() - started
        accepted, limited = counts.get("200", 0), counts.get("429", 0)
        assert set(counts) <= {"200", "429"}, counts
        assert limited > accepted, counts  # the flood is mostly refused
        assert accepted <= 2 * RATE + RATE * elapsed + RATE, (accepted, elapsed)
        assert accepted >= RATE * elapsed * 0.5, (accepted, elapsed)  # but not starved
        assert retry_after and all(v.isdigit() and int(v) >= 1 for v in retry_after)
        assert len(neighbour_codes) >= 10 and set(neighbour_codes) == {200}, neighbour_codes
        assert set(stray_codes) == {401}
        print(
            f"\nflood: {accepted} accepted, {limited} limited in {elapsed:.1f}s; "
            f"neighbour: {len(neighbour_codes)} all 200"
        )
    finally:
        server.terminate()
        server.wait(20)
