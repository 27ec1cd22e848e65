"""The project's own tables beside the event store: key material, allocators and read views.

One small adapter speaks both SQLite and PostgreSQL, so every caller writes one SQL text
(with `?` placeholders) and one transaction shape. Views and their tracking positions live
in the same database so a projection commits both in one transaction.
"""

from __future__ import annotations

import concurrent.futures
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg_pool import ConnectionPool

from cardservice.dialect import COPY_MIN_ROWS, POSTGRES, SQLITE, Dialect, Insert
from cardservice.settings import Settings

Row = tuple[Any, ...]

SIDE_SCHEMA = [
    # Per-holder data keys, wrapped by the master secret. Deleting a row erases a holder.
    """CREATE TABLE IF NOT EXISTS holder_keys (
        holder_id TEXT PRIMARY KEY,
        wrapped_key {blob} NOT NULL
    )""",
    # Number allocators (card sequence per region and year, status-list index). Gaps are
    # harmless; uniqueness is what matters, and an allocator never blocks the event store.
    """CREATE TABLE IF NOT EXISTS sequences (
        name TEXT PRIMARY KEY,
        last_value BIGINT NOT NULL
    )""",
]

# The console's keyed search hashes (write side: `cardservice.application.search`).
SEARCH_DDL = [
    """CREATE TABLE IF NOT EXISTS holder_search (
        digest TEXT NOT NULL,
        holder_id TEXT NOT NULL,
        PRIMARY KEY (digest, holder_id)
    )""",
    "CREATE INDEX IF NOT EXISTS holder_search_holder ON holder_search (holder_id)",
]


POOL_WAIT_SECONDS = 5.0
PING_WAIT_SECONDS = 1.0
# Pings wait here with a deadline; a few workers, so one stuck on a dead socket does not
# hold up the next probe.
_PINGS = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="db-ping")


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...

    @property
    def rowcount(self) -> int: ...


class Tx:
    """A transaction handle: `?` placeholders on both engines (`dialect` translates)."""

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self._cursor = cursor
        self.dialect = dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Tx:
        self._cursor.execute(self.dialect.statement(sql), tuple(params))
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._cursor.executemany(self.dialect.statement(sql), [tuple(r) for r in rows])

    def insert_many(self, insert: Insert, rows: Sequence[Sequence[Any]]) -> None:
        """`executemany` of `insert` for rows that never repeat a conflict key. On
        PostgreSQL: one multi-row statement per chunk (one round trip and one plan) instead
        of one statement per row, and COPY for many rows; SQLite's executemany is already
        a tight C loop."""
        if not rows:
            return
        if any(len(row) != insert.width for row in rows):
            raise ValueError(f"rows for {insert.table} must have {insert.width} values")
        dialect = self.dialect
        if not dialect.batches_inserts:
            self._cursor.executemany(dialect.insert(insert), [tuple(r) for r in rows])
            return
        if len(rows) >= COPY_MIN_ROWS:
            self._copy_insert(insert, rows)
            return
        size = dialect.rows_per_statement(insert)
        # A raw cursor ($n placeholders): psycopg would otherwise re-parse the long text of
        # every multi-row statement in Python, which costs more than the rows themselves.
        with psycopg.RawCursor(self._cursor.connection) as raw:
            for start in range(0, len(rows), size):
                part = rows[start : start + size]
                raw.execute(dialect.multi_row(insert, len(part)), [v for row in part for v in row])

    def _copy_insert(self, insert: Insert, rows: Sequence[Sequence[Any]]) -> None:
        """Many rows: COPY into a staging table, then one INSERT .. SELECT (about twice the
        multi-row speed)."""
        plan = self.dialect.copy_plan(insert)
        cur = self._cursor
        cur.execute(plan.create_stage)
        cur.execute(plan.truncate_stage)
        with cur.copy(plan.copy) as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(plan.insert_select)

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        self.execute(sql, params)
        row = self._cursor.fetchone()
        return tuple(row) if row is not None else None

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self.execute(sql, params)
        return [tuple(r) for r in self._cursor.fetchall()]

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)


def allocate_in(tx: Tx, name: str, count: int = 1) -> int:
    """`Database.allocate` inside the caller's transaction (the row stays locked until then)."""
    row = tx.one(
        "INSERT INTO sequences (name, last_value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET last_value = sequences.last_value + ? "
        "RETURNING last_value",
        (name, count, count),
    )
    assert row is not None
    return int(row[0]) - count + 1


def allocate_many_in(tx: Tx, counts: dict[str, int]) -> dict[str, int]:
    """Several allocators in one statement (one round trip); rows lock in the given order,
    so callers that pass names in one global order never deadlock. Name -> first number."""
    names = list(counts)
    values = ", ".join("(?, ?)" for _ in names)
    rows = tx.all(
        f"INSERT INTO sequences (name, last_value) VALUES {values} "  # noqa: S608
        "ON CONFLICT (name) DO UPDATE SET last_value = sequences.last_value + excluded.last_value "
        "RETURNING name, last_value",
        [v for name in names for v in (name, counts[name])],
    )
    return {str(name): int(last) - counts[str(name)] + 1 for name, last in rows}


