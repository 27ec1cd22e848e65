"""The thin runner: notification log in, view rows and tracking positions out, exactly once.

Each step reads a window of the source Application's notification log (outside any side
database transaction), then in ONE transaction of the side database: advances every view's
position with a compare-and-set (taking the position row's lock first, so two runners of
the same view serialise and the loser rolls back), loads the states the window touches,
folds the events and stores the changed states. A crash anywhere leaves either the whole
window applied with its position or none of it.

A window that fails for a reason other than the database is retried event by event: the
one event a view cannot apply is set aside for that view (`projections.setaside`) in the
transaction that moves the view past it, so one bad event never stops the others.

Notification ids commit in id order on both engines (SQLite has one writer; the library's
PostgreSQL recorder takes a table lock per insert), so reading up to the current maximum
never passes over an id that commits later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from cardservice.storage import Database, Tx
from projections import heads, setaside
from projections.setaside import SET_ASIDE_DDL, SetAside, describe, retryable
from projections.view import View

log = logging.getLogger("projections")

POSITIONS_DDL = [
    """CREATE TABLE IF NOT EXISTS projection_positions (
        view TEXT NOT NULL,
        source TEXT NOT NULL,
        position BIGINT NOT NULL,
        PRIMARY KEY (view, source)
    )"""
]

AnyView = View[Any]


class Undecodable:
    """A notification the mapper could not turn into an event (kept to be set aside)."""

    def __init__(self, cause: Exception) -> None:
        self.cause = cause


Decoded = tuple[int, str, Any]
"""(notification id, topic, the domain event or an Undecodable)."""


class _Isolate(Exception):
    """Internal: go straight to the event-by-event pass."""


class PositionMoved(Exception):
    """Another runner (or a rebuild) moved a view's position since we read it: re-read."""


class BatchFailed(Exception):
    """Folding or storing a window failed; carries where, so the log says which events."""

    def __init__(self, source: str, first: int, last: int, topics: list[str], cause: BaseException):
        self.source = source
        self.first = first
        self.last = last
        self.topics = topics
        self.cause = cause
        where = f"position {first}" if first == last else f"positions {first}..{last}"
        what = f" ({', '.join(sorted(set(topics)))})" if topics else ""
        super().__init__(f"{source} {where}{what}: {type(cause).__name__}: {cause}")


def seed_positions(db: Database, views: Iterable[AnyView]) -> None:
    """A position row (0) for each view that has none (the tables are the migrations')."""
    views = list(views)
    with db.transaction() as tx:
        have = {
            (str(r[0]), str(r[1])) for r in tx.all("SELECT view, source FROM projection_positions")
        }
        for view in views:
            if (view.name, view.source) not in have:
                tx.execute(
                    "INSERT INTO projection_positions (view, source, position) VALUES (?, ?, 0) "
                    "ON CONFLICT (view, source) DO NOTHING",
                    (view.name, view.source),
                )


def create_tables(db: Database, views: Iterable[AnyView]) -> None:
    """The views' tables as the lazy code of before made them (tests build old databases
    with it; the service's tables are `cardservice.migrations`')."""
    statements = [*POSITIONS_DDL, *SET_ASIDE_DDL]
    for view in views:
        statements.extend(view.ddl(db.dialect))
    db.create_tables(statements)
    with db.transaction() as tx:
        for view in views:
            view.upgrade(tx)
            tx.execute(
                "INSERT INTO projection_positions (view, source, position) VALUES (?, ?, 0) "
                "ON CONFLICT (view, source) DO NOTHING",
                (view.name, view.source),
            )


def read_positions(tx: Tx, views: Iterable[AnyView]) -> dict[str, int]:
    wanted = {(v.name, v.source) for v in views}
    return {
        str(r[0]): int(r[2])
        for r in tx.all("SELECT view, source, position FROM projection_positions")
        if (r[0], r[1]) in wanted
    }


def head_of(app: Application[Any]) -> int:
    return heads.head_of(app.recorder)


@dataclass(frozen=True)
class StepResult:
    start: int
    stop: int
    events: int

    @property
    def advanced(self) -> int:
        return self.stop - self.start + 1 if self.stop >= self.start else 0


