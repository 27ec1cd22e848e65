"""Events a view cannot apply, set aside so that one bad event never stops the others.

A window that fails is retried event by event; a failure that is not the database's
(a constraint, a value PostgreSQL refuses, a fold's own error) is a property of that one
event and that one view, so it is recorded here, in the same transaction that moves the
view's position past it, and the view goes on. Failures of the database itself (a lost
connection, a missing table, a permission) say nothing about the event: those are retried
until the database is back, and never set aside.

A rebuild of the view clears its entries and tries those events again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg

from cardservice.storage import Tx

SET_ASIDE_DDL = [
    """CREATE TABLE IF NOT EXISTS projection_set_aside (
        view TEXT NOT NULL,
        source TEXT NOT NULL,
        notification_id BIGINT NOT NULL,
        topic TEXT NOT NULL,
        error_class TEXT NOT NULL,
        error_message TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (view, source, notification_id)
    )"""
]

MAX_MESSAGE = 500

_RETRYABLE: tuple[type[BaseException], ...] = (
    # The database, not the event: connection lost, server shutting down, lock timeouts,
    # serialisation failures, a pool that cannot hand out a connection (all OperationalError),
    # and errors of the deployment (a missing table or grant: ProgrammingError).
    psycopg.OperationalError,
    psycopg.InterfaceError,
    psycopg.ProgrammingError,
    psycopg.InternalError,
    psycopg.NotSupportedError,
    sqlite3.OperationalError,
    sqlite3.InterfaceError,
    sqlite3.ProgrammingError,
    sqlite3.InternalError,
    OSError,
    MemoryError,
)


def retryable(exc: BaseException) -> bool:
    """True for failures of the database or the process: retry, never set the event aside."""
    return isinstance(exc, _RETRYABLE)


@dataclass(frozen=True)
class SetAside:
    view: str
    source: str
    notification_id: int
    topic: str
    error_class: str
    error_message: str
    at: str


def describe(exc: BaseException) -> tuple[str, str]:
    """The error's class and a message safe to store in any text column: no control
    characters (the very value PostgreSQL refused may be quoted in it), bounded length, and
    from PostgreSQL only the primary message (its DETAIL quotes the row's values)."""
    cls = f"{type(exc).__module__}.{type(exc).__qualname__}"
    primary = exc.diag.message_primary if isinstance(exc, psycopg.Error) else None
    text = "".join(ch if ch.isprintable() else " " for ch in (primary or str(exc)))
    return cls, text[:MAX_MESSAGE]


def record(tx: Tx, entry: SetAside) -> None:
    tx.execute(
        "INSERT INTO projection_set_aside "
        "(view, source, notification_id, topic, error_class, error_message, at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (view, source, notification_id) DO UPDATE "
        "SET topic = excluded.topic, error_class = excluded.error_class, "
        "error_message = excluded.error_message, at = excluded.at",
        (
            entry.view,
            entry.source,
            entry.notification_id,
            entry.topic,
            entry.error_class,
            entry.error_message,
            entry.at,
        ),
    )


def counts(tx: Tx, views: Iterable[str] | None = None) -> dict[str, int]:
    """Set-aside events per view (every view named in `views` appears, with 0 if none)."""
    found = {
        str(view): int(n)
        for view, n in tx.all("SELECT view, COUNT(*) FROM projection_set_aside GROUP BY view")
    }
    if views is None:
        return found
    return {name: found.get(name, 0) for name in views}


def entries(tx: Tx, limit: int = 50) -> list[SetAside]:
    """The most recent set-aside events, newest first."""
    rows = tx.all(
        "SELECT view, source, notification_id, topic, error_class, error_message, at "
        "FROM projection_set_aside ORDER BY at DESC, notification_id DESC LIMIT ?",
        (limit,),
    )
    return [
        SetAside(str(v), str(s), int(n), str(t), str(c), str(m), str(a))
        for v, s, n, t, c, m, a in rows
    ]


def clear(tx: Tx, view: str, source: str) -> None:
    tx.execute("DELETE FROM projection_set_aside WHERE view = ? AND source = ?", (view, source))
