"""The verification log: every verdict recorded, off the request path, never dropped.

Requests put a record on a bounded queue; one writer thread appends them in batches (one
transaction per batch). When the writer falls behind, the queue fills and `record` blocks:
back-pressure slows verification down instead of losing records. A failed write is
retried with backoff with the same records (inserts are idempotent by verification id).
`close` drains the queue before returning.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import datetime
from typing import Any

from cardservice.clock import SHANGHAI
from cardservice.dialect import Insert
from cardservice.storage import Database, Row, Tx
from projections.view import add_column
from redemptions.rollups import VERIFICATION_ROLLUP_DDL, add_verifications, backfill_verifications
from redemptions.stats import VERIFICATION_DAILY_DDL

log = logging.getLogger("merchant_api.log")

QUEUE_SIZE = 10_000
BATCH_SIZE = 500
FLUSH_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 5.0
PAGE_MAX = 500


def ddl(dialect: str) -> list[str]:
    seq = "BIGSERIAL PRIMARY KEY" if dialect == "postgres" else "INTEGER PRIMARY KEY AUTOINCREMENT"
    return [
        f"""CREATE TABLE IF NOT EXISTS verification_log (
            seq {seq},
            verification_id TEXT NOT NULL UNIQUE,
            merchant_id TEXT NOT NULL,
            merchant_name TEXT NOT NULL,
            merchant_kind TEXT NOT NULL,
            merchant_region TEXT NOT NULL,
            card_id TEXT,
            card_number TEXT,
            status TEXT NOT NULL,
            presentation TEXT,
            checked_at TEXT NOT NULL,
            card_region TEXT,
            benefits TEXT,
            refusals TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS verification_log_merchant "
        "ON verification_log (merchant_id, seq)",
        "CREATE INDEX IF NOT EXISTS verification_log_card ON verification_log (card_id, seq)",
        *VERIFICATION_DAILY_DDL,
        *VERIFICATION_ROLLUP_DDL,
    ]


ADDED_COLUMNS = (("card_region", "TEXT"), ("benefits", "TEXT"), ("refusals", "TEXT"))


def upgrade(tx: Tx) -> None:
    """Add the columns a log made before them lacks, and fill the roll-ups once (run by
    `cardservice.migrations`, after `ddl`)."""
    for name, kind in ADDED_COLUMNS:
        add_column(tx, "verification_log", name, kind)
    backfill_verifications(tx)


@dataclass(frozen=True)
class Record:
    verification_id: str
    merchant_id: str
    merchant_name: str
    merchant_kind: str
    merchant_region: str
    card_id: str | None
    card_number: str | None
    status: str
    presentation: str | None
    checked_at: str
    card_region: str | None = None
    benefits: str | None = None
    """JSON: the applied benefits `[{"id", "region", "limit", "companions"}]`."""
    refusals: str | None = None
    """JSON: `{benefit id: reason}` of the benefits that did not apply."""


_COLUMNS = (
    "verification_id, merchant_id, merchant_name, merchant_kind, merchant_region, card_id, "
    "card_number, status, presentation, checked_at, card_region, benefits, refusals"
)


def shanghai_day(checked_at: str) -> str:
    return datetime.fromisoformat(checked_at).astimezone(SHANGHAI).date().isoformat()


def write(tx: Tx, records: Sequence[Record], *, retry: bool = False) -> None:
    """One batch: multi-row statements (or COPY) on PostgreSQL, where executemany's
    per-row client work had been a tenth of the merchant API's CPU under load; every
    verification id is a fresh UUID, so no batch repeats a conflict key. The daily sums
    and their roll-ups grow in the same transaction; a retried batch (whose first commit
    may have landed with its acknowledgement lost) counts only the records not already in
    the log."""
    if retry:
        present: set[str] = set()
        ids = [r.verification_id for r in records]
        for i in range(0, len(ids), 400):
            part = ids[i : i + 400]
            present.update(
                str(row[0])
                for row in tx.all(
                    "SELECT verification_id FROM verification_log "  # noqa: S608
                    f"WHERE verification_id IN ({','.join('?' * len(part))})",
                    part,
                )
            )
        records = [r for r in records if r.verification_id not in present]
    tx.insert_many(
        Insert(
            "verification_log", _COLUMNS, on_conflict="ON CONFLICT (verification_id) DO NOTHING"
        ),
        [astuple(r) for r in records],
    )
    sums = Counter((r.merchant_region, shanghai_day(r.checked_at), r.status) for r in records)
    tx.executemany(
        "INSERT INTO verification_daily (merchant_region, day, status, n) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (merchant_region, day, status) DO UPDATE SET "
        "n = verification_daily.n + excluded.n",
        [(*key, n) for key, n in sorted(sums.items())],
    )
    add_verifications(tx, sums)


