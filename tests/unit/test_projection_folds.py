"""The projection folds on real domain events (no storage): each view's state per aggregate."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import reduce
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardservice.domain.cards import Card
from cardservice.domain.errors import InvalidTransition
from cardservice.domain.keys import IssuerKeyring
from cardservice.domain.merchants import Merchant
from projections import (
    ProjectionError,
    apply_card,
    apply_keyring,
    apply_merchant,
    apply_status,
    status_code_at,
    status_list_bytes,
)
from projections.cards import CODE_ACTIVE, CODE_REVOKED, CODE_SUPERSEDED, CODE_SUSPENDED

AT = datetime(2026, 6, 1, tzinfo=UTC)
WHO = {"kind": "admin", "id": "t", "role": "admin", "region": "000000"}
JWK = {"kty": "EC", "crv": "P-256", "x": "x" * 43, "y": "y" * 43}


def new_card(status_index: int = 7) -> Card:
    return Card(
        card_id=uuid.uuid4(),
        holder_id=uuid.uuid4(),
        card_number="500112202600000017",
        category="veteran",
        region="500112",
        masked_name="张*明",
        issued_at=AT,
        expires_on="2036-06-01",
        status_index=status_index,
        kid="kid-1",
        actor=WHO,
        command_id="",
        request_digest="",
    )


def fold(apply: Any, events: list[Any], state: Any = None) -> Any:
    return reduce(apply, events, state)


def test_card_row_follows_the_life_cycle() -> None:
    card = new_card()
    row = fold(apply_card, card.collect_events())
    assert (row.status, row.version, row.status_index, row.kid) == ("active", 1, 7, "kid-1")
    assert (row.card_number, row.masked_name, row.expires) == (
        "500112202600000017",
        "张*明",
        "2036-06-01",
    )
    assert row.device_key is None and row.issued_at == AT.isoformat()
    card.suspend("lost", WHO, AT)
    row = fold(apply_card, card.collect_events(), row)
    assert row.status == "suspended"
    card.reinstate("found", WHO, AT)
    row = fold(apply_card, card.collect_events(), row)
    assert row.status == "active"
    card.reissue(reason="bind", status_index=9, kid="kid-2", device_key=JWK, actor=WHO, at=AT)
    row = fold(apply_card, card.collect_events(), row)
    assert (row.version, row.status_index, row.kid, row.device_key) == (2, 9, "kid-2", JWK)
    card.revoke("gone", WHO, AT)
    row = fold(apply_card, card.collect_events(), row)
    assert row.status == "revoked" and row.version == 2


def test_fold_is_pure() -> None:
    card = new_card()
    issued = fold(apply_card, card.collect_events())
    card.suspend("lost", WHO, AT)
    (suspended_event,) = card.collect_events()
    first = apply_card(issued, suspended_event)
    second = apply_card(issued, suspended_event)
    assert first == second and issued.status == "active"


def test_status_change_of_unknown_card_is_an_error_not_a_skip() -> None:
    card = new_card()
    card.collect_events()
    card.revoke("gone", WHO, AT)
    (revoked,) = card.collect_events()
    with pytest.raises(ProjectionError):
        apply_card(None, revoked)
    with pytest.raises(ProjectionError):
        apply_status(None, revoked)


def test_status_list_entries_and_superseded_indexes() -> None:
    card = new_card(status_index=3)
    entries = fold(apply_status, card.collect_events())
    assert entries.current == 3 and entries.codes == ((3, CODE_ACTIVE),)
    card.suspend("lost", WHO, AT)
    entries = fold(apply_status, card.collect_events(), entries)
    assert entries.codes == ((3, CODE_SUSPENDED),)
    # A reissue of a suspended card keeps it suspended under the new index.
    card.reissue(reason="bind", status_index=11, kid="k", device_key=JWK, actor=WHO, at=AT)
    entries = fold(apply_status, card.collect_events(), entries)
    assert entries.current == 11
    assert entries.codes == ((3, CODE_SUPERSEDED), (11, CODE_SUSPENDED))
    card.reinstate("found", WHO, AT)
    card.reissue(reason="rebind", status_index=12, kid="k", device_key=JWK, actor=WHO, at=AT)
    card.revoke("gone", WHO, AT)
    entries = fold(apply_status, card.collect_events(), entries)
    assert entries.codes == ((3, CODE_SUPERSEDED), (11, CODE_SUPERSEDED), (12, CODE_REVOKED))


def test_merchant_row_rotation_and_deactivation() -> None:
    merchant = Merchant(
        merchant_id=uuid.uuid4(),
        name="红岩景区",
        region="500112",
        kind="scenic_site",
        categories=["scenic"],
        a_level=5,
        require_device_binding=True,
        key_hash="h1",
        actor=WHO,
        at=AT,
        command_id="",
        request_digest="",
    )
    row = fold(apply_merchant, merchant.collect_events())
    assert (row.key_hash, row.kind, row.a_level, row.categories) == (
        "h1",
        "scenic_site",
        5,
        ("scenic",),
    )
    assert row.require_device_binding and row.active
    merchant.rotate_key("h2", WHO, AT)
    merchant.deactivate("closed", WHO, AT)
    row = fold(apply_merchant, merchant.collect_events(), row)
    assert row.key_hash == "h2" and not row.active


def test_keyring_rotation_retires_and_compromise_marks() -> None:
    ring = IssuerKeyring(at=AT)
    ring.rotate(kid="a", public_key="pa", sealed_private_key="sa", actor=WHO, at=AT)
    ring.rotate(kid="b", public_key="pb", sealed_private_key="sb", actor=WHO, at=AT)
    ring.compromise("b", "leaked", WHO, AT)
    state = fold(apply_keyring, ring.collect_events())
    a, b = state.get("a"), state.get("b")
    assert a is not None and b is not None
    assert (a.status, a.not_after) == ("retired", AT.isoformat())
    assert (b.status, b.public_key, b.use) == ("compromised", "pb", "card")
    assert not hasattr(b, "sealed_private_key")  # the view holds public keys only


def test_keys_of_each_use_rotate_apart_and_the_view_keeps_their_use() -> None:
    ring = IssuerKeyring(at=AT)
    ring.rotate(kid="c1", public_key="p1", sealed_private_key="s1", actor=WHO, at=AT)
    ring.rotate(kid="b1", public_key="p2", sealed_private_key="s2", actor=WHO, at=AT, use="bundle")
    ring.rotate(kid="b2", public_key="p3", sealed_private_key="s3", actor=WHO, at=AT, use="bundle")
    assert (ring.active_kid, ring.active_bundle_kid) == ("c1", "b2")
    ring.compromise("b2", "leaked", WHO, AT)
    assert (ring.active_kid, ring.active_bundle_kid) == ("c1", None)
    state = fold(apply_keyring, ring.collect_events())
    rows = {k.kid: (k.use, k.status) for k in state.keys}
    assert rows == {
        "c1": ("card", "active"),
        "b1": ("bundle", "retired"),
        "b2": ("bundle", "compromised"),
    }
    with pytest.raises(InvalidTransition):
        ring.rotate(kid="x", public_key="p", sealed_private_key="s", actor=WHO, at=AT, use="both")


@given(st.dictionaries(st.integers(0, 5000), st.integers(0, 3), max_size=200))
@settings(max_examples=200, deadline=None)
def test_status_list_bits_round_trip(entries: dict[int, int]) -> None:
    bits = status_list_bytes(sorted(entries.items()))
    for index, code in entries.items():
        assert status_code_at(bits, index) == code
    size = max(entries, default=-1) + 1
    assert len(bits) == (size + 3) // 4
    assert status_code_at(bits, len(bits) * 4) is None
    assert status_code_at(bits, -1) is None


def test_status_list_bit_order() -> None:
    # Index 0 sits in the two most significant bits, as in the W3C Bitstring Status List.
    assert status_list_bytes([(0, 2), (3, 1)]) == bytes([0b10_00_00_01])


def test_card_history_keeps_every_change_with_its_time_and_answers_as_of() -> None:
    from datetime import timedelta

    from projections.card_history import Change, apply_history, as_of

    card = new_card()
    hour = timedelta(hours=1)
    card.suspend("lost", WHO, AT + hour)
    card.reinstate("found", WHO, AT + 2 * hour)
    card.reissue(
        reason="bind", status_index=9, kid="k", device_key=JWK, actor=WHO, at=AT + 3 * hour
    )
    card.record_credential_digest(2, "ab" * 32, AT + 3 * hour)  # not a status change
    card.revoke("gone", WHO, AT + 4 * hour)
    history = fold(apply_history, card.collect_events())
    assert history == (
        Change(AT.isoformat(), "active", 1),
        Change((AT + hour).isoformat(), "suspended", 1),
        Change((AT + 2 * hour).isoformat(), "active", 1),
        Change((AT + 3 * hour).isoformat(), "active", 2),
        Change((AT + 4 * hour).isoformat(), "revoked", 2),
    )
    assert as_of(history, AT - timedelta(seconds=1)) is None
    assert as_of(history, AT) == history[0]
    assert as_of(history, AT + hour + timedelta(minutes=30)) == history[1]
    assert as_of(history, AT + 4 * hour) == history[4]  # in effect from its very instant
    card2 = new_card()
    card2.collect_events()
    card2.revoke("gone", WHO, AT)
    with pytest.raises(ProjectionError):
        apply_history(None, card2.collect_events()[0])
