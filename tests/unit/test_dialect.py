"""`cardservice.dialect`: the `?` text each engine's driver takes, and the batched INSERT
statements built from an `Insert`'s parts."""

from __future__ import annotations

import pickle

import pytest

from cardservice.dialect import (
    POSTGRES,
    SQLITE,
    Insert,
    parameter_count,
    split_placeholders,
)


def test_dialects_are_their_names() -> None:
    assert POSTGRES == "postgres" and SQLITE == "sqlite"
    assert POSTGRES != "sqlite" and SQLITE.name == "sqlite"
    assert (POSTGRES.blob, SQLITE.blob) == ("BYTEA", "BLOB")
    assert (POSTGRES.paramstyle, SQLITE.paramstyle) == ("format", "qmark")
    assert pickle.loads(pickle.dumps(POSTGRES)) is POSTGRES
    assert SQLITE.ddl("CREATE TABLE t (b {blob})") == "CREATE TABLE t (b BLOB)"


def test_sqlite_keeps_the_text() -> None:
    sql = "SELECT * FROM t WHERE a = ? AND b LIKE '50%'"
    assert SQLITE.statement(sql) is sql


def test_postgres_placeholders_and_percent() -> None:
    got = POSTGRES.statement("SELECT * FROM t WHERE a = ? AND b LIKE 'x%' AND c = ?")
    assert got == "SELECT * FROM t WHERE a = %s AND b LIKE 'x%%' AND c = %s"


@pytest.mark.parametrize(
    ("sql", "count"),
    [
        ("SELECT 1", 0),
        ("SELECT ?", 1),
        ("SELECT ?, ?,?", 3),
        ("SELECT '?' || ?", 1),
        ("SELECT 'it''s ?', ?", 1),
        ("SELECT ''", 0),
        ('SELECT "odd?col" FROM t WHERE a = ?', 1),
        ("SELECT ? -- a comment? yes\n, ?", 2),
        ("SELECT /* why? */ ?", 1),
        ("SELECT $$ ? $$, $tag$ it's ? $tag$, ?", 1),
        ("SELECT a$b FROM t WHERE c = ?", 1),
    ],
)
def test_question_marks_counted(sql: str, count: int) -> None:
    assert parameter_count(sql) == count


def test_quoted_question_marks_untouched() -> None:
    sql = "UPDATE t SET note = 'why? ''really?''' , \"q?\" = ? WHERE id = ?"
    assert POSTGRES.statement(sql) == (
        "UPDATE t SET note = 'why? ''really?''' , \"q?\" = %s WHERE id = %s"
    )
    assert split_placeholders(sql) == (
        "UPDATE t SET note = 'why? ''really?''' , \"q?\" = ",
        " WHERE id = ",
        "",
    )


@pytest.mark.parametrize("sql", ["SELECT 'open", 'SELECT "open', "SELECT /* open", "SELECT $$x"])
def test_unterminated_quotes_refused(sql: str) -> None:
    with pytest.raises(ValueError):
        POSTGRES.statement(sql)


def test_multi_row_numbering() -> None:
    insert = Insert("t", ("a", "b", "c"), on_conflict="ON CONFLICT (a) DO NOTHING")
    assert POSTGRES.multi_row(insert, 1) == (
        "INSERT INTO t (a, b, c) VALUES ($1, $2, $3) ON CONFLICT (a) DO NOTHING"
    )
    assert POSTGRES.multi_row(insert, 3) == (
        "INSERT INTO t (a, b, c) VALUES ($1, $2, $3), ($4, $5, $6), ($7, $8, $9) "
        "ON CONFLICT (a) DO NOTHING"
    )
    assert SQLITE.insert(insert) == (
        "INSERT INTO t (a, b, c) VALUES (?, ?, ?) ON CONFLICT (a) DO NOTHING"
    )
    assert POSTGRES.insert(Insert("t", "a, b")) == "INSERT INTO t (a, b) VALUES (%s, %s)"


def test_rows_per_statement_stays_under_the_parameter_limit() -> None:
    assert POSTGRES.rows_per_statement(Insert("t", ("a",))) == 1000
    wide = Insert("t", tuple(f"c{i}" for i in range(100)))
    assert POSTGRES.rows_per_statement(wide) * wide.width <= 30_000


def test_copy_plan_keeps_the_conflict_clause() -> None:
    insert = Insert("t", "a, b", on_conflict="ON CONFLICT (a) DO UPDATE SET b = excluded.b")
    plan = POSTGRES.copy_plan(insert)
    stage = plan.truncate_stage.removeprefix("TRUNCATE ")
    assert stage.startswith("stage_t_")
    assert plan.create_stage.endswith(
        f"{stage} ON COMMIT DELETE ROWS AS SELECT a, b FROM t WITH NO DATA"
    )
    assert plan.copy == f"COPY {stage} (a, b) FROM STDIN"
    assert plan.insert_select == (
        f"INSERT INTO t (a, b) SELECT a, b FROM {stage} "
        "ON CONFLICT (a) DO UPDATE SET b = excluded.b"
    )


@pytest.mark.parametrize(
    ("table", "columns", "on_conflict"),
    [
        ("t; DROP TABLE x", ("a",), ""),
        ("t", ("a b",), ""),
        ("t", (), ""),
        ("t", ("a",), "ON CONFLICT (a) DO UPDATE SET b = ?"),
    ],
)
def test_insert_refuses_what_is_not_plain(
    table: str, columns: tuple[str, ...], on_conflict: str
) -> None:
    with pytest.raises(ValueError):
        Insert(table, columns, on_conflict=on_conflict)