def find(tx: Tx, verification_id: str) -> Record | None:
    row = tx.one(
        f"SELECT {_COLUMNS} FROM verification_log WHERE verification_id = ?",  # noqa: S608
        (verification_id,),
    )
    return Record(*row) if row is not None else None


class VerificationLog:
    def __init__(
        self, db: Database, *, maxsize: int = QUEUE_SIZE, flush_seconds: float = FLUSH_SECONDS
    ) -> None:
        self.db = db
        self.maxsize = maxsize
        self.flush_seconds = flush_seconds
        # A deque: appending costs no lock and wakes no thread. The writer drains it every
        # `flush_seconds` (at once when a batch is waiting); producers wait only when full.
        self._items: deque[Record] = deque()
        self._space = threading.Condition()
        self._in_flight = 0
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self.written = 0
        self.failures = 0

    @property
    def depth(self) -> int:
        return len(self._items) + self._in_flight

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="verification-log", daemon=True)
                thread.start()
                self._thread = thread

    def try_record(self, record: Record) -> bool:
        """Queue without waiting; False when full (the caller then waits in `record`)."""
        if self._closed:
            raise RuntimeError("the verification log is closed")
        self._ensure_started()
        if len(self._items) >= self.maxsize:
            return False
        self._items.append(record)
        return True

    def record(self, record: Record) -> None:
        """Queue, waiting for room if the writer is behind (back-pressure, never a drop)."""
        if self.try_record(record):
            return
        with self._space:
            while len(self._items) >= self.maxsize:
                self._space.wait(0.1)
            self._items.append(record)

    def _run(self) -> None:
        while True:
            if len(self._items) < BATCH_SIZE:
                if self._closed and not self._items:
                    break
                time.sleep(self.flush_seconds)
                if not self._items:
                    continue
            batch: list[Record] = []
            while self._items and len(batch) < BATCH_SIZE:
                batch.append(self._items.popleft())
            self._in_flight = len(batch)
            self._write(batch)
            self._in_flight = 0
            with self._space:
                self._space.notify_all()

    def _write(self, batch: list[Record]) -> None:
        attempt = 0
        while True:
            try:
                with self.db.transaction() as tx:
                    write(tx, batch, retry=attempt > 0)
                self.written += len(batch)
                return
            except Exception as exc:  # keep the records; retry until the database is back
                attempt += 1
                self.failures += 1
                log.error(
                    "writing %d verification records failed (attempt %d): %s",
                    len(batch),
                    attempt,
                    exc,
                )
                time.sleep(min(MAX_BACKOFF_SECONDS, 0.05 * 2**attempt))

    def close(self, timeout: float = 30.0) -> None:
        """Write everything queued, then stop the writer."""
        self._closed = True
        thread = self._thread
        if thread is None:
            return
        thread.join(timeout)
        self._thread = None

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything queued so far is written (tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while self.depth and time.monotonic() < deadline:
            time.sleep(0.01)


def page(
    tx: Tx, *, column: str, value: str, before: int | None, limit: int
) -> tuple[list[Row], int | None]:
    """Newest first; returns the rows and the cursor of the next page (or None)."""
    if column not in ("merchant_id", "card_id"):
        raise ValueError(column)
    where = f"{column} = ?"
    params: list[Any] = [value]
    if before is not None:
        where += " AND seq < ?"
        params.append(before)
    rows = tx.all(
        f"SELECT seq, {_COLUMNS} FROM verification_log WHERE {where} "  # noqa: S608
        "ORDER BY seq DESC LIMIT ?",
        [*params, limit + 1],
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (int(rows[-1][0]) if more and rows else None)
