"""One event a view cannot apply never stops the others (issue 11, seam 2).

The poison here is the TEST view's own: for one specific event (the issuance of a card for
the holder 欧阳毒药, a perfectly valid name) its fold writes NUL into a text column.
PostgreSQL refuses it (DataError); on SQLite the test table's CHECK refuses it
(IntegrityError). Validation is not loosened anywhere. The real views share the runner
with it, so before the set-aside a card issued after the poison stayed `unknown_card` and
a revocation after it never reached verification; now both arrive, the event is recorded
in `projection_set_aside`, counted in /metrics, shown by `projections status`, and
/readyz says degraded. Failures of the database itself are retried, never set aside.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import psycopg
import pytest
from fastapi.testclient import TestClient

from cardservice.application import IssueCardRequest
from cardservice.bootstrap.write import WriteSide
from cardservice.clock import FrozenClock
from cardservice.domain.actors import Actor
from cardservice.domain.cards import Card
from cardservice.storage import Row, Tx
from projections.cards import CARD_EVENTS, CardStatusView
from projections.registry import all_views
from projections.runner import BatchFailed, Runner, create_tables
from projections.service import ProjectionService, rebuild, runners_for
from projections.setaside import counts, entries
from projections.view import View, event_name, placeholders, topics_of
from tests.conftest import make_settings
from tests.factories import id_number
from tests.merchant_support import MerchantEnv

NATIONAL = Actor(kind="admin", id="test", role="admin", region="000000")
POISON_NAME = "欧阳毒药"
POISON_MASKED = "欧*药"
LONG_NAME = "司马长长"  # a second poison, refused by the database itself on both engines
LONG_MASKED = "司*长"
DEADLINE = 15.0


class NotesView(View[str]):
    """A test view: per card, the name of its last event, in a text column."""

    name: ClassVar[str] = "test_notes"
    source: ClassVar[str] = "CardLedger"
    topics: ClassVar[frozenset[str]] = topics_of(Card, CARD_EVENTS)
    tables: ClassVar[tuple[str, ...]] = ("test_notes",)
    table_exists: ClassVar[bool] = True

    def ddl(self, dialect: str) -> list[str]:
        if not self.table_exists:
            return []
        check = " CHECK (instr(note, char(0)) = 0)" if dialect == "sqlite" else ""
        return [
            "CREATE TABLE IF NOT EXISTS test_notes (card_id TEXT PRIMARY KEY, "
            f"note TEXT NOT NULL{check} CHECK (length(note) <= 40))"
        ]

    def apply(self, state: str | None, event: Any) -> str | None:
        note = event_name(event)
        if getattr(event, "masked_name", None) == POISON_MASKED:
            note += "\x00"  # the one event this view cannot store
        if getattr(event, "masked_name", None) == LONG_MASKED:
            note *= 10  # over the table's CHECK: a server-side IntegrityError on PostgreSQL
        return note

    def load(self, tx: Tx, ids: Sequence[UUID]) -> dict[UUID, str]:
        rows = tx.all(
            f"SELECT card_id, note FROM test_notes WHERE card_id IN ({placeholders(len(ids))})",
            [str(i) for i in ids],
        )
        return {UUID(str(card_id)): str(note) for card_id, note in rows}

    def store(self, tx: Tx, changes: Mapping[UUID, tuple[str | None, str | None]]) -> None:
        tx.executemany(
            "INSERT INTO test_notes (card_id, note) VALUES (?, ?) "
            "ON CONFLICT (card_id) DO UPDATE SET note = excluded.note",
            [(str(k), after) for k, (_, after) in changes.items() if after is not None],
        )

    def snapshot(self, tx: Tx) -> list[Row]:
        return tx.all("SELECT card_id, note FROM test_notes ORDER BY card_id")


def issue(svc: WriteSide, seq: int, name: str = "王五六") -> UUID:
    request = IssueCardRequest(
        name=name, id_number=id_number(seq), category="veteran", region="500112"
    )
    (outcome,) = svc.ledger.issue_cards_bulk([request], NATIONAL, source=f"p{seq}")
    assert outcome.card_id is not None
    return outcome.card_id


def ledger_runner(svc: WriteSide, views: Sequence[View[Any]]) -> Runner:
    (runner,) = [r for r in runners_for(svc.sources(), views) if r.source == "CardLedger"]
    create_tables(runner.db, runner.views)  # a test's own view: no migration makes it
    return runner


def test_poison_in_a_batch_is_set_aside_and_the_rest_applied(services: WriteSide) -> None:
    before = issue(services, 1)
    poison = issue(services, 2, POISON_NAME)
    after = issue(services, 3)
    long = issue(services, 4, LONG_NAME)
    last = issue(services, 5)
    services.ledger.change_status(before, "revoke", "gone", NATIONAL)
    notes = NotesView()
    views = [*[v for v in all_views() if v.source == "CardLedger"], notes]
    runner = ledger_runner(services, views)
    runner.catch_up()  # one window holds all of it
    head = runner.head()
    assert set(runner.positions().values()) == {head}
    everyone = [before, poison, after, long, last]
    with services.db.read() as tx:
        noted = notes.load(tx, everyone)
        cards = CardStatusView().load(tx, everyone)
        aside = sorted(entries(tx), key=lambda e: e.notification_id)
        assert counts(tx, ["cards", "test_notes"]) == {"cards": 0, "test_notes": 2}
    assert noted == {before: "Card.Revoked", after: "Card.Issued", last: "Card.Issued"}
    assert set(cards) == set(everyone)  # the real views applied every event
    assert cards[before].status == "revoked"
    entry, too_long = aside
    assert (entry.view, entry.source) == ("test_notes", "CardLedger")
    assert entry.topic.endswith("Card.Issued") and too_long.topic.endswith("Card.Issued")
    expected = "DataError" if services.db.dialect == "postgres" else "IntegrityError"
    assert entry.error_class.endswith(expected), entry
    assert too_long.error_class.endswith(("IntegrityError", "CheckViolation")), too_long
    assert "\x00" not in entry.error_message
    assert "Failing row" not in too_long.error_message  # no row values (no DETAIL) kept
    assert entry.at.startswith("2026-06-01T")  # the injected clock, RFC 3339
    # Later events of the poisoned card still reach the test view.
    services.ledger.change_status(poison, "suspend", "lost", NATIONAL)
    runner.catch_up()
    with services.db.read() as tx:
        assert notes.load(tx, [poison]) == {poison: "Card.Suspended"}
    # A rebuild forgets the entries and tries the events again: both fail again (each
    # alone, as the window is retried event by event), the others are all applied.
    rebuild(services.sources(), notes)
    with services.db.read() as tx:
        assert counts(tx, ["test_notes"]) == {"test_notes": 2}
        assert notes.load(tx, [poison]) == {poison: "Card.Suspended"}
        assert len(notes.load(tx, everyone)) == 4


def test_a_missing_table_is_retried_never_set_aside(services: WriteSide) -> None:
    issue(services, 1)
    issue(services, 2)
    NotesView.table_exists = False
    try:
        notes = NotesView()
        runner = ledger_runner(services, [notes])
        for _ in range(3):
            with pytest.raises(BatchFailed):
                runner.step()
        assert set(runner.positions().values()) == {0}
        with services.db.read() as tx:
            assert counts(tx) == {}
    finally:
        NotesView.table_exists = True
    create_tables(runner.db, runner.views)  # the deployment is fixed: the table exists now
    runner.catch_up()
    with services.db.read() as tx:
        assert len(notes.snapshot(tx)) == 2
        assert counts(tx) == {}


class DroppingView(NotesView):
    """Kills its own database connection the first time it stores (PostgreSQL only)."""

    name: ClassVar[str] = "test_dropping"
    dropped: ClassVar[int] = 0

    def store(self, tx: Tx, changes: Mapping[UUID, tuple[str | None, str | None]]) -> None:
        if DroppingView.dropped == 0:
            DroppingView.dropped += 1
            tx.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        super().store(tx, changes)


def test_a_lost_connection_is_retried_never_set_aside(services: WriteSide) -> None:
    if services.db.dialect != "postgres":
        pytest.skip("terminating a backend is PostgreSQL's")
    issue(services, 1)
    issue(services, 2)
    DroppingView.dropped = 0
    view = DroppingView()
    runner = ledger_runner(services, [view])
    with pytest.raises(BatchFailed) as failed:
        runner.step()
    assert isinstance(failed.value.cause, psycopg.OperationalError)
    assert set(runner.positions().values()) == {0}
    runner.catch_up()
    with services.db.read() as tx:
        assert len(view.snapshot(tx)) == 2
        assert counts(tx) == {}


@pytest.fixture
def env(backend: str, tmp_path: Path, clock: FrozenClock) -> Iterator[MerchantEnv]:
    from cardservice.bootstrap.serve import served_app

    settings, schema = make_settings(backend, tmp_path, merchant_rate=0)
    svc = WriteSide.build(settings, clock)
    create_tables(svc.db, [NotesView()])  # a test's own view: no migration makes it
    service = ProjectionService(svc.sources(), [*all_views(), NotesView()])
    service.start()
    try:
        app = served_app(svc, run_projections=False, own=False)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield MerchantEnv(svc=svc, client=client, clock=clock)
    finally:
        service.stop()
        svc.close()
        if schema is not None:
            schema.drop()


def until(check: Any, what: str) -> Any:
    end = time.monotonic() + DEADLINE
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < end, what
        time.sleep(0.02)


def test_cards_and_revocations_after_the_poison_reach_verification(env: MerchantEnv) -> None:
    gate = env.merchant()
    earlier = env.issue()
    env.wait_status(earlier["qr"], gate, "valid")
    poison = env.issue(name=POISON_NAME)
    later = env.issue()
    env.action(earlier, "revoke")
    # A card issued after the poison is visible, a revocation after it reaches the gate.
    env.wait_status(later["qr"], gate, "valid")
    env.wait_status(earlier["qr"], gate, "revoked")
    env.wait_status(poison["qr"], gate, "valid")  # only the test view refused it
    ready = until(
        lambda: (r := env.client.get("/readyz")).json()["degraded"] and r, "never degraded"
    )
    assert ready.status_code == 200
    assert ready.json() == {"status": "degraded", "degraded": ["projection_set_aside"]}
    health = env.client.get("/healthz").json()
    assert health["checks"]["projection_set_aside"]["test_notes"] == 1
    assert health["checks"]["projection_set_aside"]["cards"] == 0
    assert env.client.get("/livez").json() == {"status": "ok"}
    metrics = env.client.get("/metrics").text
    assert 'cardservice_projection_set_aside_total{view="test_notes"} 1.0' in metrics
    assert 'cardservice_projection_set_aside_total{view="cards"} 0.0' in metrics
    with env.svc.db.read() as tx:
        (entry,) = entries(tx)
    notes = NotesView()
    with env.svc.db.read() as tx:
        ids = [UUID(c["card_id"]) for c in (earlier, poison, later)]
        assert set(notes.load(tx, ids)) == {ids[0], ids[2]}
    assert entry.view == "test_notes"


def test_projections_status_shows_what_was_set_aside(
    services: WriteSide, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cardservice.cli import app

    issue(services, 1, POISON_NAME)
    runner = ledger_runner(services, [*all_views(), NotesView()])
    runner.catch_up()
    settings = services.settings
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setenv("CARDSERVICE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CARDSERVICE_SECRET", str(settings.secret))
    if settings.is_postgres:
        monkeypatch.setenv("DATABASE_URL", str(settings.database_url))
        monkeypatch.setenv("CARDSERVICE_POSTGRES_SCHEMA", settings.postgres_schema)
    else:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, ["projections", "status"])
    assert result.exit_code == 0, result.output
    assert "set aside" in result.output
    assert "events set aside" in result.output and "test_notes" in result.output
    (line,) = [ln for ln in result.output.splitlines() if "test_notes" in ln]
    assert "Card.Issued" in line and "Error" in line
