"""Reads of the projected views, and the small caches in front of them.

The verification path makes at most one indexed card lookup per request. Issuer keys and
merchants are cached briefly: keys are refreshed on an unknown kid (at most once per
`KEY_REFRESH_SECONDS`) and every `KEY_TTL_SECONDS`; a merchant entry lives
`MERCHANT_TTL_SECONDS`, so a deactivated or rotated key stops working within projection
lag plus that (well under the contract's 5 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from cardservice.security import b64u_decode
from cardservice.settings import Settings
from cardservice.storage import Database
from merchant_api.core import TrustedKey
from projections.cards import SELECT_CARD, CardRow, card_row_from_db, select_card
from projections.keys import KeyRow, select_keys
from projections.merchants import MerchantRow, select_merchant_by_key_hash

KEY_REFRESH_SECONDS = 2.0
KEY_TTL_SECONDS = 2.0
MERCHANT_TTL_SECONDS = 2.0
UNKNOWN_KEY_TTL_SECONDS = 0.2
MERCHANT_CACHE_SIZE = 10_000

Monotonic = Callable[[], float]

log = logging.getLogger("merchant_api.store")


class ViewReader:
    def __init__(self, db: Database) -> None:
        self.db = db

    def card(self, card_id: UUID) -> CardRow | None:
        with self.db.read() as tx:
            return select_card(tx, card_id)

    def merchant_by_key_hash(self, key_hash: str) -> MerchantRow | None:
        with self.db.read() as tx:
            return select_merchant_by_key_hash(tx, key_hash)

    def keys(self) -> list[KeyRow]:
        with self.db.read() as tx:
            return select_keys(tx)

    def status_entries(self) -> list[tuple[int, int]]:
        with self.db.read() as tx:
            return [
                (int(r[0]), int(r[1]))
                for r in tx.all("SELECT status_index, code FROM view_status_list")
            ]


@dataclass(frozen=True)
class KeySet:
    by_kid: dict[str, TrustedKey]
    rows: tuple[KeyRow, ...]
    loaded_at: float


class KeyCache:
    """Issuer public keys from the issuer_keys view, by base64url kid."""

    def __init__(self, reader: ViewReader, monotonic: Monotonic = time.monotonic) -> None:
        self._reader = reader
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._set = KeySet({}, (), float("-inf"))

    def _load(self) -> KeySet:
        rows = tuple(self._reader.keys())
        by_kid = {
            r.kid: TrustedKey(r.kid, b64u_decode(r.public_key), r.status, r.use) for r in rows
        }
        return KeySet(by_kid, rows, self._monotonic())

    def current(self) -> KeySet:
        found = self._set
        if self._monotonic() - found.loaded_at > KEY_TTL_SECONDS:
            found = self.refresh(min_age=KEY_TTL_SECONDS)
        return found

    def refresh(self, min_age: float = KEY_REFRESH_SECONDS) -> KeySet:
        with self._lock:
            if self._monotonic() - self._set.loaded_at > min_age:
                self._set = self._load()
            return self._set

    def fresh(self) -> bool:
        """True while `current()` answers from memory, without reading the database."""
        return self._monotonic() - self._set.loaded_at <= KEY_TTL_SECONDS

    def get(self, kid: str, /) -> TrustedKey | None:
        key = self.current().by_kid.get(kid)
        if key is None:
            key = self.refresh().by_kid.get(kid)
        return key


class MerchantCache:
    """Merchant by API-key hash. Unknown hashes are cached briefly too, so a flood of bad
    keys costs one query per key per `UNKNOWN_KEY_TTL_SECONDS`, and a new key works soon."""

    def __init__(self, reader: ViewReader, monotonic: Monotonic = time.monotonic) -> None:
        self._reader = reader
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, MerchantRow | None]] = OrderedDict()

    def cached(self, key_hash: str) -> tuple[bool, MerchantRow | None]:
        """(fresh, merchant): whether `get` would answer without reading the database."""
        with self._lock:
            entry = self._entries.get(key_hash)
        if entry is None:
            return False, None
        ttl = MERCHANT_TTL_SECONDS if entry[1] is not None else UNKNOWN_KEY_TTL_SECONDS
        return self._monotonic() - entry[0] <= ttl, entry[1]

    def get(self, key_hash: str) -> MerchantRow | None:
        now = self._monotonic()
        with self._lock:
            entry = self._entries.get(key_hash)
        if entry is not None:
            ttl = MERCHANT_TTL_SECONDS if entry[1] is not None else UNKNOWN_KEY_TTL_SECONDS
            if now - entry[0] <= ttl:
                return entry[1]
        merchant = self._reader.merchant_by_key_hash(key_hash)
        with self._lock:
            self._entries[key_hash] = (now, merchant)
            self._entries.move_to_end(key_hash)
            while len(self._entries) > MERCHANT_CACHE_SIZE:
                self._entries.popitem(last=False)
        return merchant


def merchant_json(merchant: MerchantRow) -> dict[str, Any]:
    return {
        "merchant_id": str(merchant.merchant_id),
        "name": merchant.name,
        "region": merchant.region,
        "kind": merchant.kind,
    }


@dataclass
class _Lookups:
    """One event loop's lookups waiting to be sent, and the queries in flight."""

    waiting: list[tuple[str, asyncio.Future[CardRow | None]]] = field(default_factory=list)
    in_flight: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class CardReader:
    """The hot path's card lookup: one indexed SELECT, no transaction around it.

    SQLite: a per-thread read-only connection in autocommit mode (a local file read takes
    microseconds, so the event loop may do it inline). PostgreSQL: an asyncio connection
    pool in autocommit mode with a prepared statement, so waiting for the server never
    blocks the event loop and one request costs one round trip.
    """

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._local = threading.local()
        self._pool: Any = None
        self._pool_loop: asyncio.AbstractEventLoop | None = None
        self._lookups: dict[asyncio.AbstractEventLoop, _Lookups] = {}

    def get(self, card_id: UUID) -> CardRow | None:
        """Synchronous lookup (threads, tests, in-process callers)."""
        if self.db.dialect == "postgres":
            with self.db.read() as tx:
                return select_card(tx, card_id)
        row = self._sqlite().execute(SELECT_CARD, (str(card_id),)).fetchone()
        return card_row_from_db(tuple(row)) if row is not None else None

    async def aget(self, card_id: UUID) -> CardRow | None:
        """The lookup from the event loop.

        On PostgreSQL concurrent lookups are coalesced: at most MAX_IN_FLIGHT queries run
        at once, and the lookups that arrive meanwhile go together in the next one
        (`card_id = ANY(..)`, still one index probe per card). Under load that turns N
        round trips into a few, where the database is the bottleneck; alone, a lookup
        still goes out at once.
        """
        if self.db.dialect != "postgres":
            return self.get(card_id)
        loop = asyncio.get_running_loop()
        state = self._lookups.setdefault(loop, _Lookups())
        future: asyncio.Future[CardRow | None] = loop.create_future()
        state.waiting.append((str(card_id), future))
        if state.in_flight < MAX_IN_FLIGHT:
            state.in_flight += 1
            task = loop.create_task(self._lookup_waiting(state))
            state.tasks.add(task)
            task.add_done_callback(state.tasks.discard)
        return await future

    async def _lookup_waiting(self, state: _Lookups) -> None:
        try:
            while state.waiting:
                batch = state.waiting[:MAX_BATCH]
                del state.waiting[:MAX_BATCH]
                try:
                    found = await self._select_many(list({key for key, _ in batch}))
                except BaseException as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for key, future in batch:
                    if not future.done():
                        future.set_result(found.get(key))
        finally:
            state.in_flight -= 1

    async def _select_many(self, keys: list[str]) -> dict[str, CardRow]:
        pool = await self._postgres_pool()
        async with pool.connection() as conn:
            if len(keys) == 1:
                cursor = await conn.execute(_PG_SELECT_CARD, (keys[0],), prepare=True)
            else:
                cursor = await conn.execute(_PG_SELECT_CARDS, (keys,), prepare=True)
            rows = await cursor.fetchall()
        return {str(row[0]): card_row_from_db(tuple(row)) for row in rows}

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

    async def _postgres_pool(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._pool is not None and self._pool_loop is loop:
            return self._pool
        if self._pool is not None and self._pool_loop is not None and self._pool_loop.is_closed():
            # The pool of an event loop that has ended (an app served again, as tests do)
            # can no longer close itself: hang up its connections, or the server's slots
            # leak one pool at a time.
            _hang_up(self._pool)
            self._pool = None
        import psycopg
        from psycopg_pool import AsyncConnectionPool

        kwargs: dict[str, Any] = {"autocommit": True, "connect_timeout": 5}
        if self.settings.postgres_schema:
            kwargs["options"] = f"-c search_path={self.settings.postgres_schema}"
        pool = AsyncConnectionPool(
            conninfo=psycopg.conninfo.make_conninfo(**self.settings.postgres_params()),
            kwargs=kwargs,
            min_size=1,
            max_size=max(2, self.settings.pool_size),
            open=False,
        )
        await pool.open()
        if self._pool is not None and self._pool_loop is loop:  # another request won
            await pool.close()
            return self._pool
        self._pool, self._pool_loop = pool, loop
        return pool

    async def aclose(self) -> None:
        """Close this loop's pool from its own loop (an app's shutdown); a pool of a loop
        that has ended is hung up instead (awaiting it here would never return)."""
        pool, loop = self._pool, self._pool_loop
        if pool is None:
            return
        self._pool = None
        if loop is asyncio.get_running_loop():
            await pool.close()
        else:
            _hang_up(pool)

    def close(self) -> None:
        """Best effort from synchronous shutdown code: close what can be closed here."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        pool, loop = self._pool, self._pool_loop
        if pool is not None and (loop is None or loop.is_closed()):
            _hang_up(pool)
            self._pool = None
            return
        if pool is None or loop is None:
            return
        self._pool = None
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            loop.create_task(pool.close())
        elif loop.is_running():
            asyncio.run_coroutine_threadsafe(pool.close(), loop)


def _hang_up(pool: Any) -> None:
    """Close the idle connections of a pool whose event loop is gone, at the libpq level
    (the pool's own close needs that loop)."""
    for conn in list(getattr(pool, "_pool", ())):
        with contextlib.suppress(Exception):
            conn.pgconn.finish()


_PG_SELECT_CARD = SELECT_CARD.replace("?", "%s")
_PG_SELECT_CARDS = SELECT_CARD.replace("card_id = ?", "card_id = ANY(%s)")
MAX_IN_FLIGHT = 2  # concurrent lookup queries per process; the rest wait and go together
MAX_BATCH = 256
