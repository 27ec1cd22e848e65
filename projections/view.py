"""What a view is: a pure per-aggregate fold plus the SQL that loads and stores its state.

The fold (`apply`) never does I/O, so it is unit-tested on real domain events alone. The
runner loads the states a batch touches, folds every event of the batch in memory, and
stores the changed states with the tracking position in one transaction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID

from eventsourcing.utils import get_topic

from cardservice.storage import Row, Tx

S = TypeVar("S")

Event = Any
"""A domain event object as the application's mapper returns it (attributes vary by type)."""

PARAMS_PER_QUERY = 400
"""Stay well under SQLite's bound-parameter limit in `IN (...)` lookups."""


class ProjectionError(Exception):
    """An event a fold cannot apply (for example a status change of an unknown card).

    Set aside for this view (`projections.setaside`), logged and counted, and the view goes
    on; after a fix, rebuilding the view tries the event again.
    """


def event_name(event: Event) -> str:
    """`Card.Issued`, `Merchant.Deactivated`...: the qualified name of the event class."""
    return str(type(event).__qualname__)


def topics_of(aggregate: type, names: Sequence[str]) -> frozenset[str]:
    """The event-store topics of `aggregate`'s events called `names`."""
    return frozenset(get_topic(getattr(aggregate, name)) for name in names)


def chunks(items: Sequence[Any], size: int = PARAMS_PER_QUERY) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def placeholders(count: int) -> str:
    return ",".join("?" * count)


class View(ABC, Generic[S]):
    """One read model. Its state is folded per aggregate (keyed by `originator_id`)."""

    name: ClassVar[str]
    """Stable name: the `projection_positions` key and the CLI's `rebuild NAME`."""
    source: ClassVar[str]
    """The name of the Application whose notification log feeds this view."""
    topics: ClassVar[frozenset[str]]
    """Event topics this view folds; every other notification only advances its position."""
    tables: ClassVar[tuple[str, ...]]

    @abstractmethod
    def ddl(self, dialect: str) -> list[str]:
        """CREATE TABLE/INDEX statements (idempotent) for `dialect` ('sqlite'|'postgres')."""

    @abstractmethod
    def apply(self, state: S | None, event: Event) -> S | None:
        """The pure fold: the aggregate's view state after `event`."""

    @abstractmethod
    def load(self, tx: Tx, ids: Sequence[UUID]) -> dict[UUID, S]:
        """The stored states of these aggregates (absent ones are left out)."""

    @abstractmethod
    def store(self, tx: Tx, changes: Mapping[UUID, tuple[S | None, S | None]]) -> None:
        """Write each aggregate's new state given its (before, after) pair."""

    def upgrade(self, tx: Tx) -> None:
        """Bring a table made by an earlier version of `ddl` up to date (after `ddl`)."""

    def clear(self, tx: Tx) -> None:
        for table in self.tables:
            tx.execute(f"DELETE FROM {table}")  # noqa: S608 - table names are constants

    @abstractmethod
    def snapshot(self, tx: Tx) -> list[Row]:
        """Every row of the view in a canonical order (to compare a view with a rebuild)."""


def add_column(tx: Tx, table: str, column: str, definition: str) -> None:
    """ALTER TABLE .. ADD COLUMN unless the column is there (SQLite has no IF NOT EXISTS)."""
    if tx.dialect == "postgres":  # looked up first: ALTER locks the table even as a no-op
        found = tx.one(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = ? AND column_name = ?",
            (table, column),
        )
        if found is None:
            tx.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {definition}")
        return
    columns = {str(r[1]) for r in tx.all(f"PRAGMA table_info({table})")}
    if column not in columns:
        tx.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
