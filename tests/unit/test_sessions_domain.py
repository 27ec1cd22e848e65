"""Holder sessions and the rebinding limit in the domain, and the session view's pure fold
over real Card events: one phone at a time, a session only from a redemption, tokens only
as hashes, at most 5 device-key bindings per Asia/Shanghai day."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from cardservice.domain.cards import SESSION_REMOVED, SESSION_REPLACED, Card
from cardservice.domain.days import seconds_to_next_day
from cardservice.domain.errors import InvalidTransition, RateLimited
from cardservice.domain.policy import DEVICE_BINDINGS_PER_DAY
from cardservice.security import HolderTokens, token_hash
from projections.sessions import CardSessions, apply_session
from tests.unit.test_activation_domain import redeem, with_code
from tests.unit.test_cards_domain import AT, WHO, new_card

TOKENS = HolderTokens(b"t" * 32, b"k" * 32)
JWK = {"kty": "EC", "crv": "P-256", "x": "x", "y": "y"}


def start(card: Card, serial: int, at: datetime = AT) -> str:
    session_id = uuid.uuid4()
    token = TOKENS.for_session(session_id)
    card.start_session(
        session_id=session_id,
        serial=serial,
        token_hash=TOKENS.hash(token),
        token_sha256=token_hash(token),
        actor=WHO,
        at=at,
    )
    return token


def activated_card() -> tuple[Card, str]:
    card = new_card()
    redeem(card, with_code(card))
    return card, start(card, 1)


def test_tokens_are_per_session_and_unguessable_from_the_card() -> None:
    one, two = uuid.uuid4(), uuid.uuid4()
    assert TOKENS.for_session(one) == TOKENS.for_session(one)  # a replay answers it again
    assert TOKENS.for_session(one) != TOKENS.for_session(two)
    assert HolderTokens(b"u" * 32, b"k" * 32).for_session(one) != TOKENS.for_session(one)
    token = TOKENS.for_session(one)
    assert token.startswith("ht_") and len(token) == 3 + 43  # 256 bits, base64url
    assert TOKENS.hash(token) != token_hash(token)  # keyed for the write side, plain for views
    assert not HolderTokens.plausible(None) and not HolderTokens.plausible("mk_x")
    assert not HolderTokens.plausible("ht_" + "A" * 500)


def test_a_session_starts_only_from_a_redemption_once() -> None:
    card = new_card()
    with_code(card)
    with pytest.raises(InvalidTransition):
        start(card, 1)  # the code was not redeemed
    redeem(card, with_code(card, 2), 2)
    token = start(card, 2)
    with pytest.raises(InvalidTransition):
        start(card, 2)  # one session per redemption
    assert card.holds_session(TOKENS.hash(token))
    assert not card.holds_session(TOKENS.hash(token + "x"))
    assert not card.holds_session("")


def test_a_new_activation_ends_the_earlier_session() -> None:
    card, first = activated_card()
    redeem(card, with_code(card, 2), 2, AT + timedelta(hours=1))
    second = start(card, 2, AT + timedelta(hours=1))
    assert not card.holds_session(TOKENS.hash(first))
    assert card.holds_session(TOKENS.hash(second))
    names = [type(e).__name__ for e in card.collect_events()]
    assert names[-3:] == ["Activated", "SessionEnded", "SessionStarted"]


def test_remove_from_this_phone() -> None:
    card, token = activated_card()
    card.end_session(reason=SESSION_REMOVED, actor=WHO, at=AT)
    assert not card.holds_session(TOKENS.hash(token)) and card.session_id is None
    with pytest.raises(InvalidTransition):
        card.end_session(reason=SESSION_REMOVED, actor=WHO, at=AT)


def test_session_fold_keeps_only_live_sessions() -> None:
    card, first = activated_card()
    redeem(card, with_code(card, 2), 2)
    second = start(card, 2)
    card.end_session(reason=SESSION_REMOVED, actor=WHO, at=AT)
    state: CardSessions | None = None
    seen: list[set[str]] = []
    for event in card.collect_events():
        state = apply_session(state, event)
        seen.append({s.token_sha256 for s in state.live} if state else set())
    assert {token_hash(first)} in seen and {token_hash(second)} in seen
    assert not any(len(live) > 1 for live in seen)  # never two phones at once
    assert state is not None and state.live == ()


def test_session_end_reasons_say_why() -> None:
    card, _ = activated_card()
    redeem(card, with_code(card, 2), 2)
    start(card, 2)
    card.end_session(reason=SESSION_REMOVED, actor=WHO, at=AT)
    ended = [e for e in card.collect_events() if type(e).__name__ == "SessionEnded"]
    assert [e.reason for e in ended] == [SESSION_REPLACED, SESSION_REMOVED]
    assert all(e.actor == WHO and e.at == AT for e in ended)


def bind(card: Card, at: datetime) -> None:
    card.bind_device_key(device_key=JWK, status_index=7, kid="k", actor=WHO, at=at)


def test_bindings_per_shanghai_day() -> None:
    card = new_card()
    late = datetime(2026, 6, 1, 15, 59, 30, tzinfo=UTC)  # 23:59:30 in Shanghai
    for n in range(DEVICE_BINDINGS_PER_DAY):
        bind(card, late + timedelta(seconds=n))
    with pytest.raises(RateLimited) as refused:
        bind(card, late + timedelta(seconds=10))
    assert refused.value.retry_after == 20 and refused.value.code == "rate_limited"
    version = card.card_version
    bind(card, datetime(2026, 6, 1, 16, 0, tzinfo=UTC))  # midnight in Shanghai
    assert card.card_version == version + 1
    # Other reissues (a new signing key) do not count against the holder.
    for n in range(DEVICE_BINDINGS_PER_DAY - 1):
        bind(card, datetime(2026, 6, 1, 17, n, tzinfo=UTC))
    card.reissue(
        reason="issuer_key_replaced", status_index=9, kid="k2", device_key=JWK, actor=WHO, at=AT
    )
    with pytest.raises(RateLimited):
        bind(card, datetime(2026, 6, 2, 15, 59, 59, tzinfo=UTC))


def test_seconds_to_next_day() -> None:
    assert seconds_to_next_day(datetime(2026, 6, 1, 15, 59, 0, tzinfo=UTC)) == 60
    assert seconds_to_next_day(datetime(2026, 6, 1, 16, 0, 0, tzinfo=UTC)) == 86_400
    assert seconds_to_next_day(datetime(2026, 6, 1, 15, 59, 59, 500_000, tzinfo=UTC)) == 1
