"""The projection runner on real storage: views match the aggregates, positions are tracked
with compare-and-set (two runners never double-apply), an event a view cannot apply is
set aside (tests/integration/test_poison.py has the rest), and a rebuild reproduces the
views exactly."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from uuid import UUID

import pytest

from cardservice import credentials
from cardservice.application import IssueCardRequest
from cardservice.bootstrap.write import WriteSide
from cardservice.domain.actors import Actor
from projections import CardStatusView, PositionMoved, Runner, all_views, view_named
from projections.cards import CardRow
from projections.runner import create_tables
from projections.service import ProjectionService, rebuild, runners_for
from tests.factories import id_number

NATIONAL = Actor(kind="admin", id="test", role="admin", region="000000")


def issue_many(svc: WriteSide, count: int, start: int = 0) -> list[UUID]:
    requests = [
        IssueCardRequest(name="王五六", id_number=id_number(i), category="veteran", region="500112")
        for i in range(start, start + count)
    ]
    outcomes = svc.ledger.issue_cards_bulk(requests, NATIONAL, source=f"t{start}")
    return [o.card_id for o in outcomes if o.card_id is not None]


def churn(svc: WriteSide, cards: list[UUID]) -> None:
    """Every kind of card event: suspensions, reinstatements, revocations, reissues."""
    device = credentials.DeviceKey.from_jwk(
        {
            "kty": "EC",
            "crv": "P-256",
            "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
            "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
        }
    )
    for i, card_id in enumerate(cards):
        if i % 5 == 0:
            svc.ledger.change_status(card_id, "suspend", "lost", NATIONAL)
        if i % 10 == 0:
            svc.ledger.change_status(card_id, "reinstate", "found", NATIONAL)
        if i % 3 == 0:
            svc.ledger.bind_device_key(card_id, device)
        if i % 7 == 0:
            svc.ledger.change_status(card_id, "revoke", "gone", NATIONAL)


def snapshots(svc: WriteSide) -> dict[str, list[Any]]:
    with svc.db.read() as tx:
        return {view.name: view.snapshot(tx) for view in all_views()}


def catch_up(svc: WriteSide) -> None:
    for runner in runners_for(svc.sources()):
        runner.setup()
        runner.catch_up()


def test_views_match_the_aggregates(services: WriteSide) -> None:
    cards = issue_many(services, 40)
    churn(services, cards)
    catch_up(services)
    view = CardStatusView()
    with services.db.read() as tx:
        rows = view.load(tx, cards)
        listed = dict(tx.all("SELECT status_index, code FROM view_status_list"))
        current = tx.all("SELECT card_id, status_index FROM view_status_list WHERE is_current")
    assert len(rows) == 40
    for card_id in cards:
        card = services.ledger.card(card_id)
        row: CardRow = rows[card_id]
        assert (row.status, row.version, row.status_index, row.kid) == (
            card.status,
            card.card_version,
            card.status_index,
            card.kid,
        )
        assert (row.card_number, row.masked_name, row.expires) == (
            card.card_number,
            card.masked_name,
            card.expires_on,
        )
        assert row.device_key == card.device_key
        code = {"active": 0, "suspended": 1, "revoked": 2}[card.status]
        assert listed[card.status_index] == code
    assert len(current) == 40
    superseded = [i for i, c in listed.items() if c == 3]
    assert len(superseded) == sum(services.ledger.card(c).card_version - 1 for c in cards)
    with services.db.read() as tx:
        keys = view_named("issuer_keys").snapshot(tx)
    assert [k[0] for k in keys] == [services.ledger.active_kid()]


def test_merchants_view(services: WriteSide) -> None:
    reg = services.catalog.register_merchant(
        name="一号店",
        region="500112",
        kind="merchant",
        categories=["dining"],
        a_level=None,
        require_device_binding=True,
        actor=NATIONAL,
    )
    merchant_id = reg.merchant.id
    new_key = services.catalog.rotate_merchant_key(merchant_id, NATIONAL)
    services.catalog.deactivate_merchant(merchant_id, "closed", NATIONAL)
    catch_up(services)
    from cardservice.security import token_hash
    from projections.merchants import select_merchant_by_key_hash

    with services.db.read() as tx:
        assert reg.api_key is not None
        assert select_merchant_by_key_hash(tx, token_hash(reg.api_key)) is None
        row = select_merchant_by_key_hash(tx, token_hash(new_key))
    assert row is not None and row.merchant_id == merchant_id
    assert not row.active and row.require_device_binding and row.categories == ("dining",)


def test_batches_and_positions(services: WriteSide) -> None:
    issue_many(services, 30)
    (runner,) = [r for r in runners_for(services.sources()) if r.source == "CardLedger"]
    runner.batch_size = 7
    runner.setup()
    head = runner.head()
    steps = []
    while True:
        result = runner.step()
        if result.advanced == 0:
            break
        steps.append(result)
        assert result.advanced <= 7
    assert steps[-1].stop == head
    assert set(runner.positions().values()) == {head}
    assert runner.lag() == dict.fromkeys(runner.positions(), 0)


def test_compare_and_set_refuses_a_stale_runner(services: WriteSide) -> None:
    issue_many(services, 5)
    (runner,) = [r for r in runners_for(services.sources()) if r.source == "CardLedger"]
    runner.setup()
    positions = runner.positions()
    runner.catch_up()
    with pytest.raises(PositionMoved), services.db.transaction() as tx:
        runner._advance(tx, runner.views[0], positions[runner.views[0].name], 999_999)


def test_two_runners_race_and_equal_a_rebuild(services: WriteSide) -> None:
    cards = issue_many(services, 60)
    create_tables(services.db, all_views())
    errors: list[BaseException] = []
    stop = threading.Event()

    def run(runner: Runner) -> None:
        try:
            while not stop.is_set():
                try:
                    if runner.step().advanced == 0:
                        time.sleep(0.001)
                except PositionMoved:
                    continue
        except BaseException as exc:
            errors.append(exc)

    threads = []
    for _ in range(2):
        for runner in runners_for(services.sources()):
            runner.batch_size = 5
            threads.append(threading.Thread(target=run, args=(runner,)))
    for t in threads:
        t.start()
    try:
        churn(services, cards)
        cards += issue_many(services, 20, start=100)
        deadline = time.monotonic() + 60
        while any(max(r.lag().values()) for r in runners_for(services.sources())):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors
    before = snapshots(services)
    assert len(before["cards"]) == 80
    for view in all_views():
        rebuild(services.sources(), view)
    assert snapshots(services) == before


class FlakyCardView(CardStatusView):
    """A test view whose fold fails on one card until told otherwise."""

    failing: UUID | None = None

    def apply(self, state: CardRow | None, event: Any) -> CardRow | None:
        if event.originator_id == self.failing:
            raise RuntimeError("simulated bug")
        return super().apply(state, event)


def test_a_view_bug_sets_the_event_aside_and_a_rebuild_tries_it_again(
    services: WriteSide, caplog: pytest.LogCaptureFixture
) -> None:
    cards = issue_many(services, 10)
    flaky = FlakyCardView()
    FlakyCardView.failing = cards[4]
    service = ProjectionService(services.sources(), [flaky])
    caplog.set_level(logging.ERROR, logger="projections")
    service.start()
    try:
        deadline = time.monotonic() + 10
        while service.status()["cards"]["lag"]:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        with services.db.read() as tx:
            done = {r.card_id for r in flaky.load(tx, cards).values()}
        # Every event but the one the view cannot apply is in; the runner went on.
        assert done == set(cards) - {cards[4]}
        assert service.status()["cards"]["set_aside"] == 1
        assert service.health["CardLedger"].failures == 0
        logged = [r.getMessage() for r in caplog.records if "set aside" in r.getMessage()]
        assert len(logged) == 1 and "Card.Issued" in logged[0] and "simulated bug" in logged[0]
    finally:
        service.stop()
    FlakyCardView.failing = None  # the fix is deployed: a rebuild applies the event
    rebuild(services.sources(), flaky)
    with services.db.read() as tx:
        assert len(flaky.load(tx, cards)) == 10
    assert ProjectionService(services.sources(), [flaky]).status()["cards"]["set_aside"] == 0


def test_rebuild_while_the_service_runs(services: WriteSide) -> None:
    cards = issue_many(services, 30)
    service = ProjectionService(services.sources())
    service.start()
    try:
        churn(services, cards)
        deadline = time.monotonic() + 30
        while any(v["lag"] for v in service.status().values()):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        before = snapshots(services)
        progress: list[tuple[int, int]] = []
        rebuild(
            services.sources(),
            view_named("cards"),
            lambda done, total: progress.append((done, total)),
        )
        assert progress[-1][0] == progress[-1][1]
        deadline = time.monotonic() + 30
        while any(v["lag"] for v in service.status().values()):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert snapshots(services) == before
    finally:
        service.stop()
