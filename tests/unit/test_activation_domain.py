"""One-time activation codes in the domain: the code's text, its derivation, and the Card's
rules (one use, seven days, the newest code only, never on a revoked card)."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from cardservice.clock import SHANGHAI
from cardservice.domain.activation import (
    ALPHABET,
    CODE_BITS,
    CODE_LENGTH,
    REPLAY_WINDOW,
    VALID_FOR,
    ActivationCode,
    CardRevoked,
    CodeExpired,
    CodeSuperseded,
    CodeUsed,
    UnknownCode,
    activation_code_id,
    code_from_bits,
    display_code,
    normalize_code,
)
from cardservice.domain.cards import Card
from cardservice.domain.errors import Conflict, Gone, InvalidInput, NotFound
from cardservice.security import ActivationCodes
from tests.unit.test_cards_domain import AT, WHO, new_card

CODES = ActivationCodes(b"d" * 32, b"h" * 32)


def with_code(card: Card, serial: int = 1, at: datetime = AT) -> str:
    code = CODES.code_for(card.id, serial)
    card.issue_activation_code(
        code_hash=CODES.hash(code),
        serial=serial,
        expires_at=at + VALID_FOR,
        reason="issuance",
        actor=WHO,
        at=at,
    )
    return code


def redeem(card: Card, code: str, serial: int = 1, at: datetime = AT, digest: str = "") -> bool:
    return card.activate(
        code_hash=CODES.hash(code),
        serial=serial,
        at=at,
        device_hint="Android",
        command_digest=digest,
    )


# -- the code's text ---------------------------------------------------------------------


def test_alphabet_has_no_look_alikes_and_codes_carry_fifty_bits() -> None:
    assert len(set(ALPHABET)) == len(ALPHABET) == 32
    assert not set(ALPHABET) & set("01OI")
    assert ALPHABET.upper() == ALPHABET
    assert CODE_BITS == CODE_LENGTH * math.log2(len(ALPHABET)) >= 50


def test_typed_codes_are_normalized() -> None:
    assert normalize_code("ABCDE-23456") == "ABCDE23456"
    assert normalize_code("  abcde 23456 ") == "ABCDE23456"
    assert normalize_code("abc-de2-3456") == "ABCDE23456"
    assert normalize_code("ＡＢＣＤＥ－２３４５６") == "ABCDE23456"  # full-width input method
    assert normalize_code("ABCDE\u300023456") == "ABCDE23456"  # ideographic space
    assert display_code("ABCDE23456") == "ABCDE-23456"


@pytest.mark.parametrize(
    "text",
    ["", "ABCDE", "ABCDE234567", "ABCDE2345O", "ABCDE23451", "ABCDI23456", "é" * 10, "x" * 65],
)
def test_malformed_codes_are_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_code(text)


def test_code_from_bits_spells_every_symbol() -> None:
    assert code_from_bits(0) == ALPHABET[0] * CODE_LENGTH
    assert code_from_bits(2**CODE_BITS - 1) == ALPHABET[-1] * CODE_LENGTH
    assert code_from_bits(2**CODE_BITS) == code_from_bits(0)  # only the low 50 bits count


def test_codes_derive_from_card_serial_and_key() -> None:
    card_id, other = uuid.uuid4(), uuid.uuid4()
    code = CODES.code_for(card_id, 1)
    assert normalize_code(code) == code and len(code) == CODE_LENGTH
    assert CODES.code_for(card_id, 1) == code  # deterministic: a replay answers it again
    assert CODES.code_for(card_id, 2) != code
    assert CODES.code_for(other, 1) != code
    assert ActivationCodes(b"e" * 32, b"h" * 32).code_for(card_id, 1) != code
    # The recorded hash is keyed: the same code under another key hashes differently.
    assert CODES.hash(code) != ActivationCodes(b"d" * 32, b"i" * 32).hash(code)
    assert code not in CODES.hash(code)


def test_the_pointer_id_derives_from_the_hash() -> None:
    pointer = ActivationCode(code_hash="abc", card_id=uuid.uuid4(), serial=3, at=AT)
    assert pointer.id == activation_code_id("abc") != activation_code_id("abd")
    assert pointer.serial == 3


# -- the card's rules ----------------------------------------------------------------------


def test_a_code_works_once() -> None:
    card = new_card()
    assert card.activation_state(AT) == "none"
    code = with_code(card)
    assert card.activation_state(AT) == "pending"
    assert redeem(card, code) is True
    assert card.activation_state(AT) == "used" and card.activated_at == AT
    with pytest.raises(CodeUsed) as refused:
        redeem(card, code, at=AT + timedelta(minutes=1))
    assert isinstance(refused.value, Gone) and "already been used" in refused.value.detail
    names = [type(e).__name__ for e in card.collect_events()]
    assert names == ["Issued", "ActivationCodeIssued", "Activated"]


def test_the_same_request_again_is_answered_without_a_second_activation() -> None:
    card = new_card()
    code = with_code(card)
    assert redeem(card, code, digest="d1") is True
    assert redeem(card, code, digest="d1", at=AT + REPLAY_WINDOW) is False  # lost answer
    with pytest.raises(CodeUsed):
        redeem(card, code, digest="d2")  # another phone
    with pytest.raises(CodeUsed):
        redeem(card, code, digest="", at=AT)
    with pytest.raises(CodeUsed):
        redeem(card, code, digest="d1", at=AT + REPLAY_WINDOW + timedelta(seconds=1))
    assert [type(e).__name__ for e in card.collect_events()].count("Activated") == 1


def test_a_code_expires_after_seven_days() -> None:
    card = new_card()
    code = with_code(card)
    just_before = AT + VALID_FOR - timedelta(seconds=1)
    assert card.activation_state(just_before) == "pending"
    assert card.activation_state(AT + VALID_FOR) == "expired"
    with pytest.raises(CodeExpired):
        redeem(card, code, at=AT + VALID_FOR)
    assert redeem(card, code, at=just_before) is True


def test_a_new_code_supersedes_older_unredeemed_ones() -> None:
    card = new_card()
    first = with_code(card, 1)
    second = with_code(card, 2)
    with pytest.raises(CodeSuperseded):
        redeem(card, first, serial=1)
    assert redeem(card, second, serial=2) is True
    third = with_code(card, 3)  # a lost phone: a new code after one was used
    with pytest.raises(CodeUsed):
        redeem(card, second, serial=2)  # used beats superseded: the clearer message
    assert redeem(card, third, serial=3) is True


def test_serials_only_increase() -> None:
    card = new_card()
    with_code(card, 2)
    with pytest.raises(InvalidInput):
        with_code(card, 2)
    with pytest.raises(InvalidInput):
        with_code(card, 1)


def test_an_unknown_or_mismatched_code_is_not_found() -> None:
    card = new_card()
    code = with_code(card)
    with pytest.raises(UnknownCode) as refused:
        card.activate(code_hash=CODES.hash("ZZZZZZZZZZ"), serial=1, at=AT)
    assert isinstance(refused.value, NotFound)
    with pytest.raises(UnknownCode):
        redeem(card, code, serial=2)  # a serial the card never issued
    fresh = new_card()
    with pytest.raises(UnknownCode):
        fresh.activate(code_hash=CODES.hash(code), serial=0, at=AT)


def test_a_revoked_card_neither_gets_nor_takes_codes() -> None:
    card = new_card()
    code = with_code(card)
    card.revoke("deceased", WHO, AT)
    with pytest.raises(CardRevoked) as refused:
        redeem(card, code)
    assert isinstance(refused.value, Conflict)
    with pytest.raises(CardRevoked):
        with_code(card, 2)


def test_a_suspended_card_can_still_be_put_on_a_phone() -> None:
    card = new_card()
    code = with_code(card)
    card.suspend("checking", WHO, AT)
    assert redeem(card, code) is True


def test_the_device_hint_is_short_and_printable() -> None:
    card = new_card()
    code = with_code(card)
    card.activate(
        code_hash=CODES.hash(code), serial=1, at=AT, device_hint="Android\x00\n" + "x" * 500
    )
    activated = card.collect_events()[-1]
    hint = activated.device_hint  # type: ignore[attr-defined]
    assert hint.startswith("Android") and hint.isprintable() and len(hint) <= 80


def test_expiry_is_compared_as_instants_whatever_the_zone() -> None:
    card = new_card()
    code = with_code(card, at=datetime(2026, 6, 1, 23, 30, tzinfo=UTC))
    # 07:29 on 9 June in Shanghai is 23:29 on 8 June UTC: a minute before expiry.
    shanghai = datetime(2026, 6, 9, 7, 29, tzinfo=SHANGHAI)
    assert card.activation_state(shanghai) == "pending"
    assert card.activation_state(shanghai + timedelta(minutes=1)) == "expired"
    assert redeem(card, code, at=shanghai) is True
