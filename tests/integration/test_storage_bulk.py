"""`Tx.insert_many`: the batched upsert the projections use (multi-row VALUES for a few rows,
COPY + INSERT .. SELECT for many on PostgreSQL) does exactly what one INSERT per row does,
conflict clause included, on both engines."""

from __future__ import annotations

import pytest

from cardservice.dialect import COPY_MIN_ROWS, Insert
from cardservice.settings import Settings
from cardservice.storage import Database

CONFLICT = "ON CONFLICT (k) DO UPDATE SET v = excluded.v, n = excluded.n"
BULK = Insert("bulk_t", ("k", "v", "n", "b"), on_conflict=CONFLICT)
UPSERT = "INSERT INTO bulk_u (k, v, n, b) VALUES (?, ?, ?, ?) " + CONFLICT


@pytest.mark.parametrize("count", [1, 7, COPY_MIN_ROWS - 1, COPY_MIN_ROWS, 2500])
def test_insert_many_equals_row_by_row(settings: Settings, count: int) -> None:
    db = Database(settings)
    try:
        columns = "(k TEXT PRIMARY KEY, v TEXT, n BIGINT, b {blob})"
        db.create_tables([f"CREATE TABLE IF NOT EXISTS bulk_{t} {columns}" for t in "tu"])
        first = [(f"k{i}", f"v{i} 50% 'q' \\ \t ?", i, bytes([i % 256]) * 3) for i in range(count)]
        again = [(f"k{i}", f"w{i}", -i, None) for i in range(0, count, 2)]  # updates half
        with db.transaction() as tx:
            tx.insert_many(BULK, first)
        with db.transaction() as tx:
            tx.insert_many(BULK, again)
            tx.insert_many(BULK, [])
        with db.transaction() as tx:
            for row in first:
                tx.execute(UPSERT, row)
            for row in again:
                tx.execute(UPSERT, row)
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


def test_insert_many_refuses_rows_of_the_wrong_width(settings: Settings) -> None:
    db = Database(settings)
    try:
        db.create_tables(["CREATE TABLE IF NOT EXISTS bulk_w (k TEXT PRIMARY KEY, v TEXT)"])
        with pytest.raises(ValueError), db.transaction() as tx:
            tx.insert_many(Insert("bulk_w", ("k", "v")), [("a", "b"), ("c",)])
    finally:
        db.close()
