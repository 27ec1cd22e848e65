"""The string formats our OpenAPI names, as strategies schemathesis generates from.

`gb11643-id-number`: a resident ID number with a real date of birth and the right ISO 7064
check character (a regex cannot say the latter); `card-number` likewise for card numbers.
Also loadable as a schemathesis hooks module for the CLI:
`SCHEMATHESIS_HOOKS=tests.e2e.openapi_formats schemathesis run ...`.
"""

from __future__ import annotations

from datetime import date

import schemathesis
from hypothesis import strategies as st

from cardservice.domain.identity import mod11_2_check
from cardservice.http.openapi_docs import CARD_NUMBER_FORMAT, ID_NUMBER_FORMAT


def _id_number(region: str, born: date, sequence: int) -> str:
    digits = f"{region}{born:%Y%m%d}{sequence:03d}"
    return digits + mod11_2_check(digits)


ID_NUMBERS = st.builds(
    _id_number,
    st.sampled_from(["110105", "500112", "440305"]),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31)),
    st.integers(min_value=0, max_value=999),
)


def _card_number(region: str, year: int, sequence: int) -> str:
    digits = f"{region}{year}{sequence:07d}"
    return digits + mod11_2_check(digits)


CARD_NUMBERS = st.builds(
    _card_number,
    st.sampled_from(["000000", "500112", "110105"]),
    st.integers(min_value=2020, max_value=2040),
    st.integers(min_value=0, max_value=9_999_999),
)

schemathesis.openapi.format(ID_NUMBER_FORMAT, ID_NUMBERS)
schemathesis.openapi.format(CARD_NUMBER_FORMAT, CARD_NUMBERS)
