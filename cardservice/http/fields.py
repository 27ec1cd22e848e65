"""Reusable request field types: every text a request model takes goes through one of these.

The JSON body walk (`http.body.text_problem`) already refuses control and format
characters anywhere in a body; these types say the same in the OpenAPI schema and add
each field's own rule (a person's name, a display name, an ASCII ID number).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StrictStr, StringConstraints

from cardservice.domain import text as hygiene
from cardservice.domain.identity import ID_NUMBER_PATTERN

NO_CONTROLS = r"^[^\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]*$"
"""The common control and format characters, for clients; the server checks all of Cc/Cf."""


def _plain(value: str) -> str:
    return hygiene.clean_text(value, multiline=False)


def _free(value: str) -> str:
    return hygiene.clean_text(value, multiline=True)


def _holder_name(value: str) -> str:
    _plain(value)
    return hygiene.holder_name(value)


def _display(value: str) -> str:
    cleaned = _plain(value)
    problem = hygiene.display_text_problem(cleaned)
    if problem:
        raise ValueError(problem)
    return cleaned


def _id_number(value: str) -> str:
    return value.upper()


Category = Annotated[
    StrictStr, StringConstraints(min_length=1, max_length=40), AfterValidator(_plain)
]
Short = Annotated[StrictStr, StringConstraints(max_length=40), AfterValidator(_plain)]
Label = Annotated[StrictStr, StringConstraints(max_length=200), AfterValidator(_plain)]
FreeText = Annotated[StrictStr, StringConstraints(max_length=1000), AfterValidator(_free)]
Reason = Annotated[StrictStr, StringConstraints(max_length=500), AfterValidator(_free)]
HolderName = Annotated[
    StrictStr,
    StringConstraints(min_length=1, max_length=hygiene.NAME_MAX + 20),
    AfterValidator(_holder_name),
    Field(description="1-40 letters, combining marks, '·' and single spaces (after NFC)"),
]
DisplayName = Annotated[
    StrictStr,
    StringConstraints(min_length=1, max_length=hygiene.DISPLAY_MAX + 20),
    AfterValidator(_display),
    Field(description="1-100 printable characters"),
]
IdNumber = Annotated[
    StrictStr,
    StringConstraints(pattern=ID_NUMBER_PATTERN),
    AfterValidator(_id_number),
    Field(description="18-character resident ID number in ASCII digits; x is X"),
]
RegionCode = Annotated[StrictStr, StringConstraints(pattern=r"^[0-9]{6}$")]
