"""The usage-counter lookup behind a verdict's `remaining`: one indexed read per verdict,
made only where the merchant's catalog has a limited benefit, and on the event loop
alongside the card lookup rather than after it.

It reads the periods the verification falls in only (its Asia/Shanghai day, month and
year, and `ever`), through the (card_id, period) index: a card's counters of earlier
periods stay in the view (statistics and the holder's history are elsewhere), and a card
used daily for years costs the same read as a new one.

PostgreSQL: autocommit connections and a prepared statement (one round trip, no
transaction); on the event loop the card reader's pool. SQLite: a per-thread read-only
connection (a local file read).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from cardservice.clock import SHANGHAI
from cardservice.settings import Settings
from cardservice.storage import Database
from projections.cards import SELECT_CARD, CardRow, card_row_from_db

Used = dict[tuple[str, str], int]
Periods = tuple[str, str, str, str]
"""The periods a moment falls in: (day, month, year, `ever`), as `period_of` spells them."""

SELECT_COUNTERS = (
    "SELECT benefit_key, period, used FROM view_redemption_counters "
    "WHERE card_id = ? AND period IN (?, ?, ?, ?)"
)
_PG_SELECT = SELECT_COUNTERS.replace("?", "%s")
# The card lookup and its counters in one statement (one round trip on the verdict's path).
_PG_CARD_AND_COUNTERS = (
    f"SELECT c.*, r.benefit_key, r.period, r.used FROM ({SELECT_CARD.replace('?', '%s')}) AS c "  # noqa: S608
    "LEFT JOIN view_redemption_counters r ON r.card_id = c.card_id "
    "AND r.period IN (%s, %s, %s, %s)"
)


def current_periods(moment: datetime) -> Periods:
    """The Asia/Shanghai day, month and year `moment` falls in, and `ever`."""
    return _periods_of(moment.astimezone(SHANGHAI).date())


@lru_cache(maxsize=8)
def _periods_of(day: date) -> Periods:
    return (day.isoformat(), day.isoformat()[:7], day.isoformat()[:4], "ever")


AsyncPool = Callable[[], Awaitable[Any]]


class CounterReader:
    def __init__(self, settings: Settings, db: Database, async_pool: AsyncPool) -> None:
        """`async_pool`: the card reader's pool of autocommit connections on the event loop
        (the verdict's two reads then run side by side without a thread hop)."""
        self.settings = settings
        self.db = db
        self._async_pool = async_pool
        self._local = threading.local()
        self._pool: Any = None
        self._lock = threading.Lock()

    def get(self, card_id: str, periods: Periods) -> Used:
        """{(benefit key, period): used} of one card, in `periods` (`current_periods`)."""
        if self.db.dialect == "postgres":
            with self._postgres().connection() as conn:
                rows = conn.execute(_PG_SELECT, (card_id, *periods), prepare=True).fetchall()
        else:
            rows = self._sqlite().execute(SELECT_COUNTERS, (card_id, *periods)).fetchall()
        return {(str(r[0]), str(r[1])): int(r[2]) for r in rows}

    async def aget(self, card_id: str, periods: Periods) -> Used:
        if self.db.dialect != "postgres":
            return self.get(card_id, periods)
        pool = await self._async_pool()
        async with pool.connection() as conn:
            cursor = await conn.execute(_PG_SELECT, (card_id, *periods), prepare=True)
            rows = await cursor.fetchall()
        return {(str(r[0]), str(r[1])): int(r[2]) for r in rows}

    async def card_and_counters(
        self, card_id: str, periods: Periods
    ) -> tuple[CardRow | None, Used]:
        """PostgreSQL: the card's status-view row and its counters in `periods`, in one
        query."""
        pool = await self._async_pool()
        async with pool.connection() as conn:
            cursor = await conn.execute(_PG_CARD_AND_COUNTERS, (card_id, *periods), prepare=True)
            rows = await cursor.fetchall()
        if not rows:
            return None, {}
        card = card_row_from_db(tuple(rows[0])[:-3])
        used = {(str(r[-3]), str(r[-2])): int(r[-1]) for r in rows if r[-3] is not None}
        return card, used

    def _sqlite(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.db.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA query_only=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    def _postgres(self) -> Any:
        with self._lock:
            if self._pool is None:
                import psycopg
                from psycopg_pool import ConnectionPool

                kwargs: dict[str, Any] = {"autocommit": True, "connect_timeout": 5}
                if self.settings.postgres_schema:
                    kwargs["options"] = f"-c search_path={self.settings.postgres_schema}"
                self._pool = ConnectionPool(
                    conninfo=psycopg.conninfo.make_conninfo(**self.settings.postgres_params()),
                    kwargs=kwargs,
                    min_size=1,
                    max_size=max(2, self.settings.pool_size),
                    open=True,
                )
            return self._pool

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
