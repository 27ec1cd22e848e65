"""Delivery of holder notices to a messaging gateway (`CARDSERVICE_NOTIFY_URL`).

The notices view writes each notice into `notice_outbox` in the same transaction as the
inbox (see `projections.notices`); this worker POSTs the due rows, one at a time, and
marks a row delivered only after a 2xx answer. A failure (5xx, 408, 429, a timeout, a
dropped connection) schedules the row again with exponential back-off and jitter, capped.
A permanent refusal (any other 4xx) counts too, and after `REFUSALS_BEFORE_FAILED` of them
the row is given up: `outcome = 'failed'` with the last status, logged, counted in
/healthz and in `/metrics`. Rows live in the database, so a restart loses nothing: at
least once, and the gateway drops duplicates by the `Idempotency-Key` header (the notice
id). Finished rows are deleted `RETENTION` after they finished, a bounded batch per pass.

A row is claimed by moving its `next_attempt_at` one lease ahead with a compare-and-set,
so two workers (a `serve` and a `worker`) never send the same row at the same moment.
The "expires in 30 days" notices come from the clock: a sweep over the card status view
queues them (their ids are deterministic, so a sweep never queues one twice).

The write side sends, so the payload may carry the holder's phone, unsealed here at send
time and never stored in the outbox.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cardservice.bootstrap.write import WriteSide
from cardservice.clock import today_in_shanghai
from projections.notices import Notice, expiring_notice, insert_outbox

log = logging.getLogger("cardservice.outbox")

LEASE_SECONDS = 30.0
BATCH = 50
SEND_TIMEOUT_SECONDS = 10.0
SWEEP_EVERY_SECONDS = 300.0
SENDERS = 4
MAX_AGE = timedelta(days=7)
"""A notice older than this when first tried is not sent (a backlog of old history, for
example when the view is first built on a long-running ledger); the inbox still shows it."""
REFUSALS_BEFORE_FAILED = 5
"""Permanent refusals (4xx other than 408 and 429) before a row is given up."""
TRANSIENT_4XX = frozenset({408, 429})
RETENTION = timedelta(days=40)
"""Finished rows (delivered, too old, failed) are deleted this long after they finished.
Longer than MAX_AGE and than the 30-day expiring window plus a day: a notice whose row is
gone and that a view rebuild or an expiry sweep queues again is too old to be sent, or its
card has expired, so pruning never sends a notice twice."""
PRUNE_BATCH = 500
PRUNE_EVERY_SECONDS = 60.0


@dataclass(frozen=True)
class Due:
    notice_id: str
    card_id: str
    kind: str
    at: str
    message: str
    message_en: str
    attempts: int
    next_attempt_at: float
    refusals: int = 0


def backoff(attempts: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds before attempt `attempts + 1`: base·2^(attempts-1), ±20 % jitter, capped.
    The exponent stops at 64: a gateway down for days must not overflow the float."""
    delay = min(cap, base * 2 ** min(64, max(0, attempts - 1)))
    return float(min(cap, delay * rng.uniform(0.8, 1.2)))


