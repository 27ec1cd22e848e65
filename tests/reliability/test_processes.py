"""Real processes: two merchant_api replicas and one worker on one PostgreSQL both see a
revocation; `cardservice serve` runs everything (projections in-process) on SQLite; the
`projections status|rebuild` commands."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cardservice.api import presenters
from cardservice.application import IssueCardRequest
from cardservice.bootstrap.write import WriteSide
from cardservice.clock import SystemClock
from tests.conftest import ADMIN_TOKEN, make_settings
from tests.factories import card_body, id_number
from tests.integration.test_projections import NATIONAL
from tests.reliability.test_worker_crash import process_env

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-c", "from cardservice.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


class Procs:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = self.tmp_path / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append((proc, log))
        return proc

    def log(self, proc: subprocess.Popen[bytes]) -> Path:
        return next(log for p, log in self.procs if p is proc)

    def stop(self) -> None:
        for proc, _ in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, _ in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    running = Procs(tmp_path)
    yield running
    running.stop()


def poll_status(url: str, key: str, qr: str, status: str, timeout: float = 20) -> float:
    started = time.monotonic()
    while True:
        resp = httpx.post(
            url + "/v1/verify", json={"qr": qr}, headers={"Authorization": f"Bearer {key}"}
        )
        if resp.status_code == 200 and resp.json()["status"] == status:
            return time.monotonic() - started
        assert time.monotonic() - started < timeout, resp.text
        time.sleep(0.02)


def test_two_replicas_and_a_worker_on_one_postgres(tmp_path: Path, procs: Procs) -> None:
    settings, schema = make_settings("postgres", tmp_path)
    svc = WriteSide.build(settings, SystemClock())
    try:
        env = process_env(settings)
        procs.start("worker", [*CLI, "worker"], env)
        urls = []
        for i in range(2):
            port = free_port()
            proc = procs.start(
                f"replica{i}",
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
                env,
            )
            urls.append(f"http://127.0.0.1:{port}")
            wait_http(urls[-1] + "/healthz", proc, procs.log(proc))
        merchant = svc.catalog.register_merchant(
            name="景区",
            region="500112",
            kind="scenic_site",
            categories=[],
            a_level=4,
            require_device_binding=False,
            actor=NATIONAL,
        )
        assert merchant.api_key is not None
        card = svc.ledger.issue_card(
            IssueCardRequest(
                name="赵六", id_number=id_number(1), category="veteran", region="500112"
            ),
            NATIONAL,
        ).card
        qr = svc.ledger.credential_for(card)
        for url in urls:
            poll_status(url, merchant.api_key, qr, "valid")
        svc.ledger.change_status(card.id, "revoke", "test", NATIONAL)
        delays = [poll_status(url, merchant.api_key, qr, "revoked") for url in urls]
        assert max(delays) < 5, delays
        # Each replica keeps the log of what it verified; both are visible to the merchant.
        resp = httpx.get(
            urls[0] + "/v1/verifications", headers={"Authorization": f"Bearer {merchant.api_key}"}
        )
        assert resp.status_code == 200
        keys = httpx.get(urls[1] + "/v1/keys").json()["keys"]
        assert [k["kid"] for k in keys] == [
            k["kid"] for k in presenters.public_keys(svc.ledger.keyring())
        ]
    finally:
        procs.stop()
        svc.close()
        if schema is not None:
            schema.drop()


def test_serve_runs_everything_and_the_projections_commands(tmp_path: Path, procs: Procs) -> None:
    settings, _ = make_settings("sqlite", tmp_path)
    env = {**process_env(settings), "CARDSERVICE_ADMIN_TOKEN": ADMIN_TOKEN}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = procs.start("serve", [*CLI, "serve", "--port", str(port)], env)
    wait_http(url + "/healthz", proc, procs.log(proc))
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    card: dict[str, Any] = httpx.post(
        url + "/v1/admin/cards", json=card_body(), headers=admin
    ).json()
    merchant = httpx.post(
        url + "/v1/admin/merchants",
        json={"name": "店", "region": "500112", "kind": "merchant", "categories": []},
        headers=admin,
    ).json()
    deadline = time.monotonic() + 20
    while True:
        resp = httpx.post(
            url + "/v1/verify",
            json={"qr": card["qr"]},
            headers={"Authorization": f"Bearer {merchant['api_key']}"},
        )
        if resp.status_code == 200 and resp.json()["status"] == "valid":
            break
        assert time.monotonic() < deadline, resp.text
        time.sleep(0.05)
    health = httpx.get(url + "/healthz").json()
    assert health["status"] == "ok" and "projections" in health["checks"]
    assert "cardservice_verifications_total" in httpx.get(url + "/metrics").text
    status = subprocess.run(
        [*CLI, "projections", "status"], env=env, capture_output=True, text=True, timeout=60
    )
    assert status.returncode == 0 and "cards" in status.stdout and "merchants" in status.stdout
    rebuilt = subprocess.run(
        [*CLI, "projections", "rebuild", "cards"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rebuilt.returncode == 0 and "rebuilt" in rebuilt.stdout, rebuilt.stderr
    unknown = subprocess.run(
        [*CLI, "projections", "rebuild", "nope"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 2
    proc.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert proc.wait(30) in (0, -signal.SIGTERM), procs.log(proc).read_text()
    assert "Traceback" not in procs.log(proc).read_text()
