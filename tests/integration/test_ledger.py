"""The card ledger on real storage (SQLite and PostgreSQL): issue, transitions, races."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from cardservice.api import presenters
from cardservice.application import IdempotencyMismatch, IssueCardRequest
from cardservice.bootstrap.write import WriteSide
from cardservice.domain.actors import Actor
from cardservice.domain.errors import Conflict, Forbidden, InvalidInput, InvalidTransition
from cardservice.domain.identity import is_valid_card_number
from tests.factories import id_number

NATIONAL = Actor(kind="admin", id="test", role="admin", region="000000")


def request(seq: int = 1, **kw: Any) -> IssueCardRequest:
    base: dict[str, Any] = {
        "name": "张三明",
        "id_number": id_number(seq),
        "category": "veteran",
        "region": "500112",
    }
    base.update(kw)
    return IssueCardRequest(**base)


def test_issue_and_life_cycle(services: WriteSide) -> None:
    card = services.ledger.issue_card(request(), NATIONAL).card
    assert is_valid_card_number(card.card_number)
    assert card.card_number.startswith("5001122026")
    services.ledger.change_status(card.id, "suspend", "lost", NATIONAL)
    services.ledger.change_status(card.id, "reinstate", "found", NATIONAL)
    services.ledger.change_status(card.id, "revoke", "deceased", NATIONAL)
    with pytest.raises(InvalidTransition):
        services.ledger.change_status(card.id, "revoke", "again", NATIONAL)
    types = [h["type"] for h in presenters.history(services.ledger, card.id)]
    assert types == ["Issued", "ActivationCodeIssued", "Suspended", "Reinstated", "Revoked"]
    assert all(h["actor"]["id"] == "test" for h in presenters.history(services.ledger, card.id))


def test_card_numbers_and_status_indexes_are_unique(services: WriteSide) -> None:
    cards = [services.ledger.issue_card(request(i), NATIONAL).card for i in range(10)]
    assert len({c.card_number for c in cards}) == 10
    assert len({c.status_index for c in cards}) == 10


def test_second_card_same_category_conflicts_until_revoked(services: WriteSide) -> None:
    first = services.ledger.issue_card(request(), NATIONAL).card
    with pytest.raises(Conflict):
        services.ledger.issue_card(request(), NATIONAL)
    other = services.ledger.issue_card(request(category="martyr_family"), NATIONAL).card
    assert other.holder_id == first.holder_id
    services.ledger.change_status(first.id, "revoke", "replaced", NATIONAL)
    again = services.ledger.issue_card(request(), NATIONAL).card
    assert again.id != first.id


def test_refused_commands_write_nothing(services: WriteSide) -> None:
    before = services.ledger.recorder.max_notification_id() or 0
    for bad in [
        request(id_number="110105194912310021"),
        request(category="general"),
        request(region="5001"),
        request(region="999999"),
        request(valid_years=0),
    ]:
        with pytest.raises(InvalidInput):
            services.ledger.issue_card(bad, NATIONAL)
    district = Actor(kind="admin", id="d", role="issuer", region="110101")
    with pytest.raises(Forbidden):
        services.ledger.issue_card(request(), district)
    assert (services.ledger.recorder.max_notification_id() or 0) == before


def test_idempotent_retry_returns_the_first_card(services: WriteSide) -> None:
    first = services.ledger.issue_card(request(), NATIONAL, command_id="k1", request_digest="d")
    again = services.ledger.issue_card(request(), NATIONAL, command_id="k1", request_digest="d")
    assert again.replayed and again.card.id == first.card.id
    assert again.card.card_number == first.card.card_number
    with pytest.raises(IdempotencyMismatch):
        services.ledger.issue_card(request(), NATIONAL, command_id="k1", request_digest="other")


def test_twenty_concurrent_issues_for_one_person_make_one_card(services: WriteSide) -> None:
    services.ledger.keyring()
    results: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def attempt() -> None:
        barrier.wait()
        try:
            services.ledger.issue_card(request(7), NATIONAL)
            outcome = "created"
        except Conflict:
            outcome = "conflict"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict"] * 19 + ["created"]


def test_erasure_shreds_personal_data_and_revokes(services: WriteSide) -> None:
    card = services.ledger.issue_card(request(phone="13800138000"), NATIONAL).card
    personal = services.ledger.holder_personal(card.holder_id)
    assert personal == {"name": "张三明", "id_number": id_number(1), "phone": "13800138000"}
    revoked = services.ledger.erase_holder(card.holder_id, "request 42", NATIONAL)
    assert revoked == [card.id]
    assert services.ledger.holder_personal(card.holder_id) is None
    assert services.ledger.card(card.id).status == "revoked"
    # History still replays, with no personal data in it.
    history = presenters.history(services.ledger, card.holder_id)
    assert [h["type"] for h in history][-1] == "Erased"


def test_state_survives_a_restart(settings: Any, clock: Any) -> None:
    first = WriteSide.build(settings, clock)
    card = first.ledger.issue_card(request(), NATIONAL).card
    kid = first.ledger.active_kid()
    qr = first.ledger.credential_for(card)
    first.close()
    second = WriteSide.build(settings, clock)
    try:
        again = second.ledger.card(card.id)
        assert again.card_number == card.card_number
        assert second.ledger.active_kid() == kid
        assert second.ledger.credential_for(again) == qr
    finally:
        second.close()


def test_key_rotation_and_compromise(services: WriteSide) -> None:
    card = services.ledger.issue_card(request(), NATIONAL).card
    old = services.ledger.active_kid()
    new = services.ledger.rotate_key(NATIONAL)
    statuses = {k["kid"]: k["status"] for k in presenters.public_keys(services.ledger.keyring())}
    assert statuses == {old: "retired", new: "active"}
    services.ledger.compromise_key(old, "leak", NATIONAL)
    refreshed = services.ledger.refresh_signature(services.ledger.card(card.id))
    assert refreshed.kid == new and refreshed.card_version == 2
