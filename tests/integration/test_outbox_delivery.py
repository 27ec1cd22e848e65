"""The notice outbox on both engines, against a real local HTTP receiver, with only the
clock faked: two deliverers on one database send each notice once (the compare-and-set
claim), a crashed sender's lease runs out and another sends its rows, a gateway that times
out or drops the connection is retried, a permanent refusal (4xx) is given up after
REFUSALS_BEFORE_FAILED answers while 5xx/408/429 keep retrying, and finished rows are
pruned after their retention in bounded batches without a notice ever being sent twice."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cardservice.application import IssueCardRequest
from cardservice.bootstrap.write import WriteSide
from cardservice.clock import FrozenClock
from cardservice.domain.actors import Actor
from cardservice.outbox import (
    LEASE_SECONDS,
    REFUSALS_BEFORE_FAILED,
    RETENTION,
    NoticeDelivery,
    backlog,
    pending,
)
from projections.service import ProjectionService
from tests import waiting
from tests.conftest import make_settings
from tests.factories import id_number
from tests.notify_support import DROP, SLOW, Receiver

ADMIN = Actor(kind="admin", id="test", role="admin", region="000000")
DEADLINE = 20.0


def wait(predicate: Callable[[], Any], what: str, deadline: float = DEADLINE) -> Any:
    return waiting.wait(predicate, what, deadline)


@dataclass
class Outbox:
    """A write side with its projections on a fresh database, and the fake clock."""

    svc: WriteSide
    clock: FrozenClock
    build: Callable[[], WriteSide]
    seq: int = 0

    def now(self) -> float:
        return self.clock.now().timestamp()

    def notices(self, n: int) -> None:
        """`n` suspended cards: one notice each, queued once the notices view runs."""
        before = queued(self.svc)
        requests = [
            IssueCardRequest(
                name="孙八一",
                id_number=id_number(self.seq + i),
                category="veteran",
                region="500112",
            )
            for i in range(n)
        ]
        self.seq += n
        for outcome in self.svc.ledger.issue_cards_bulk(requests, ADMIN):
            assert outcome.card_id is not None, outcome
            self.svc.ledger.change_status(outcome.card_id, "suspend", "核查", ADMIN)
        wait(lambda: queued(self.svc) == before + n, f"{n} notices in the outbox")

    def delivery(self, url: str, svc: WriteSide | None = None) -> NoticeDelivery:
        delivery = NoticeDelivery(svc or self.svc, url=url, now=self.now, poll_seconds=0.01)
        delivery.base, delivery.cap = 0.001, 0.002
        return delivery


def queued(svc: WriteSide) -> int:
    with svc.db.read() as tx:
        row = tx.one("SELECT COUNT(*) FROM notice_outbox")
    return int(row[0]) if row else 0


def rows(svc: WriteSide) -> dict[str, tuple[Any, ...]]:
    """notice_id → (outcome, attempts, refusals, last_status)."""
    with svc.db.read() as tx:
        found = tx.all(
            "SELECT notice_id, outcome, attempts, refusals, last_status FROM notice_outbox"
        )
    return {str(r[0]): tuple(r[1:]) for r in found}


@pytest.fixture
def outbox(backend: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Outbox]:
    settings, schema = make_settings(backend, tmp_path)
    svc = WriteSide.build(settings, clock)
    projections = ProjectionService(svc.sources())
    projections.start()
    try:
        yield Outbox(svc, clock, lambda: WriteSide.build(settings, clock))
    finally:
        projections.stop()
        svc.close()
        if schema is not None:
            schema.drop()


def run_until(delivery: NoticeDelivery, done: Callable[[], bool], what: str) -> None:
    delivery.start()
    try:
        wait(done, what)
    finally:
        delivery.stop()


def drive(outbox: Outbox, delivery: NoticeDelivery, done: Callable[[], bool], what: str) -> None:
    """Pass after pass on the fake clock (each pass a second later, so back-off is due)."""
    end = time.monotonic() + DEADLINE
    while not done():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        delivery.deliver_due()
        outbox.clock.advance(timedelta(seconds=1))


def test_two_deliverers_on_one_database_send_each_notice_once(outbox: Outbox) -> None:
    lock = threading.Lock()
    receiver = Receiver(lambda n, body, key: (time.sleep(0.003), 200)[1]).start()
    other = outbox.build()  # a second process's write side (a `worker` beside a `serve`)
    try:
        outbox.notices(60)
        first, second = outbox.delivery(receiver.url), outbox.delivery(receiver.url, other)
        counts = Counter[str]()

        def passes(delivery: NoticeDelivery) -> None:
            while pending(delivery.svc):
                tried = delivery.deliver_due()
                with lock:
                    counts[str(id(delivery))] += tried

        threads = [threading.Thread(target=passes, args=(d,)) for d in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(DEADLINE)
        per_key = Counter(key for key, _, _ in receiver.requests)
        assert len(per_key) == 60 and set(per_key.values()) == {1}, per_key.most_common(3)
        assert sum(counts.values()) == 60  # every row claimed by exactly one of the two
        assert all(outcome == ("delivered", 1, 0, 200) for outcome in rows(other).values())
    finally:
        other.close()
        receiver.stop()


def test_a_crashed_senders_lease_runs_out_and_another_sends(outbox: Outbox) -> None:
    receiver = Receiver().start()
    try:
        outbox.notices(2)
        crashed = outbox.delivery(receiver.url)
        leased = crashed.claim_due()  # claimed, then the process died before sending
        assert len(leased) == 2
        survivor = outbox.delivery(receiver.url, outbox.build())
        try:
            assert survivor.deliver_due() == 0  # leased: not sent while the lease runs
            outbox.clock.advance(timedelta(seconds=LEASE_SECONDS - 1))
            assert survivor.deliver_due() == 0
            outbox.clock.advance(timedelta(seconds=2))
            assert survivor.deliver_due() == 2
        finally:
            survivor.svc.close()
        assert sorted(k for k, _, _ in receiver.requests) == sorted(d.notice_id for d in leased)
        assert pending(outbox.svc) == 0
    finally:
        receiver.stop()


def test_a_gateway_that_times_out_or_drops_the_connection_is_retried(outbox: Outbox) -> None:
    answers = iter([SLOW, DROP, SLOW, DROP])
    receiver = Receiver(lambda n, body, key: next(answers, 200)).start()
    receiver.slow_seconds = 0.6
    try:
        outbox.notices(1)
        delivery = outbox.delivery(receiver.url)
        delivery.timeout = 0.2
        drive(outbox, delivery, lambda: bool(receiver.delivered_keys()), "the delivery")
        statuses = [status for _, _, status in receiver.requests]
        assert statuses == [SLOW, DROP, SLOW, DROP, 200]
        ((outcome, attempts, refusals, last_status),) = rows(outbox.svc).values()
        assert (outcome, attempts, refusals, last_status) == ("delivered", 5, 0, 200)
    finally:
        receiver.stop()


def test_a_permanent_refusal_is_given_up_and_transient_ones_are_not(
    outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="cardservice.outbox")
    answers: dict[str, list[int]] = {}
    plans = [
        [403] * REFUSALS_BEFORE_FAILED,  # refused for good
        [400, 503, 404, 429, 422, 408, 401, 410],  # the fifth 4xx refusal, among transient
        [429, 408, 503, 500, 502, 429, 408, 503, 200],  # transient only: retried, delivered
    ]

    def behaviour(n: int, body: dict[str, Any], key: str) -> int:
        if key not in answers:
            answers[key] = plans[len(answers)]
        plan = answers[key]
        return plan.pop(0) if plan else 200

    receiver = Receiver(behaviour).start()
    try:
        outbox.notices(3)
        delivery = outbox.delivery(receiver.url)
        drive(outbox, delivery, lambda: pending(outbox.svc) == 0, "every row finished")
        keys = list(answers)
        found = rows(outbox.svc)
        assert found[keys[0]] == ("failed", 5, 5, 403)
        assert found[keys[1]] == ("failed", 8, 5, 410)
        assert found[keys[2]] == ("delivered", 9, 0, 200)
        assert receiver.delivered_keys() == [keys[2]]
        for _ in range(5):  # given up: never tried again
            outbox.clock.advance(timedelta(hours=1))
            assert delivery.deliver_due() == 0
        assert len(receiver.requests) == 5 + 8 + 9
        assert backlog(outbox.svc)["failed"] == 2 and delivery.given_up == 2
        given_up = [r.getMessage() for r in caplog.records if "given up" in r.getMessage()]
        assert sorted(given_up) == sorted(
            [
                f"notice {keys[0]} given up: the gateway refused it 5 times (last HTTP 403)",
                f"notice {keys[1]} given up: the gateway refused it 5 times (last HTTP 410)",
            ]
        )
    finally:
        receiver.stop()


def test_finished_rows_are_pruned_in_bounded_batches_and_never_resent(outbox: Outbox) -> None:
    from projections.notices import NoticesView
    from projections.service import rebuild

    receiver = Receiver().start()
    try:
        outbox.notices(5)
        delivery = outbox.delivery(receiver.url)
        assert delivery.deliver_due() == 5
        outbox.notices(1)  # not yet delivered: never pruned
        assert delivery.prune() == 0  # delivered just now: kept
        outbox.clock.advance(RETENTION + timedelta(minutes=1))
        assert [delivery.prune(limit=2) for _ in range(4)] == [2, 2, 1, 0]
        assert queued(outbox.svc) == 1 and pending(outbox.svc) == 1

        # A rebuilt inbox queues the pruned notices again, too old by now to be sent (as
        # is the one left pending for 40 days); a fresh notice still goes out.
        rebuild(outbox.svc.sources(), NoticesView())
        wait(lambda: queued(outbox.svc) == 6, "the rebuilt outbox")
        outbox.notices(1)
        run_until(delivery, lambda: pending(outbox.svc) == 0, "the fresh notice")
        assert len(receiver.requests) == 6 and len(set(k for k, _, _ in receiver.requests)) == 6
        outcomes = Counter(outcome for outcome, *_ in rows(outbox.svc).values())
        assert outcomes == {"too_old": 6, "delivered": 1}
        # The delivery loop prunes too.
        outbox.clock.advance(RETENTION + timedelta(minutes=1))
        run_until(delivery, lambda: queued(outbox.svc) == 0, "the loop's prune")
    finally:
        receiver.stop()
