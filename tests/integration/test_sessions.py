"""Holder sessions in the ledger and the session view, on SQLite and PostgreSQL: the view
holds exactly the live sessions' token hashes (and equals a rebuild), nothing in the event
store is a token, and the demo prints one-time activation links, never a token."""

from __future__ import annotations

from uuid import UUID

from cardservice.bootstrap.write import WriteSide
from cardservice.demo import seed
from cardservice.security import token_hash
from projections.service import rebuild, runners_for
from projections.sessions import HolderSessionView, select_session_card
from tests.integration.test_projections import NATIONAL, issue_many


def catch_up(svc: WriteSide) -> None:
    for runner in runners_for(svc.sources()):
        runner.setup()
        runner.catch_up()


def activate(svc: WriteSide, card_id: UUID) -> str:
    grant = svc.ledger.new_activation_code(card_id, NATIONAL, "new phone").grant
    return svc.ledger.activate(grant.code).holder_token


def test_the_view_holds_only_live_sessions(services: WriteSide) -> None:
    cards = issue_many(services, 6)
    lost = {card_id: activate(services, card_id) for card_id in cards}
    current = {card_id: activate(services, card_id) for card_id in cards[:4]}  # new phones
    assert services.ledger.end_session(cards[0], current[cards[0]])  # removed from the phone
    assert not services.ledger.end_session(cards[0], current[cards[0]])  # once
    assert not services.ledger.end_session(cards[1], lost[cards[1]])  # an ended session
    catch_up(services)
    with services.db.read() as tx:
        opens = {c: select_session_card(tx, token_hash(t)) for c, t in lost.items()}
        now = {c: select_session_card(tx, token_hash(t)) for c, t in current.items()}
        rows = HolderSessionView().snapshot(tx)
    assert opens == {c: (c if c in cards[4:] else None) for c in cards}
    assert now == {c: (None if c == cards[0] else c) for c in cards[:4]}
    assert len(rows) == 5  # cards[1..3] on their new phones, cards[4..5] on their first
    # The write side agrees, without the view.
    for card_id in cards:
        assert (services.ledger.session_card(card_id, lost[card_id]) is None) == (
            card_id in cards[:4]
        )
    # A rebuild reproduces the view exactly.
    with services.db.read() as tx:
        before = HolderSessionView().snapshot(tx)
    rebuild(services.sources(), HolderSessionView())
    with services.db.read() as tx:
        assert HolderSessionView().snapshot(tx) == before
    # No token is stored anywhere in the event store: only hashes of them.
    for card_id in cards:
        stored = repr([vars(e) for e in services.ledger.events.get(card_id)])
        assert lost[card_id] not in stored
        assert current.get(card_id, "ht_none") not in stored


def test_demo_prints_activation_links_and_never_a_token(services: WriteSide) -> None:
    first = seed(services)
    assert first.cards
    for card in first.cards:
        assert "holder_token" not in card
        assert card["activation_url"] == "/holder#activate=" + card["activation_code"].replace(
            "-", ""
        )
    # A second run answers the same pending codes, and a new one where a phone used it.
    used = first.cards[0]
    services.ledger.activate(used["activation_code"])
    second = seed(services)
    codes = {c["card_id"]: c["activation_code"] for c in second.cards}
    assert codes[used["card_id"]] != used["activation_code"]
    for card in first.cards[1:]:
        assert codes[card["card_id"]] == card["activation_code"]
    fresh = services.ledger.activate(codes[used["card_id"]])
    assert fresh.holder_token.startswith("ht_")
