"""One-time activation through the CardLedger on real storage (SQLite and PostgreSQL):
issuance makes a code, a replay answers the same code, one redemption wins a race, codes
expire on the injected clock, a new code replaces the old, a code clash moves on."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from cardservice.api import presenters
from cardservice.application import IdempotencyMismatch, IssueCardRequest, command_uuid
from cardservice.bootstrap.write import WriteSide
from cardservice.clock import FrozenClock
from cardservice.domain.activation import (
    VALID_FOR,
    ActivationCode,
    CardRevoked,
    CodeExpired,
    CodeSuperseded,
    CodeUsed,
    UnknownCode,
    normalize_code,
)
from cardservice.domain.actors import Actor
from cardservice.domain.errors import Forbidden, InvalidInput, NotFound
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


def types(services: WriteSide, card_id: Any) -> list[str]:
    return [h["type"] for h in presenters.history(services.ledger, card_id)]


def test_issuance_gives_a_one_time_code(services: WriteSide, clock: FrozenClock) -> None:
    issued = services.ledger.issue_card(request(), NATIONAL)
    grant = issued.activation
    assert grant is not None and grant.serial == 1
    assert grant.expires_at == clock.now() + VALID_FOR
    assert normalize_code(grant.display) == grant.code
    assert grant.url == f"/holder#activate={grant.code}"
    assert types(services, issued.card.id) == ["Issued", "ActivationCodeIssued"]
    # Only a keyed hash is recorded, never the code.
    history = presenters.history(services.ledger, issued.card.id)
    assert grant.code not in repr(history) and grant.display not in repr(history)

    done = services.ledger.activate(grant.display.lower(), device_hint="Android")
    assert done.card.id == issued.card.id and not done.replayed
    with pytest.raises(CodeUsed):
        services.ledger.activate(grant.code)
    assert types(services, issued.card.id) == [
        "Issued",
        "ActivationCodeIssued",
        "Activated",
        "SessionStarted",
    ]
    view = presenters.card_view(services.ledger.card(issued.card.id), services.ledger.now())
    assert view["activation"]["state"] == "used"


def test_an_idempotent_issuance_replay_answers_the_same_code(services: WriteSide) -> None:
    first = services.ledger.issue_card(request(), NATIONAL, command_id="k1", request_digest="d")
    again = services.ledger.issue_card(request(), NATIONAL, command_id="k1", request_digest="d")
    assert again.replayed and first.activation == again.activation
    assert types(services, first.card.id).count("ActivationCodeIssued") == 1
    assert first.activation is not None
    services.ledger.activate(first.activation.code)
    # Still the same answer after the code was used and the card moved on.
    later = services.ledger.issue_card(request(), NATIONAL, command_id="k1", request_digest="d")
    assert later.activation == first.activation


def test_codes_expire_after_seven_days_on_the_clock(
    services: WriteSide, clock: FrozenClock
) -> None:
    early = services.ledger.issue_card(request(1), NATIONAL).activation
    late = services.ledger.issue_card(request(2), NATIONAL).activation
    assert early is not None and late is not None
    clock.advance(VALID_FOR - timedelta(seconds=1))
    services.ledger.activate(early.code)
    clock.advance(timedelta(seconds=1))
    with pytest.raises(CodeExpired):
        services.ledger.activate(late.code)
    # The bureau makes a new one; it runs seven days from now.
    fresh = services.ledger.new_activation_code(late.card_id, NATIONAL, "expired").grant
    assert fresh.expires_at == clock.now() + VALID_FOR
    services.ledger.activate(fresh.code)


def test_a_new_code_supersedes_the_old_one(services: WriteSide) -> None:
    issued = services.ledger.issue_card(request(), NATIONAL)
    assert issued.activation is not None
    new = services.ledger.new_activation_code(issued.card.id, NATIONAL, "lost the paper")
    assert not new.replayed and new.grant.serial == 2 and new.grant.code != issued.activation.code
    with pytest.raises(CodeSuperseded):
        services.ledger.activate(issued.activation.code)
    services.ledger.activate(new.grant.code)
    # A lost phone: another code after the card was activated once.
    lost = services.ledger.new_activation_code(issued.card.id, NATIONAL, "lost phone").grant
    services.ledger.activate(lost.code)
    history = presenters.history(services.ledger, issued.card.id)
    assert [h["reason"] for h in history if h["type"] == "ActivationCodeIssued"] == [
        "issuance",
        "lost the paper",
        "lost phone",
    ]


def test_a_new_code_command_is_idempotent_per_caller(services: WriteSide) -> None:
    card = services.ledger.issue_card(request(), NATIONAL).card
    first = services.ledger.new_activation_code(card.id, NATIONAL, "lost", command_id="n1")
    again = services.ledger.new_activation_code(card.id, NATIONAL, "lost", command_id="n1")
    assert again.replayed and again.grant == first.grant
    with pytest.raises(IdempotencyMismatch):
        services.ledger.new_activation_code(card.id, NATIONAL, "other", command_id="n1")
    other_caller = Actor(kind="admin", id="other", role="admin", region="000000")
    third = services.ledger.new_activation_code(card.id, other_caller, "lost", command_id="n1")
    assert not third.replayed and third.grant.serial == 3


def test_the_new_code_command_is_scoped(services: WriteSide) -> None:
    card = services.ledger.issue_card(request(), NATIONAL).card
    yubei = Actor(kind="admin", id="i", role="issuer", region="500112")
    chongqing = Actor(kind="admin", id="a", role="admin", region="500000")
    beijing = Actor(kind="admin", id="b", role="issuer", region="110000")
    auditor = Actor(kind="admin", id="c", role="auditor", region="500112")
    catalog = Actor(kind="admin", id="d", role="catalog_manager", region="500112")
    assert services.ledger.new_activation_code(card.id, yubei).grant.serial == 2
    assert services.ledger.new_activation_code(card.id, chongqing).grant.serial == 3
    for outsider in (beijing, auditor, catalog):
        with pytest.raises(Forbidden):
            services.ledger.new_activation_code(card.id, outsider)
    with pytest.raises(NotFound):
        services.ledger.new_activation_code(card.holder_id, NATIONAL)


def test_a_revoked_card_takes_no_code(services: WriteSide) -> None:
    issued = services.ledger.issue_card(request(), NATIONAL)
    assert issued.activation is not None
    services.ledger.change_status(issued.card.id, "revoke", "deceased", NATIONAL)
    with pytest.raises(CardRevoked):
        services.ledger.activate(issued.activation.code)
    with pytest.raises(CardRevoked):
        services.ledger.new_activation_code(issued.card.id, NATIONAL)


def test_unknown_and_malformed_codes(services: WriteSide) -> None:
    services.ledger.issue_card(request(), NATIONAL)
    with pytest.raises(UnknownCode):
        services.ledger.activate("ZZZZZ-ZZZZZ")
    with pytest.raises(InvalidInput):
        services.ledger.activate("ABC")


def race(attempt: Any, phones: int) -> list[str]:
    """Run `attempt(i)` on `phones` threads released together; their outcomes."""
    barrier = threading.Barrier(phones)
    outcomes: list[str] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes.append(attempt(i))
        except Exception as exc:  # anything unexpected fails the caller's assertion
            outcomes.append(repr(exc))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(phones)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


def test_two_phones_redeeming_one_code_at_once_one_wins(services: WriteSide) -> None:
    """The event store's version check decides; every loser reads the code as used."""
    phones = 6
    for round_ in range(3):
        grant = services.ledger.issue_card(request(10 + round_), NATIONAL).activation
        assert grant is not None

        def redeem(i: int, code: str = grant.code) -> str:
            try:
                services.ledger.activate(code, device_hint=f"phone {i}")
            except CodeUsed:
                return "used"
            return "ok"

        outcomes = race(redeem, phones)
        assert sorted(outcomes) == ["ok"] + ["used"] * (phones - 1), outcomes
        assert types(services, grant.card_id).count("Activated") == 1


