"""`Tx.insert_many`: the batched upsert the projections use (multi-row VALUES for a few rows,
COPY + INSERT .. SELECT for many on PostgreSQL) does exactly what one INSERT per row does,
conflict clause included, on both engines."""

from __future__ import annotations

import pytest

from cardservice.settings import Settings
from cardservice.storage import COPY_MIN_ROWS, Database

UPSERT = (
    "INSERT INTO bulk_t (k, v, n, b) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (k) DO UPDATE SET v = excluded.v, n = excluded.n"
)


@pytest.mark.parametrize("count", [1, 7, COPY_MIN_ROWS - 1, COPY_MIN_ROWS, 2500])
def test_insert_many_equals_row_by_row(settings: Settings, count: int) -> None:
    db = Database(settings)
    try:
        columns = "(k TEXT PRIMARY KEY, v TEXT, n BIGINT, b {blob})"
        db.create_tables([f"CREATE TABLE IF NOT EXISTS bulk_{t} {columns}" for t in "tu"])
        first = [(f"k{i}", f"v{i} 50% 'q' \\ \t ?", i, bytes([i % 256]) * 3) for i in range(count)]
        again = [(f"k{i}", f"w{i}", -i, None) for i in range(0, count, 2)]  # updates half
        with db.transaction() as tx:
            tx.insert_many(UPSERT, first)
        with db.transaction() as tx:
            tx.insert_many(UPSERT, again)
            tx.insert_many(UPSERT, [])
        with db.transaction() as tx:
            for row in first:
                tx.execute(UPSERT.replace("bulk_t", "bulk_u"), row)
            for row in again:
                tx.execute(UPSERT.replace("bulk_t", "bulk_u"), row)
        with db.read() as tx:
            got = [
                (r[0], r[1], r[2], bytes(r[3])) for r in tx.all("SELECT * FROM bulk_t ORDER BY k")
            ]
            want = [
                (r[0], r[1], r[2], bytes(r[3])) for r in tx.all("SELECT * FROM bulk_u ORDER BY k")
            ]
        assert got == want and len(got) == count
    finally:
        db.close()


def test_insert_many_refuses_what_it_cannot_batch(settings: Settings) -> None:
    db = Database(settings)
    try:
        if db.dialect != "postgres":
            pytest.skip("SQLite passes any statement to executemany")
        with pytest.raises(ValueError), db.transaction() as tx:
            tx.insert_many("UPDATE x SET a = ?", [(1,)] * (COPY_MIN_ROWS + 1))
    finally:
        db.close()
