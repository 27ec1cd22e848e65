from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cardservice.domain.identity import (
    card_number,
    id_number_problem,
    is_valid_card_number,
    mod11_2_check,
)
from tests.factories import id_number


def test_known_resident_id_number_is_valid() -> None:
    # The GB 11643 worked example.
    assert id_number_problem("11010519491231002X") is None


def test_wrong_check_character_is_refused() -> None:
    assert id_number_problem("110105194912310021") == "check character does not match"


def test_impossible_birth_date_is_refused() -> None:
    body = "11010519490231002"
    assert id_number_problem(body + mod11_2_check(body)) == "date of birth is not a real date"


def test_shape_errors() -> None:
    for bad in ["", "123", "1101051949123100200", "A1010519491231002X", "11010519491231002Y"]:
        assert id_number_problem(bad) is not None


def test_card_number_layout_and_check() -> None:
    number = card_number("500112", 2026, 42)
    assert len(number) == 18
    assert number.startswith("5001122026" + "0000042")
    assert is_valid_card_number(number)


@given(st.integers(min_value=1, max_value=9_999_999), st.sampled_from(["500112", "110101"]))
def test_any_single_digit_change_breaks_the_check(seq: int, region: str) -> None:
    number = card_number(region, 2026, seq)
    for pos in range(17):
        digit = str((int(number[pos]) + 1) % 10)
        assert not is_valid_card_number(number[:pos] + digit + number[pos + 1 :])


def test_factory_produces_valid_numbers() -> None:
    for seq in range(50):
        assert id_number_problem(id_number(seq)) is None