def test_the_same_request_retried_is_answered_again(
    services: WriteSide, clock: FrozenClock
) -> None:
    grant = services.ledger.issue_card(request(), NATIONAL).activation
    assert grant is not None
    first = services.ledger.activate(grant.code, command_id="phone-attempt-1")
    again = services.ledger.activate(grant.code, command_id="phone-attempt-1")
    assert not first.replayed and again.replayed and again.card.id == first.card.id
    with pytest.raises(CodeUsed):
        services.ledger.activate(grant.code, command_id="another-phone")
    clock.advance(timedelta(hours=25))
    with pytest.raises(CodeUsed):
        services.ledger.activate(grant.code, command_id="phone-attempt-1")
    assert types(services, grant.card_id).count("Activated") == 1


def test_a_code_held_by_another_card_moves_on_to_the_next_serial(services: WriteSide) -> None:
    """Two cards can never share a code: the pointer's id is the code's hash."""
    card_id = command_uuid(NATIONAL, "clash", "issue")
    codes = services.ledger.activation_codes
    taken = codes.code_for(card_id, 1)
    squatter = services.ledger.issue_card(request(2), NATIONAL).card
    services.ledger.save(
        ActivationCode(
            code_hash=codes.hash(taken), card_id=squatter.id, serial=9, at=squatter.issued_at
        )
    )
    issued = services.ledger.issue_card(request(), NATIONAL, command_id="clash")
    assert issued.card.id == card_id
    assert issued.activation is not None and issued.activation.serial == 2
    assert issued.activation.code == codes.code_for(card_id, 2)
    replay = services.ledger.issue_card(request(), NATIONAL, command_id="clash")
    assert replay.activation == issued.activation
    assert services.ledger.activate(issued.activation.code).card.id == card_id


def test_imported_cards_get_codes_on_request(services: WriteSide) -> None:
    [outcome] = services.ledger.issue_cards_bulk([request()], NATIONAL)
    assert outcome.result == "issued" and outcome.card_id is not None
    view = presenters.card_view(services.ledger.card(outcome.card_id), services.ledger.now())
    assert view["activation"] == {"state": "none", "expires_at": None, "activated_at": None}
    grant = services.ledger.new_activation_code(outcome.card_id, NATIONAL, "imported").grant
    assert grant.serial == 1
    assert services.ledger.activate(grant.code).card.id == outcome.card_id
