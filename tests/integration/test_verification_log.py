"""The verification log's bounded queue: when the writer is blocked, producers wait
(back-pressure) instead of records being dropped; everything lands once it can."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable

from cardservice.bootstrap.write import WriteSide
from merchant_api import vlog


def record(i: int) -> vlog.Record:
    return vlog.Record(
        verification_id=str(uuid.uuid4()),
        merchant_id="m",
        merchant_name="店",
        merchant_kind="merchant",
        merchant_region="500112",
        card_id=None,
        card_number=None,
        status="malformed",
        presentation=None,
        checked_at=f"2026-06-01T00:00:{i % 60:02d}+00:00",
    )


def count(svc: WriteSide) -> int:
    with svc.db.read() as tx:
        row = tx.one("SELECT COUNT(*) FROM verification_log")
    return int(row[0]) if row else 0


def test_large_batches_are_written(services: WriteSide) -> None:
    """Batches past the COPY threshold (PostgreSQL) land whole, like small ones."""
    services.db.create_tables(vlog.ddl(services.db.dialect))
    with services.db.transaction() as tx:
        vlog.write(tx, [record(i) for i in range(vlog.BATCH_SIZE)])
    with services.db.transaction() as tx:
        vlog.write(tx, [record(i) for i in range(3)])
    assert count(services) == vlog.BATCH_SIZE + 3
    log = vlog.VerificationLog(services.db)
    for i in range(3 * vlog.BATCH_SIZE):
        log.record(record(i))
    log.close()
    assert count(services) == 4 * vlog.BATCH_SIZE + 3
    assert log.failures == 0


def test_back_pressure_instead_of_drops(services: WriteSide) -> None:
    services.db.create_tables(vlog.ddl(services.db.dialect))
    log = vlog.VerificationLog(services.db, maxsize=5)
    total = 200
    release = hold_write_lock(services)
    produced = 0

    def produce() -> None:
        nonlocal produced
        for i in range(total):
            log.record(record(i))
            produced += 1

    producer = threading.Thread(target=produce)
    producer.start()
    time.sleep(1.0)
    # The writer cannot commit: the producer waits, with at most the queue and one batch
    # taken, and nothing is dropped.
    assert producer.is_alive()
    assert produced <= 5 + vlog.BATCH_SIZE + 1
    release()
    producer.join(30)
    assert not producer.is_alive()
    log.close()
    assert count(services) == total


def hold_write_lock(services: WriteSide) -> Callable[[], None]:
    """Another connection blocks writes to the log until the returned function is called."""
    if services.db.dialect == "sqlite":
        conn = sqlite3.connect(services.db.path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")

        def release_sqlite() -> None:
            conn.execute("ROLLBACK")
            conn.close()

        return release_sqlite
    import psycopg

    pg = psycopg.connect(
        **services.settings.postgres_params(),
        options=f"-c search_path={services.settings.postgres_schema}",
    )
    pg.execute("LOCK TABLE verification_log IN ACCESS EXCLUSIVE MODE")

    def release_pg() -> None:
        pg.rollback()
        pg.close()

    return release_pg