_RETURNED_AT: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
CHECK_IF_IDLE_SECONDS = 2.0


def _mark_returned(conn: Any) -> None:
    _RETURNED_AT[conn] = time.monotonic()


def _check_if_idle(conn: Any) -> None:
    """Ping a pooled connection before use only if it sat idle: under load every checkout
    would otherwise cost a round trip. One that broke meanwhile (a database restart) fails
    its request once and the pool drops it."""
    returned = _RETURNED_AT.get(conn)
    if returned is None or time.monotonic() - returned > CHECK_IF_IDLE_SECONDS:
        ConnectionPool.check_connection(conn)


class Database:
    """Connections to the side database (SQLite file or PostgreSQL)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dialect: Dialect = POSTGRES if settings.is_postgres else SQLITE
        self._local = threading.local()
        self._pool: ConnectionPool | None = None
        self._connect_kwargs: dict[str, Any] = {}
        self._conninfo = ""
        if self.dialect == "postgres":
            params = settings.postgres_params()
            kwargs: dict[str, Any] = {
                "autocommit": False,
                "connect_timeout": 5,
            }
            if settings.postgres_schema:
                kwargs["options"] = f"-c search_path={settings.postgres_schema}"
            self._connect_kwargs = kwargs
            self._conninfo = psycopg.conninfo.make_conninfo(**params)
            self._pool = ConnectionPool(
                conninfo=self._conninfo,
                kwargs=kwargs,
                min_size=1,
                max_size=max(2, settings.pool_size),
                open=True,
                check=_check_if_idle,
                reset=_mark_returned,
                timeout=POOL_WAIT_SECONDS,  # fail fast (503) while the server is down
            )
        else:
            settings.data_dir.mkdir(parents=True, exist_ok=True)

    @property
    def blob(self) -> str:
        return self.dialect.blob

    @property
    def path(self) -> Path:
        return self.settings.sqlite_path

    def _sqlite(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA secure_delete=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Tx]:
        """One transaction; SQLite takes the write lock up front so writers never deadlock."""
        if self._pool is not None:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                yield Tx(cur, POSTGRES)
            return
        lite = self._sqlite()
        lite.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield Tx(lite.cursor(), SQLITE)
        except BaseException:
            lite.execute("ROLLBACK")
            raise
        lite.execute("COMMIT")

    def read(self) -> Any:
        return self.transaction(write=False)

    def connect(self) -> psycopg.Connection[Any]:
        """A PostgreSQL connection of its own (autocommit), outside the pool: for session
        state such as an advisory lock, which must not go back to the pool with it."""
        assert self._pool is not None, "PostgreSQL only"
        kwargs = {**self._connect_kwargs, "autocommit": True}
        return psycopg.connect(self._conninfo, **kwargs)

    def create_tables(self, statements: Sequence[str]) -> None:
        """Idempotent DDL. On PostgreSQL one statement per transaction: `CREATE INDEX IF NOT
        EXISTS` locks its table even when the index exists, and a transaction holding
        several such locks deadlocks with projection runners writing those tables. (SQLite
        has one writer at a time, so one transaction there.)"""
        batches = [[s] for s in statements] if self.dialect.ddl_per_transaction else [statements]
        for batch in batches:
            with self.transaction() as tx:
                for statement in batch:
                    tx.execute(self.dialect.ddl(statement))

    def allocate(self, name: str, count: int = 1) -> int:
        """Reserve `count` consecutive numbers under `name`; returns the first."""
        with self.transaction() as tx:
            return allocate_in(tx, name, count)

    def after_erasure(self) -> None:
        """Make deleted key material unrecoverable from the files, not just invisible."""
        if self.dialect == "sqlite":
            self._sqlite().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        elif self._pool is not None:
            with self._pool.connection() as conn:
                conn.autocommit = True
                try:
                    conn.execute("VACUUM holder_keys")
                finally:
                    conn.autocommit = False

    def ping(self) -> bool:
        """Health: can we reach the database now? Answers within `PING_WAIT_SECONDS`,
        whatever the server does: a probe that waits for a dead server's timeouts is one
        the orchestrator gives up on."""
        if self._pool is None:
            return self._ping_once()
        future = _PINGS.submit(self._ping_once)
        try:
            return future.result(timeout=PING_WAIT_SECONDS)
        except concurrent.futures.TimeoutError:
            return False

    def _ping_once(self) -> bool:
        try:
            if self._pool is not None:
                with self._pool.connection(timeout=PING_WAIT_SECONDS) as conn:
                    conn.execute("SELECT 1")
                    conn.rollback()
                return True
            with self.read() as tx:
                tx.one("SELECT 1")
            return True
        except Exception:
            return False

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
