"""Reusable request field types: every text a request model takes goes through one of these.

The JSON body walk (`http.body.text_problem`) already refuses control and format
characters anywhere in a body; these types say the same in the OpenAPI schema and add
each field's own rule (a person's name, a display name, an ASCII ID number).
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, Field, StrictStr, StringConstraints, WithJsonSchema

from cardservice.domain import text as hygiene
from cardservice.domain.identity import ID_NUMBER_PATTERN
from cardservice.http.openapi_docs import ID_NUMBER_FORMAT, REGION_FIELD

NO_CONTROLS = r"^[^\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]*$"
"""The common control and format characters, for clients; the server checks all of Cc/Cf."""


NAME_PATTERN = r"^[A-Za-z\u4e00-\u9fa5]+([ ·][A-Za-z\u4e00-\u9fa5]+)*$"
PRINTABLE_PATTERN = r"^[!-~\u4e00-\u9fa5]([ !-~\u4e00-\u9fa5]*[!-~\u4e00-\u9fa5])?$"
ID_NUMBER_SHAPE = r"^[0-9]{6}(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]$"


def _refused_class(keep: str = "", spaces: bool = False) -> str:
    """A regex class of every Cc and Cf character of the Basic Multilingual Plane (in
    `\\uXXXX` form, which JSON Schema's ECMA regexes read too), except `keep`; with
    `spaces`, whitespace too (what `str.strip` removes)."""
    chars = [
        c
        for c in map(chr, range(0x10000))
        if (unicodedata.category(c) in ("Cc", "Cf") and c not in keep) or (spaces and c.isspace())
    ]
    ranges: list[list[int]] = []
    for code in map(ord, chars):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    parts = [f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges]
    return "[^" + "".join(parts) + "]"


PLAIN_PATTERN = f"^{_refused_class()}*$"
FREE_PATTERN = f"^{_refused_class(keep=chr(10) + chr(13) + chr(9))}*$"
"""Text fields refuse control and format characters (Cc, Cf); free text keeps line breaks."""
_LINE_SPACE = " " + chr(9) + chr(10) + chr(13)
REQUIRED_FREE_PATTERN = (
    f"^[{_LINE_SPACE}]*{_refused_class(spaces=True)}{_refused_class(keep=_LINE_SPACE)}*$"
)
"""Free text that must say something: a character other than whitespace after trimming."""


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


_PLAIN = Field(json_schema_extra={"pattern": PLAIN_PATTERN})
_FREE = Field(json_schema_extra={"pattern": FREE_PATTERN})
Category = Annotated[
    StrictStr, StringConstraints(min_length=1, max_length=40), AfterValidator(_plain), _PLAIN
]
Short = Annotated[StrictStr, StringConstraints(max_length=40), AfterValidator(_plain), _PLAIN]
Label = Annotated[StrictStr, StringConstraints(max_length=200), AfterValidator(_plain), _PLAIN]
FreeText = Annotated[StrictStr, StringConstraints(max_length=1000), AfterValidator(_free), _FREE]
Reason = Annotated[StrictStr, StringConstraints(max_length=500), AfterValidator(_free), _FREE]
HolderName = Annotated[
    StrictStr,
    StringConstraints(min_length=1, max_length=hygiene.NAME_MAX + 20),
    AfterValidator(_holder_name),
    Field(
        description="1-40 letters, combining marks, '·' and single spaces (after NFC); "
        "the pattern shows the common (Chinese and Latin) names",
        json_schema_extra={"pattern": NAME_PATTERN, "maxLength": hygiene.NAME_MAX},
    ),
]
DisplayName = Annotated[
    StrictStr,
    StringConstraints(min_length=1, max_length=hygiene.DISPLAY_MAX + 20),
    AfterValidator(_display),
    Field(
        description="1-100 printable characters",
        json_schema_extra={"pattern": PRINTABLE_PATTERN, "maxLength": hygiene.DISPLAY_MAX},
    ),
]
IdNumber = Annotated[
    StrictStr,
    StringConstraints(pattern=ID_NUMBER_PATTERN),
    AfterValidator(_id_number),
    Field(
        description="18-character GB 11643 resident ID number in ASCII digits: a real date "
        "of birth (1900 or later) and a valid ISO 7064 MOD 11-2 check character (x is X)",
        json_schema_extra={"format": ID_NUMBER_FORMAT, "pattern": ID_NUMBER_SHAPE},
        examples=["11010519491231002X"],
    ),
]
RegionCode = Annotated[
    StrictStr, StringConstraints(pattern=r"^[0-9]{6}$"), WithJsonSchema(REGION_FIELD)
]
"""Six ASCII digits and in the shipped table (else 422): documented as the RegionCode enum."""


def one_of(values: tuple[str, ...]) -> Any:
    """Document a text field that the domain checks against a fixed list as that enum."""
    return Field(json_schema_extra={"enum": list(values)})


def parse_id(value: str) -> UUID | None:
    """A path's id as a UUID, or None (the caller answers 404 or 401, never 500)."""
    try:
        return UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None
