"""Setting `CARDSERVICE_NOTIFY_URL` starts the notice delivery where the composition roots
run the background work, on both engines, against a real local HTTP receiver: the served
app (`add_background` + `served_app`, as `cardservice serve` runs them) delivers, shows a
row the gateway refused for good in /healthz `notice_delivery` and in /metrics; a real
`cardservice worker` process started with the variable delivers too."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cardservice.application import IssueCardRequest
from cardservice.bootstrap.write import WriteSide
from cardservice.clock import FrozenClock
from cardservice.domain.actors import Actor
from cardservice.outbox import REFUSALS_BEFORE_FAILED
from tests import waiting
from tests.conftest import make_settings
from tests.factories import id_number
from tests.merchant_support import build_env
from tests.notify_support import Receiver
from tests.reliability.test_processes import CLI
from tests.reliability.test_worker_crash import process_env

DEADLINE = 30.0


def wait(predicate: Callable[[], Any], what: str, deadline: float = DEADLINE) -> Any:
    return waiting.wait(predicate, what, deadline, 0.05)


def test_the_served_app_delivers_and_reports_what_it_gave_up(
    backend: str, tmp_path: Path, clock: FrozenClock
) -> None:
    clock.set(datetime.now(UTC))  # the delivery runs on the real clock (its leases)
    refused: set[str] = set()

    def gateway(n: int, body: dict[str, Any], key: str) -> int:
        if body["kind"] == "suspended":
            refused.add(key)
            return 403  # this gateway refuses the notice for good
        return 200

    receiver = Receiver(gateway).start()
    envs = build_env(
        backend,
        tmp_path,
        clock,
        notify_url=receiver.url,
        notify_backoff_seconds=0.01,
        notify_backoff_max_seconds=0.02,
    )
    env = next(envs)
    try:
        assert env.background is not None and env.background.delivery is not None
        card = env.issue()
        env.action(card, "suspend")
        env.action(card, "reinstate")
        wait(lambda: receiver.delivered_keys(), "the reinstated notice")

        def health() -> dict[str, Any]:
            figures: dict[str, Any] = env.client.get("/healthz").json()["checks"]
            return figures["notice_delivery"]  # type: ignore[no-any-return]

        figures = wait(lambda: health()["failed"] == 1 and health(), "a row given up")
        assert figures["pending"] == 0 and figures["oldest_seconds"] is None
        (key,) = refused
        refusals = [k for k, _, s in receiver.requests if s == 403]
        assert refusals == [key] * REFUSALS_BEFORE_FAILED
        metrics = env.client.get("/metrics")
        assert metrics.status_code == 200
        assert "cardservice_notices_failed 1.0" in metrics.text
        assert "cardservice_notices_pending 0.0" in metrics.text
    finally:
        envs.close()
        receiver.stop()


def test_a_worker_started_with_the_setting_delivers(
    backend: str, tmp_path: Path, clock: FrozenClock
) -> None:
    clock.set(datetime.now(UTC))  # the worker's clock is the real one (notice age)
    receiver = Receiver().start()
    settings, schema = make_settings(backend, tmp_path)
    env = {
        **process_env(settings),
        "CARDSERVICE_NOTIFY_URL": receiver.url,
        "CARDSERVICE_NOTIFY_BACKOFF_SECONDS": "0.01",
    }
    log = tmp_path / "worker.log"
    svc = WriteSide.build(settings, clock)  # migrates first: the worker opens a current schema
    with log.open("wb") as out:
        proc = subprocess.Popen([*CLI, "worker"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        actor = Actor(kind="admin", id="test", role="admin", region="000000")
        issued = svc.ledger.issue_card(
            IssueCardRequest(
                name="周九一", id_number=id_number(9), category="veteran", region="500112"
            ),
            actor,
        )
        svc.ledger.change_status(issued.card.id, "suspend", "核查", actor)

        def delivered() -> bool:
            assert proc.poll() is None, log.read_text()
            return bool(receiver.delivered_keys())

        wait(delivered, "a notice from the worker", deadline=60)
        ((_, body, _),) = receiver.requests
        assert body["kind"] == "suspended" and body["card_id"] == str(issued.card.id)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        svc.close()
        receiver.stop()
        if schema is not None:
            schema.drop()
