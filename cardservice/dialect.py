"""What differs between the two engines the storage adapter speaks, as one object each.

Callers write one SQL text with `?` placeholders; a `Dialect` turns it into its engine's
text (`statement`), names its blob type, and builds the batched INSERT statements from an
`Insert`'s parts (no SQL text is parsed for them). Pure: no driver is imported here.

`Dialect` is a `str` whose value is its name, so `tx.dialect == "postgres"` keeps working.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

ParamStyle = Literal["qmark", "format"]

# Below this many rows PostgreSQL gets multi-row INSERT statements, from here on COPY.
COPY_MIN_ROWS = 200
# Bind parameters per multi-row statement (PostgreSQL allows 65535), and rows at most.
_PARAMS_PER_STATEMENT = 30_000
_ROWS_PER_STATEMENT = 1000


@functools.lru_cache(maxsize=1024)
def split_placeholders(sql: str) -> tuple[str, ...]:
    """`sql` cut at each `?` placeholder: n placeholders give n + 1 pieces. A `?` inside a
    quoted literal ('..'), a quoted identifier (".."), a dollar-quoted string ($$..$$,
    $tag$..$tag$) or a comment (-- .., /* .. */) is text, not a placeholder."""
    pieces: list[str] = []
    start = i = 0
    n = len(sql)
    while i < n:
        c = sql[i]
        if c == "?":
            pieces.append(sql[start:i])
            start = i = i + 1
        elif c in "'\"":
            end = sql.find(c, i + 1)  # a doubled quote ('') reads as two adjacent literals
            if end < 0:
                raise ValueError(f"unterminated {c} in SQL: {sql[:80]}")
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end < 0:
                raise ValueError(f"unterminated comment in SQL: {sql[:80]}")
            i = end + 2
        elif c == "$" and (tag := _dollar_tag(sql, i)) is not None:
            end = sql.find(tag, i + len(tag))
            if end < 0:
                raise ValueError(f"unterminated {tag} in SQL: {sql[:80]}")
            i = end + len(tag)
        else:
            i += 1
    pieces.append(sql[start:])
    return tuple(pieces)


def _dollar_tag(sql: str, i: int) -> str | None:
    """The `$tag$` opening a dollar-quoted string at `i`, if one does (not a `$1`)."""
    if i > 0 and (sql[i - 1].isalnum() or sql[i - 1] == "_"):
        return None  # part of an identifier such as a$b
    end = sql.find("$", i + 1)
    if end < 0:
        return None
    tag = sql[i + 1 : end]
    if tag and not (tag.replace("_", "a").isalnum() and not tag[0].isdigit()):
        return None
    return sql[i : end + 1]


def parameter_count(sql: str) -> int:
    """How many `?` placeholders `sql` has (quoted ones not counted)."""
    return len(split_placeholders(sql)) - 1


def _identifier(name: str) -> str:
    if not name.isidentifier():
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


@dataclass(frozen=True)
class Insert:
    """The parts of an `INSERT INTO table (columns) VALUES (?, ..) [on_conflict]`.

    `columns` may be given as one comma-separated string ("a, b, c"). `on_conflict` is the
    statement's tail (`ON CONFLICT .. DO ..`); it takes no parameters of its own."""

    table: str
    columns: Sequence[str]
    on_conflict: str = ""

    def __post_init__(self) -> None:
        names = self.columns.split(",") if isinstance(self.columns, str) else self.columns
        columns = tuple(_identifier(c.strip()) for c in names)
        if not columns:
            raise ValueError(f"an INSERT into {self.table} needs columns")
        object.__setattr__(self, "columns", columns)
        _identifier(self.table)
        if parameter_count(self.on_conflict):
            raise ValueError(f"the conflict clause takes no parameters: {self.on_conflict[:80]}")

    @property
    def column_list(self) -> str:
        return ", ".join(self.columns)

    @property
    def width(self) -> int:
        return len(self.columns)

    def tail(self) -> str:
        return f" {self.on_conflict}" if self.on_conflict else ""


@dataclass(frozen=True)
class CopyPlan:
    """Many rows on PostgreSQL: COPY them into a per-session staging table of the inserted
    columns, then one INSERT .. SELECT with the statement's own conflict clause. None of
    these statements takes parameters."""

    create_stage: str
    truncate_stage: str
    copy: str
    insert_select: str


