"""Crash safety: `kill -9` the projection worker again and again while cards are issued,
suspended, reissued and revoked; afterwards every view equals a full rebuild (no missing
and no duplicated rows) and agrees with the aggregates."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from cardservice.bootstrap.write import WriteSide
from cardservice.clock import FrozenClock
from cardservice.settings import Settings
from projections import all_views
from projections.service import rebuild, runners_for
from tests.conftest import make_settings
from tests.integration.test_projections import churn, issue_many, snapshots

pytestmark = pytest.mark.slow

KILLS = 8
LONG_KILLS = 20


def process_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDSERVICE_")}
    env.pop("DATABASE_URL", None)
    env.update(
        {
            "CARDSERVICE_DATA_DIR": str(settings.data_dir),
            "CARDSERVICE_SECRET": str(settings.secret),
            "CARDSERVICE_PROJECTION_POLL_SECONDS": "0.01",
            "CARDSERVICE_PROJECTION_BATCH_SIZE": "40",
            "CARDSERVICE_POOL_SIZE": "3",
        }
    )
    if settings.is_postgres:
        env["DATABASE_URL"] = str(settings.database_url)
        env["CARDSERVICE_POSTGRES_SCHEMA"] = settings.postgres_schema
    return env


def start_worker(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", "from cardservice.cli import main; main()", "worker"],
            env=process_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def lag(svc: WriteSide) -> int:
    return max(max(r.lag().values()) for r in runners_for(svc.sources()))


@pytest.fixture
def crash_services(backend: str, tmp_path: Path, clock: FrozenClock) -> Any:
    settings, schema = make_settings(backend, tmp_path)
    svc = WriteSide.build(settings, clock)
    yield svc
    svc.close()
    if schema is not None:
        schema.drop()


def test_kill_9_worker_then_views_equal_a_rebuild(
    crash_services: WriteSide, tmp_path: Path, long_mode: bool
) -> None:
    svc = crash_services
    kills_wanted = LONG_KILLS if long_mode else KILLS
    rng = random.Random(4)
    stop = threading.Event()
    issued: list[Any] = []
    errors: list[BaseException] = []

    def write() -> None:
        batch = 0
        try:
            while not stop.is_set():
                cards = issue_many(svc, 15, start=batch * 15)
                issued.extend(cards)
                churn(svc, cards)
                batch += 1
        except BaseException as exc:
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    log = tmp_path / "worker.log"
    kills = 0
    progressed = 0  # kills of a worker that had applied events and still lagged
    (ledger_runner,) = [r for r in runners_for(svc.sources()) if r.source == "CardLedger"]
    for runner in runners_for(svc.sources()):
        runner.setup()
    try:
        while kills < kills_wanted:
            before = min(ledger_runner.positions().values())
            worker = start_worker(svc.settings, log)
            time.sleep(rng.uniform(1.5, 3.0))
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            kills += 1
            after = min(ledger_runner.positions().values())
            if after > before and lag(svc):
                progressed += 1
    finally:
        stop.set()
        writer.join(60)
    assert not errors, errors
    assert issued
    assert progressed >= kills_wanted // 4, f"only {progressed} kills hit a working worker"
    # One last worker catches up, then stops cleanly on SIGTERM.
    worker = start_worker(svc.settings, log)
    try:
        deadline = time.monotonic() + 120
        while lag(svc):
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the worker never caught up"
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0, log.read_text()

    before = snapshots(svc)
    assert len(before["cards"]) == len(issued)
    assert len({row[0] for row in before["cards"]}) == len(issued)
    for card_id in rng.sample(issued, 40):
        card = svc.ledger.card(card_id)
        row = next(r for r in before["cards"] if r[0] == str(card_id))
        assert (row[2], row[3], row[4]) == (card.status, card.card_version, card.status_index)
    for view in all_views():
        rebuild(svc.sources(), view)
    assert snapshots(svc) == before
    print(f"\n{len(issued)} cards, {kills} kills ({progressed} mid-stream)")
