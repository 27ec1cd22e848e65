"""Identity numbers: resident ID validation (GB 11643), card numbers (ISO 7064 MOD 11-2)."""

from __future__ import annotations

import re
from datetime import date

from cardservice.domain.policy import HOLDER_CATEGORIES

__all__ = ["HOLDER_CATEGORIES", "card_number", "id_number_problem", "mod11_2_check"]

ID_NUMBER_PATTERN = r"^[0-9]{17}[0-9Xx]$"
"""ASCII digits only: `\\d` (and `int()`) would take every script's digits (０, ٠)."""
_ID_PATTERN = re.compile(ID_NUMBER_PATTERN)
_CARD_NUMBER_PATTERN = re.compile(r"^[0-9]{17}[0-9X]$")
_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK_CHARS = "10X98765432"


def mod11_2_check(digits: str) -> str:
    """ISO 7064 MOD 11-2 check character of a 17-digit string (the GB 11643 rule)."""
    total = sum(int(d) * w for d, w in zip(digits, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def id_number_problem(id_number: str) -> str | None:
    """Why an 18-character resident ID number is invalid, or None when it is valid."""
    if not isinstance(id_number, str) or not _ID_PATTERN.fullmatch(id_number):
        return "must be 17 ASCII digits and a check character (0-9 or X)"
    id_number = normalize_id_number(id_number)
    try:
        born = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return "date of birth is not a real date"
    if born.year < 1900:
        return "date of birth is before 1900"
    if mod11_2_check(id_number[:17]) != id_number[17]:
        return "check character does not match"
    return None


def normalize_id_number(id_number: str) -> str:
    """The one spelling of an ID number: a final `x` is `X`."""
    return id_number.upper()


def card_number(region: str, year: int, sequence: int) -> str:
    """Issuing region (6) + year (4) + sequence (7) + check character = 18 characters."""
    if not (0 < sequence < 10_000_000):
        raise ValueError("card sequence out of range")
    body = f"{region}{year:04d}{sequence:07d}"
    return body + mod11_2_check(body)


def is_valid_card_number(number: str) -> bool:
    return bool(_CARD_NUMBER_PATTERN.fullmatch(number)) and mod11_2_check(number[:17]) == number[17]