class Dialect(str):
    """One engine's SQL: its name (the string's value), blob type, parameter style and
    the statements it builds. The two instances are `SQLITE` and `POSTGRES`."""

    blob: str
    paramstyle: ParamStyle
    # Multi-row VALUES statements with `$n` placeholders (a raw cursor) and COPY staging,
    # instead of the driver's executemany.
    batches_inserts: bool
    # Idempotent DDL one statement per transaction (see `Database.create_tables`).
    ddl_per_transaction: bool

    def __new__(
        cls, name: str, *, blob: str, paramstyle: ParamStyle, batches_inserts: bool,
        ddl_per_transaction: bool,
    ) -> Dialect:  # fmt: skip
        self = super().__new__(cls, name)
        self.blob = blob
        self.paramstyle = paramstyle
        self.batches_inserts = batches_inserts
        self.ddl_per_transaction = ddl_per_transaction
        return self

    @property
    def name(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"Dialect({self.name!r})"

    def __reduce__(self) -> tuple[object, ...]:
        return (_by_name, (self.name,))

    def statement(self, sql: str) -> str:
        """The project's `?` text as this engine's driver takes it (cached)."""
        return _statement(sql, self.paramstyle)

    def ddl(self, sql: str) -> str:
        """DDL text with `{blob}` standing for the blob type."""
        return sql.format(blob=self.blob)

    def insert(self, insert: Insert) -> str:
        """The single-row statement, in this engine's parameter style."""
        return self.statement(_single_row(insert))

    def rows_per_statement(self, insert: Insert) -> int:
        return max(1, min(_ROWS_PER_STATEMENT, _PARAMS_PER_STATEMENT // insert.width))

    def multi_row(self, insert: Insert, count: int) -> str:
        """`count` value rows in one statement, numbered `$1 .. $n` (for a raw cursor)."""
        return _multi_row(insert, count)

    def copy_plan(self, insert: Insert) -> CopyPlan:
        # Only the inserted columns: a copy of the whole table (LIKE) would carry NOT NULL
        # columns the statement leaves to their defaults (a serial key) and refuse every row.
        table, columns = insert.table, insert.column_list
        stage = f"stage_{table}_{zlib.crc32(columns.encode()):08x}"
        return CopyPlan(
            create_stage=f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "  # noqa: S608
            f"SELECT {columns} FROM {table} WITH NO DATA",
            truncate_stage=f"TRUNCATE {stage}",
            copy=f"COPY {stage} ({columns}) FROM STDIN",
            insert_select=f"INSERT INTO {table} ({columns}) "  # noqa: S608
            f"SELECT {columns} FROM {stage}{insert.tail()}",
        )


@functools.lru_cache(maxsize=1024)
def _statement(sql: str, paramstyle: ParamStyle) -> str:
    if paramstyle == "qmark":
        return sql
    # psycopg reads `%` everywhere in a statement with parameters, literals included.
    return "%s".join(piece.replace("%", "%%") for piece in split_placeholders(sql))


def _single_row(insert: Insert) -> str:
    values = ", ".join("?" * insert.width)
    return f"INSERT INTO {insert.table} ({insert.column_list}) VALUES ({values}){insert.tail()}"  # noqa: S608


@functools.lru_cache(maxsize=256)
def _multi_row(insert: Insert, count: int) -> str:
    width = insert.width
    rows = ", ".join(
        "(" + ", ".join(f"${r * width + c + 1}" for c in range(width)) + ")" for r in range(count)
    )
    return f"INSERT INTO {insert.table} ({insert.column_list}) VALUES {rows}{insert.tail()}"  # noqa: S608


SQLITE = Dialect(
    "sqlite", blob="BLOB", paramstyle="qmark", batches_inserts=False, ddl_per_transaction=False
)
POSTGRES = Dialect(
    "postgres", blob="BYTEA", paramstyle="format", batches_inserts=True, ddl_per_transaction=True
)


def _by_name(name: str) -> Dialect:
    return {"sqlite": SQLITE, "postgres": POSTGRES}[name]