class Runner:
    """Applies one source Application's notifications to a group of views."""

    def __init__(
        self,
        db: Database,
        app: Application[Any],
        views: Sequence[AnyView],
        *,
        batch_size: int = 500,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        if not views:
            raise ValueError("a runner needs at least one view")
        for view in views:
            if view.source != app.name:
                raise ValueError(f"view {view.name} reads {view.source}, not {app.name}")
        self.db = db
        self.app = app
        # A fixed order for the compare-and-set locks: two runners never deadlock.
        self.views = sorted(views, key=lambda v: v.name)
        self.batch_size = batch_size
        self.now = now or (lambda: datetime.now(UTC))

    @property
    def source(self) -> str:
        return str(self.app.name)

    def setup(self) -> None:
        seed_positions(self.db, self.views)

    def positions(self) -> dict[str, int]:
        with self.db.read() as tx:
            return read_positions(tx, self.views)

    def head(self) -> int:
        return head_of(self.app)

    def lag(self) -> dict[str, int]:
        head = self.head()
        return {name: max(0, head - pos) for name, pos in self.positions().items()}

    def step(self, limit: int | None = None) -> StepResult:
        """Apply the next window (at most `limit` notifications); events=0 and an empty
        window when caught up. Raises PositionMoved, or BatchFailed for a failure of the
        database (retry later). A window that fails otherwise is retried event by event,
        and the one event a view cannot apply is set aside for that view."""
        limit = limit or self.batch_size
        positions = self.positions()
        start = min(positions.values()) + 1
        head = self.head()
        stop = min(start + limit - 1, head)
        if stop < start:
            return StepResult(start, start - 1, 0)
        behind = [v for v in self.views if positions[v.name] < stop]
        topics = sorted(set().union(*(v.topics for v in behind)))
        notes = self.app.recorder.select_notifications(start, limit=limit, stop=stop, topics=topics)
        decoded: list[Decoded] = []
        for note in notes:
            try:
                decoded.append((note.id, note.topic, self.app.mapper.to_domain_event(note)))
            except Exception as exc:
                if retryable(exc):
                    raise BatchFailed(self.source, start, stop, [note.topic], exc) from exc
                decoded.append((note.id, note.topic, Undecodable(exc)))
        topics_seen = [t for _, t, _ in decoded]
        try:
            if any(isinstance(e, Undecodable) for _, _, e in decoded):
                raise _Isolate
            self._commit(positions, behind, stop, decoded, isolate=False)
        except PositionMoved:
            raise
        except Exception as exc:
            if retryable(exc):
                raise BatchFailed(self.source, start, stop, topics_seen, exc) from exc
            try:
                self._isolate(positions, behind, stop, decoded)
            except PositionMoved:
                raise
            except Exception as again:
                raise BatchFailed(self.source, start, stop, topics_seen, again) from again
        return StepResult(start, stop, len(decoded))

    def _isolate(
        self,
        positions: Mapping[str, int],
        views: Sequence[AnyView],
        stop: int,
        decoded: Sequence[Decoded],
    ) -> None:
        """The window again, one event per transaction, to find the event that fails."""
        at = dict(positions)
        for i in [*sorted({i for i, _, _ in decoded}), stop]:
            behind = [v for v in views if at[v.name] < i]
            if behind:
                self._commit(at, behind, i, [d for d in decoded if d[0] == i], isolate=True)
                for view in behind:
                    at[view.name] = i

    def _commit(
        self,
        positions: Mapping[str, int],
        views: Sequence[AnyView],
        stop: int,
        decoded: Sequence[Decoded],
        *,
        isolate: bool,
    ) -> None:
        """Advance `views` to `stop` and fold their events, in one transaction. Isolated
        (one event), each view folds under a savepoint, and a view that cannot apply the
        event has it set aside in this same transaction (logged once it committed)."""
        aside: list[SetAside] = []
        with self.db.transaction() as tx:
            for view in views:
                self._advance(tx, view, positions[view.name], stop)
            for view in views:
                after = positions[view.name]
                mine = [d for d in decoded if d[0] > after and d[1] in view.topics]
                if not mine:
                    continue
                if not isolate:
                    self._fold(tx, view, [e for _, _, e in mine])
                    continue
                ((i, topic, event),) = mine
                tx.execute("SAVEPOINT fold_one")
                try:
                    if isinstance(event, Undecodable):
                        raise event.cause
                    self._fold(tx, view, [event])
                except Exception as exc:
                    if retryable(exc):
                        raise
                    tx.execute("ROLLBACK TO SAVEPOINT fold_one")
                    error_class, message = describe(exc)
                    entry = SetAside(
                        view.name, view.source, i, topic, error_class, message, self._at()
                    )
                    setaside.record(tx, entry)
                    aside.append(entry)
                tx.execute("RELEASE SAVEPOINT fold_one")
        for e in aside:
            log.error(
                "projection %s set aside notification %d of %s (%s): %s: %s",
                e.view,
                e.notification_id,
                e.source,
                e.topic,
                e.error_class,
                e.error_message,
            )

    def _at(self) -> str:
        return self.now().isoformat()

    def _advance(self, tx: Tx, view: AnyView, expected: int, new: int) -> None:
        tx.execute(
            "UPDATE projection_positions SET position = ? "
            "WHERE view = ? AND source = ? AND position = ?",
            (new, view.name, view.source, expected),
        )
        if tx.rowcount != 1:
            raise PositionMoved(f"{view.name} moved from {expected}")

    @staticmethod
    def _fold(tx: Tx, view: AnyView, events: Sequence[Any]) -> None:
        ids = list(dict.fromkeys(e.originator_id for e in events))
        before: Mapping[UUID, Any] = view.load(tx, ids)
        states: dict[UUID, Any] = dict(before)
        for event in events:
            states[event.originator_id] = view.apply(states.get(event.originator_id), event)
        changes = {
            key: (before.get(key), state)
            for key, state in states.items()
            if before.get(key) != state
        }
        if changes:
            view.store(tx, changes)

    def catch_up(
        self,
        *,
        until: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """Apply windows until every view reaches `until` (default: the head right now)."""
        target = self.head() if until is None else until
        while True:
            positions = self.positions()
            done = min(positions.values())
            if progress is not None:
                progress(done, target)
            if done >= target:
                return
            try:
                result = self.step(limit=min(self.batch_size, target - done))
            except PositionMoved:
                continue
            if result.advanced == 0:
                return


def reset(db: Database, view: AnyView) -> None:
    """Empty a view, rewind its position and forget what it set aside, in one transaction
    (a rebuild's first step: the set-aside events are tried again)."""
    with db.transaction() as tx:
        setaside.clear(tx, view.name, view.source)
        tx.execute(
            "UPDATE projection_positions SET position = 0 WHERE view = ? AND source = ?",
            (view.name, view.source),
        )
        view.clear(tx)
