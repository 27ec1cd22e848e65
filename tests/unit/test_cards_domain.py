from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from cardservice.domain.cards import Card
from cardservice.domain.errors import Conflict, InvalidInput, InvalidTransition
from cardservice.domain.holders import Holder
from cardservice.domain.keys import IssuerKeyring

AT = datetime(2026, 6, 1, tzinfo=UTC)
WHO = {"kind": "admin", "id": "t", "role": "admin", "region": "000000"}


def new_card(expires_on: str = "2036-06-01") -> Card:
    return Card(
        card_id=uuid.uuid4(),
        holder_id=uuid.uuid4(),
        card_number="500112202600000017",
        category="veteran",
        region="500112",
        masked_name="张*明",
        issued_at=AT,
        expires_on=expires_on,
        status_index=1,
        kid="kid",
        actor=WHO,
        command_id="",
        request_digest="",
    )


def test_life_cycle_transitions() -> None:
    card = new_card()
    card.suspend("lost phone", WHO, AT)
    with pytest.raises(InvalidTransition):
        card.suspend("again", WHO, AT)
    card.reinstate("found", WHO, AT)
    with pytest.raises(InvalidTransition):
        card.reinstate("not suspended", WHO, AT)
    card.revoke("deceased", WHO, AT)
    for action in (card.revoke, card.suspend, card.reinstate):
        with pytest.raises(InvalidTransition):
            action("x", WHO, AT)
    assert card.status == "revoked"
    assert [type(e).__name__ for e in card.collect_events()] == [
        "Issued",
        "Suspended",
        "Reinstated",
        "Revoked",
    ]


def test_reason_is_required_for_suspend_and_revoke() -> None:
    card = new_card()
    with pytest.raises(InvalidInput):
        card.suspend("  ", WHO, AT)
    with pytest.raises(InvalidInput):
        card.revoke("", WHO, AT)


def test_expiry_is_derived_from_the_date() -> None:
    card = new_card(expires_on="2026-06-30")
    assert card.status_on(date(2026, 6, 30)) == "active"
    assert card.status_on(date(2026, 7, 1)) == "expired"
    card.revoke("x", WHO, AT)
    assert card.status_on(date(2026, 7, 1)) == "revoked"


def test_reissue_raises_version_and_keeps_identity() -> None:
    card = new_card()
    card.reissue(reason="device", status_index=9, kid="k2", device_key={"x": "1"}, actor=WHO, at=AT)
    assert card.card_version == 2
    assert card.status_index == 9
    assert card.card_number == "500112202600000017"


def test_one_current_card_per_category() -> None:
    holder = Holder(id_number_digest="abc", sealed_personal="", actor=WHO, at=AT)
    first = uuid.uuid4()
    holder.assign_card("veteran", first, "2036-06-01", date(2026, 6, 1), AT)
    with pytest.raises(Conflict):
        holder.assign_card("veteran", uuid.uuid4(), "2036-06-01", date(2026, 6, 1), AT)
    holder.assign_card("martyr_family", uuid.uuid4(), "2036-06-01", date(2026, 6, 1), AT)
    # An expired card no longer blocks a new one.
    assert holder.current_card("veteran", date(2036, 6, 2)) is None
    holder.release_card("veteran", first, "revoked", AT)
    holder.assign_card("veteran", uuid.uuid4(), "2036-06-01", date(2026, 6, 1), AT)


def test_keyring_rotation_retires_the_old_key() -> None:
    ring = IssuerKeyring(at=AT)
    ring.rotate(kid="a", public_key="pa", sealed_private_key="sa", actor=WHO, at=AT)
    ring.rotate(kid="b", public_key="pb", sealed_private_key="sb", actor=WHO, at=AT)
    assert ring.active_kid == "b"
    assert ring.keys["a"]["status"] == "retired"
    ring.compromise("b", "leaked", WHO, AT)
    assert ring.active_kid is None
    with pytest.raises(InvalidTransition):
        ring.compromise("b", "again", WHO, AT)