class NoticeDelivery:
    """Sends due outbox rows to the gateway until stopped (a daemon thread)."""

    def __init__(
        self,
        svc: WriteSide,
        *,
        url: str | None = None,
        now: Callable[[], float] = time.time,
        poll_seconds: float | None = None,
    ) -> None:
        self.svc = svc
        self.url = url or svc.settings.notify_url
        if not self.url:
            raise ValueError("no notify URL configured")
        self.now = now
        self.base = max(0.001, svc.settings.notify_backoff_seconds)
        self.cap = max(self.base, svc.settings.notify_backoff_max_seconds)
        self.poll_seconds = poll_seconds if poll_seconds is not None else min(1.0, self.base)
        self.rng = random.Random()  # noqa: S311 - jitter, not a secret
        self.timeout = SEND_TIMEOUT_SECONDS
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_sweep = 0.0
        self._last_prune = -PRUNE_EVERY_SECONDS
        self._prune_more = False
        self._pool = ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="notice-send")
        self.sent = 0
        self.failed = 0
        """Attempts that did not deliver (each retried, or given up)."""
        self.given_up = 0
        self._count_lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._pool = ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="notice-send")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="notice-delivery", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None
        self._pool.shutdown(wait=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.now() - self._last_sweep >= SWEEP_EVERY_SECONDS:
                    self.sweep_expiring()
                    self._last_sweep = self.now()
                worked = self.deliver_due()
                if self._prune_more or self.now() - self._last_prune >= PRUNE_EVERY_SECONDS:
                    self._prune_more = self.prune() == PRUNE_BATCH
                    self._last_prune = self.now()
            except Exception:  # supervised: a database hiccup must not end delivery
                log.exception("notice delivery failed; retrying")
                worked = 0
            if not worked:
                self._stop.wait(self.poll_seconds)

    # -- one pass -------------------------------------------------------------------------
    def sweep_expiring(self) -> int:
        """Queue the "expires in 30 days" notice of every card now due one."""
        today = today_in_shanghai(self.svc.clock)
        horizon = (today + timedelta(days=30)).isoformat()
        with self.svc.db.read() as tx:
            rows = tx.all(
                "SELECT card_id, expires FROM view_cards WHERE status <> 'revoked' "
                "AND expires >= ? AND expires <= ?",
                (today.isoformat(), horizon),
            )
        notices: list[Notice] = []
        for card_id, expires in rows:
            notice = expiring_notice(UUID(card_id), str(expires), today)
            if notice is not None:
                notices.append(notice)
        for start in range(0, len(notices), 500):
            with self.svc.db.transaction() as tx:
                insert_outbox(tx, notices[start : start + 500])
        return len(notices)

    def prune(self, limit: int = PRUNE_BATCH) -> int:
        """Delete at most `limit` rows finished more than RETENTION ago; how many."""
        before = self.now() - RETENTION.total_seconds()
        with self.svc.db.transaction() as tx:
            tx.execute(
                "DELETE FROM notice_outbox WHERE notice_id IN (SELECT notice_id FROM "
                "notice_outbox WHERE delivered_at IS NOT NULL AND delivered_at < ? LIMIT ?)",
                (before, limit),
            )
            return max(0, tx.rowcount)

    def deliver_due(self) -> int:
        """Try every row due now (at most one batch); the number tried."""
        claimed = self.claim_due()
        # A few sends in flight: a slow gateway costs one round trip per SENDERS notices.
        list(self._pool.map(self._attempt, claimed))
        return len(claimed)

    def claim_due(self) -> list[Due]:
        """Lease the rows due now (at most one batch) to this deliverer, LEASE_SECONDS long:
        a deliverer that dies before it finishes them leaves them to another after that."""
        now = self.now()
        with self.svc.db.read() as tx:
            rows = tx.all(
                "SELECT notice_id, card_id, kind, at, message, message_en, attempts, "
                "next_attempt_at, refusals FROM notice_outbox WHERE delivered_at IS NULL "
                "AND next_attempt_at <= ? ORDER BY next_attempt_at, notice_id LIMIT ?",
                (now, BATCH),
            )
        claimed: list[Due] = []
        for row in rows:
            if self._stop.is_set():
                break
            due = Due(
                notice_id=row[0],
                card_id=row[1],
                kind=row[2],
                at=row[3],
                message=row[4],
                message_en=row[5],
                attempts=int(row[6]),
                next_attempt_at=float(row[7]),
                refusals=int(row[8]),
            )
            if self._claim(due):
                claimed.append(due)
        return claimed

    def _claim(self, due: Due) -> bool:
        with self.svc.db.transaction() as tx:
            tx.execute(
                "UPDATE notice_outbox SET next_attempt_at = ? WHERE notice_id = ? "
                "AND next_attempt_at = ? AND delivered_at IS NULL",
                (self.now() + LEASE_SECONDS, due.notice_id, due.next_attempt_at),
            )
            return tx.rowcount == 1

    def _attempt(self, due: Due) -> None:
        age = self.svc.clock.now() - datetime.fromisoformat(due.at)
        if due.attempts == 0 and due.kind != "expiring" and age > MAX_AGE:
            self._finish(due, "too_old", None)
            return
        try:
            status = self._post(due)
        except Exception as exc:  # a connection refused, a timeout, a bad answer
            self._retry(due, f"{type(exc).__name__}: {exc}"[:300])
            return
        if 200 <= status < 300:
            with self._count_lock:
                self.sent += 1
            self._finish(due, "delivered", status)
        elif 400 <= status < 500 and status not in TRANSIENT_4XX:
            self._refused(due, status)
        else:
            self._retry(due, f"HTTP {status}", status)

    def _refused(self, due: Due, status: int) -> None:
        """A permanent refusal: retried until the REFUSALS_BEFORE_FAILED-th, then given up."""
        refusals = due.refusals + 1
        if refusals < REFUSALS_BEFORE_FAILED:
            self._retry(due, f"HTTP {status}", status, refusals)
            return
        with self._count_lock:
            self.failed += 1
            self.given_up += 1
        with self.svc.db.transaction() as tx:
            tx.execute(
                "UPDATE notice_outbox SET attempts = ?, refusals = ?, delivered_at = ?, "
                "outcome = 'failed', last_status = ?, last_error = ? "
                "WHERE notice_id = ? AND delivered_at IS NULL",
                (due.attempts + 1, refusals, self.now(), status, f"HTTP {status}", due.notice_id),
            )
        log.warning(
            "notice %s given up: the gateway refused it %d times (last HTTP %d)",
            due.notice_id,
            refusals,
            status,
        )

    def payload(self, due: Due) -> dict[str, Any]:
        return {
            "notice_id": due.notice_id,
            "card_id": due.card_id,
            "kind": due.kind,
            "at": due.at,
            "message": due.message,
            "message_en": due.message_en,
            "phone": self._phone(UUID(due.card_id)),
        }

    def _phone(self, card_id: UUID) -> str | None:
        """The holder's phone, unsealed now (None once the holder is erased)."""
        ledger = self.svc.ledger
        card = ledger.card(card_id)
        try:
            personal = ledger.holder_personal(card.holder_id)
        except Exception:
            return None
        phone = (personal or {}).get("phone")
        return str(phone) if phone else None

    def _post(self, due: Due) -> int:
        body = json.dumps(self.payload(due), ensure_ascii=False).encode()
        request = urllib.request.Request(  # noqa: S310 - the configured gateway URL
            str(self.url),
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Idempotency-Key": due.notice_id,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def _retry(
        self, due: Due, error: str, status: int | None = None, refusals: int | None = None
    ) -> None:
        with self._count_lock:
            self.failed += 1
        attempts = due.attempts + 1
        when = self.now() + backoff(attempts, self.base, self.cap, self.rng)
        with self.svc.db.transaction() as tx:
            tx.execute(
                "UPDATE notice_outbox SET attempts = ?, next_attempt_at = ?, last_error = ?, "
                "last_status = ?, refusals = ? WHERE notice_id = ? AND delivered_at IS NULL",
                (
                    attempts,
                    when,
                    error,
                    status,
                    due.refusals if refusals is None else refusals,
                    due.notice_id,
                ),
            )

    def _finish(self, due: Due, outcome: str, status: int | None) -> None:
        with self.svc.db.transaction() as tx:
            tx.execute(
                "UPDATE notice_outbox SET attempts = ?, delivered_at = ?, outcome = ?, "
                "last_status = ?, last_error = NULL WHERE notice_id = ?",
                (due.attempts + (status is not None), self.now(), outcome, status, due.notice_id),
            )


def backlog(svc: WriteSide) -> dict[str, Any]:
    """Rows not delivered yet, how long the oldest has waited, and the rows given up
    (refused for good; kept until RETENTION) (for /healthz)."""
    with svc.db.read() as tx:
        row = tx.one(
            "SELECT COUNT(*), MIN(at), MAX(attempts) FROM notice_outbox WHERE delivered_at IS NULL"
        )
        dead = tx.one("SELECT COUNT(*) FROM notice_outbox WHERE outcome = 'failed'")
    count = int(row[0]) if row else 0
    oldest = None
    if row and row[1]:
        waited = svc.clock.now() - datetime.fromisoformat(str(row[1]))
        oldest = max(0, int(waited.total_seconds()))
    return {
        "pending": count,
        "oldest_seconds": oldest,
        "max_attempts": int(row[2] or 0) if row else 0,
        "failed": int(dead[0]) if dead else 0,
    }


def pending(svc: WriteSide) -> int:
    """Rows not yet delivered (for health and tests)."""
    with svc.db.read() as tx:
        row = tx.one("SELECT COUNT(*) FROM notice_outbox WHERE delivered_at IS NULL")
    return int(row[0]) if row else 0


class OutboxMetrics(Collector):
    """`/metrics` figures of the outbox, read from the database at scrape time (so a
    `serve` reports the rows a `worker` gave up): pending and failed rows."""

    def __init__(self, svc: WriteSide) -> None:
        self._svc = svc

    def collect(self) -> Iterator[Metric]:
        pending_rows = GaugeMetricFamily(
            "cardservice_notices_pending", "Holder notices not yet delivered to the gateway"
        )
        failed_rows = GaugeMetricFamily(
            "cardservice_notices_failed",
            "Holder notices the gateway refused for good (4xx), given up and kept until pruned",
        )
        try:  # a scrape must not fail because the database blinked
            figures = backlog(self._svc)
            pending_rows.add_metric([], float(figures["pending"]))
            failed_rows.add_metric([], float(figures["failed"]))
        except Exception as exc:
            log.warning("outbox figures unavailable for /metrics: %s", exc)
        yield pending_rows
        yield failed_rows
