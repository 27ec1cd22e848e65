"""The console's folds and domain rules on real domain events (no storage): the search
view's card rows, the token list, and merchant edits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import Any

import pytest

from cardservice.domain.access import AdminToken
from cardservice.domain.errors import InvalidTransition
from cardservice.domain.merchants import Merchant
from projections.admin_cards import apply_admin_card, decode_cursor, encode_cursor, subtree_prefix
from projections.merchants import apply_merchant
from projections.tokens import apply_token
from projections.view import ProjectionError
from tests.unit.test_projection_folds import WHO, new_card

AT = datetime(2026, 6, 1, tzinfo=UTC)


def fold(apply: Any, events: list[Any]) -> Any:
    return reduce(apply, events, None)


def test_search_row_follows_the_card_and_holds_nothing_personal() -> None:
    card = new_card()
    card.suspend("lost", WHO, AT, "")
    card.reinstate("found", WHO, AT, "")
    card.revoke("gone", WHO, AT, "")
    events = card.collect_events()
    row = fold(apply_admin_card, events[:1])
    assert (row.status, row.masked_name, row.holder_id) == ("active", "张*明", str(card.holder_id))
    assert fold(apply_admin_card, events[:2]).status == "suspended"
    assert fold(apply_admin_card, events[:3]).status == "active"
    assert fold(apply_admin_card, events).status == "revoked"
    with pytest.raises(ProjectionError):
        apply_admin_card(None, events[1])


def test_subtree_prefix_and_cursor() -> None:
    assert [subtree_prefix(r) for r in ("000000", "500000", "500100", "500112")] == [
        "", "50", "5001", "500112"
    ]  # fmt: skip
    assert decode_cursor(encode_cursor("50011220260000017X")) == "50011220260000017X"
    for bad in ("", "!!", encode_cursor("1" * 17), encode_cursor("١" * 18)):
        with pytest.raises(ValueError):
            decode_cursor(bad)


def test_token_rows_keep_term_minter_and_revocation() -> None:
    token = AdminToken(
        token_hash="h", role="auditor", region="500000", actor=WHO, at=AT,
        expires_at=AT + timedelta(days=3),
    )  # fmt: skip
    token.revoke("left", WHO, AT)
    events = token.collect_events()
    row = fold(apply_token, events[:1])
    assert row.expires_at == (AT + timedelta(days=3)).isoformat() and row.minted_by == "t"
    assert fold(apply_token, events).revoked
    old = AdminToken(token_hash="h2", role="auditor", region="500000", actor=WHO, at=AT)
    assert old.expires_at == AT + timedelta(days=365) and old.expired(AT + timedelta(days=365))
    assert not old.expired(AT + timedelta(days=364))


def test_merchant_update_records_only_changes_and_the_view_follows() -> None:
    merchant = Merchant(
        merchant_id=uuid.uuid4(), name="店", region="500112", kind="merchant",
        categories=["dining"], a_level=None, require_device_binding=False, key_hash="k",
        actor=WHO, at=AT, command_id="", request_digest="",
    )  # fmt: skip
    merchant.update({"name": "店", "a_level": 3, "require_device_binding": True}, WHO, AT)
    merchant.update({"name": "店"}, WHO, AT)  # nothing changed: no event
    events = merchant.collect_events()
    assert len(events) == 2 and dict(events[1].changes) == {
        "a_level": 3,
        "require_device_binding": True,
    }
    row = fold(apply_merchant, events)
    assert (row.a_level, row.require_device_binding, row.name) == (3, True, "店")
    merchant.deactivate("closed", WHO, AT)
    with pytest.raises(InvalidTransition):
        merchant.update({"name": "新"}, WHO, AT)
