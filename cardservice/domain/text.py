"""Text hygiene for everything a request carries (pure).

After surrounding whitespace is trimmed, no text may hold a control or format character
(Unicode Cc, Cf: NUL, U+200B, U+202E...): PostgreSQL refuses NUL outright, and the others
hide or reorder what a reader sees. Free text (reasons, appeals, replies) may break lines.
"""

from __future__ import annotations

import unicodedata

FREE_TEXT_FIELDS = frozenset({"reason", "text", "reply"})
LINE_BREAKS = frozenset("\n\r")
NAME_MAX = 40
DISPLAY_MAX = 100
MIDDLE_DOT = "·"


def control_problem(text: str, *, multiline: bool = False) -> str | None:
    """Why `text` (trimmed) is refused, or None."""
    for ch in text.strip():
        if multiline and ch in LINE_BREAKS:
            continue
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf"):
            return f"control or format character U+{ord(ch):04X} is not allowed"
        if category == "Cs":
            return "unpaired surrogate is not allowed"
    return None


def clean_text(text: str, *, multiline: bool = False) -> str:
    """Trimmed text, or ValueError naming the offending character."""
    problem = control_problem(text, multiline=multiline)
    if problem:
        raise ValueError(problem)
    return text.strip()


def holder_name_problem(name: str) -> str | None:
    """A person's name: 1-40 letters, combining marks, `·` and single spaces (after NFC)."""
    text = unicodedata.normalize("NFC", name.strip())
    if not 1 <= len(text) <= NAME_MAX:
        return f"name must be 1 to {NAME_MAX} characters"
    if "  " in text:
        return "name may not hold two spaces in a row"
    for ch in text:
        if ch in (" ", MIDDLE_DOT) or unicodedata.category(ch)[0] in ("L", "M"):
            continue
        return f"name may hold only letters, marks, '·' and spaces, not U+{ord(ch):04X}"
    return None


def holder_name(name: str) -> str:
    """The NFC name, or ValueError."""
    problem = holder_name_problem(name)
    if problem:
        raise ValueError(problem)
    return unicodedata.normalize("NFC", name.strip())


def display_text_problem(text: str, max_length: int = DISPLAY_MAX) -> str | None:
    """Merchant names and titles: 1-`max_length` printable characters (spaces allowed)."""
    value = text.strip()
    if not 1 <= len(value) <= max_length:
        return f"must be 1 to {max_length} characters"
    if not value.isprintable():
        return "must be printable characters only"
    return None
