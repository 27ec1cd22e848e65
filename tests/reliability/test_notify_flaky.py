"""Measurement: 200 notices through a gateway that fails half of the requests.

Of the failures, half are refused before the gateway acts (503) and half are acted on but
the answer is lost (the gateway sent the SMS, then the connection broke): those are the
duplicates at-least-once delivery must produce, and the `Idempotency-Key` lets a gateway
drop them. Run with `-s` to see the figures.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from pathlib import Path

from cardservice.application import IssueCardRequest
from cardservice.bootstrap.write import WriteSide
from cardservice.clock import FrozenClock
from cardservice.domain.actors import Actor
from cardservice.outbox import NoticeDelivery, pending
from projections.service import ProjectionService
from tests.conftest import make_settings
from tests.factories import id_number
from tests.notify_support import Receiver

N = 200
ADMIN = Actor(kind="admin", id="bench", role="admin", region="000000")


def test_half_failing_gateway_gets_every_notice(
    backend: str, tmp_path: Path, clock: FrozenClock
) -> None:
    rng = random.Random(20261203)
    lock = threading.Lock()

    def flaky(n: int, body: object, key: str) -> int:
        with lock:
            roll = rng.random()
        if roll < 0.25:
            return 503  # refused, nothing sent
        if roll < 0.5:
            return 599  # sent, answer lost
        return 200

    receiver = Receiver(flaky).start()
    settings, schema = make_settings(backend, tmp_path)
    svc = WriteSide.build(settings, clock)
    projections = ProjectionService(svc.sources())
    projections.start()
    try:
        requests = [
            IssueCardRequest(
                name="钱七一", id_number=id_number(i), category="veteran", region="500112"
            )
            for i in range(N)
        ]
        outcomes = svc.ledger.issue_cards_bulk(requests, ADMIN)
        for outcome in outcomes:
            assert outcome.card_id is not None, outcome
            svc.ledger.change_status(outcome.card_id, "suspend", "核查", ADMIN)
        delivery = NoticeDelivery(svc, url=receiver.url, poll_seconds=0.01)
        delivery.base, delivery.cap = 0.01, 0.2
        started = time.monotonic()
        deadline = started + 120
        delivery.start()
        try:
            while len(set(receiver.delivered_keys())) < N or pending(svc):
                assert time.monotonic() < deadline, f"{pending(svc)} notices still pending"
                time.sleep(0.05)
        finally:
            delivery.stop()
        elapsed = time.monotonic() - started
        acted = Counter(receiver.processed)
        statuses = Counter(s for _, _, s in receiver.requests)
        duplicates = sum(c - 1 for c in acted.values())
        most = max(Counter(k for k, _, _ in receiver.requests).values())
        print(
            f"\nnotify ({backend}): {N} notices, {len(receiver.requests)} requests "
            f"({dict(sorted(statuses.items()))}), acted on {len(acted)} distinct "
            f"({sum(acted.values())} times): duplicates {duplicates}, "
            f"max attempts of one notice {most}, "
            f"{elapsed:.1f} s"
        )
        assert len(acted) == N and len(set(receiver.delivered_keys())) == N
        assert len(set(receiver.delivered_keys())) == len(receiver.delivered_keys())
        # Every duplicate comes from a lost answer, never from a second send after a 2xx.
        assert duplicates == statuses[599]
    finally:
        projections.stop()
        svc.close()
        receiver.stop()
        if schema is not None:
            schema.drop()
