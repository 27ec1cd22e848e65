"""One-time activation codes: how a holder's phone gets a card.

A code is 10 characters from a 32-character alphabet with no look-alikes (no 0/O, 1/I), so
50 bits, typed by an elderly holder from paper as two groups of five (`ABCDE-23456`).
Only a keyed hash of a code is recorded. The card's own events decide whether a code
still works (`Card.ActivationCodeIssued`, `Card.Activated`); an `ActivationCode` aggregate,
whose id derives from the code's hash, only says which card a typed code belongs to, so
finding it is one read by id (no view lag) and two cards can never hold the same code.
The rules those events are read by (`code_state`, `check_redemption`) are here too.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Container, Mapping
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from cardservice.domain.errors import Gone, InvalidInput, InvalidTransition, NotFound

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 10
GROUP = 5
CODE_BITS = CODE_LENGTH * 5  # 32 symbols: 5 bits each
VALID_FOR = timedelta(days=7)
REPLAY_WINDOW = timedelta(hours=24)
ISSUANCE = "issuance"
MAX_INPUT = 64
MAX_DEVICE_HINT = 80

ACTIVATION_NAMESPACE = uuid.UUID("9d1e7c3a-4b8f-4e26-b5a0-7f3c2d1e8a94")

_SEPARATORS = str.maketrans("", "", " -_\t\u3000\u2010\u2011\u2012\u2013\u2014\uff0d")


class UnknownCode(NotFound):
    code = "unknown_code"


class CodeUsed(Gone):
    code = "code_used"


class CodeExpired(Gone):
    code = "code_expired"


class CodeSuperseded(Gone):
    code = "code_superseded"


class CardRevoked(InvalidTransition):
    code = "card_revoked"


def code_from_bits(value: int) -> str:
    """The code spelled by the low CODE_BITS bits of `value` (most significant first)."""
    chars = []
    for shift in range(CODE_BITS - 5, -1, -5):
        chars.append(ALPHABET[(value >> shift) & 31])
    return "".join(chars)


def normalize_code(text: str) -> str:
    """The canonical code from what a person typed: case, spaces and dashes do not matter.

    Full-width letters and digits (a Chinese input method's) are read as their ASCII forms.
    """
    if not isinstance(text, str) or len(text) > MAX_INPUT:
        raise InvalidInput("code: an activation code is 10 letters and digits, like ABCDE-23456")
    folded = "".join(chr(ord(c) - 0xFEE0) if "\uff01" <= c <= "\uff5e" else c for c in text.strip())
    code = folded.translate(_SEPARATORS).upper()
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        raise InvalidInput("code: an activation code is 10 letters and digits, like ABCDE-23456")
    return code


def display_code(code: str) -> str:
    """`ABCDE23456` → `ABCDE-23456`: two groups are easier to read out and type."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def code_state(
    newest_serial: int, redeemed: Container[int], expires_at: datetime | None, now: datetime
) -> str:
    """none | pending | used | expired: where a card's newest code (serial 0: none) stands."""
    if not newest_serial:
        return "none"
    if newest_serial in redeemed:
        return "used"
    if expires_at is None or now >= expires_at:
        return "expired"
    return "pending"


def check_redemption(
    *,
    serial: int,
    code_hash: str,
    newest_serial: int,
    newest_hash: str,
    expires_at: datetime | None,
    redeemed: Mapping[int, tuple[datetime, str]],
    at: datetime,
    command_digest: str = "",
) -> bool:
    """Whether code `serial` (whose hash is `code_hash`) is redeemed now, given the card's
    newest code and the codes it redeemed (serial -> (at, command digest)).

    False for the same request again (same code and command digest within REPLAY_WINDOW:
    the phone retrying after a lost answer). Refusals, in this order: code used (410),
    replaced by a newer one (410), unknown (404), expired (410).
    """
    used = redeemed.get(serial)
    if used is not None:
        when, digest = used
        if (
            command_digest
            and hmac.compare_digest(digest.encode(), command_digest.encode())
            and at - when <= REPLAY_WINDOW
        ):
            return False
        raise CodeUsed(
            "this activation code has already been used (each code works once); "
            "ask the issuing office for a new code"
        )
    if serial < newest_serial:
        raise CodeSuperseded("a newer activation code has replaced this one; use the newest code")
    if serial != newest_serial or not hmac.compare_digest(newest_hash.encode(), code_hash.encode()):
        raise UnknownCode("no such activation code; check it and type it again")
    if expires_at is None or at >= expires_at:
        raise CodeExpired(
            "this activation code has expired (codes last 7 days); "
            "ask the issuing office for a new code"
        )
    return True


def clean_device_hint(text: str) -> str:
    """What the phone says it is, as recorded: printable characters, MAX_DEVICE_HINT at most."""
    return "".join(c for c in text if c.isprintable())[:MAX_DEVICE_HINT]


def activation_code_id(code_hash: str) -> UUID:
    return uuid.uuid5(ACTIVATION_NAMESPACE, code_hash)


class ActivationCode(Aggregate):
    """Where a code leads: the card and which of its codes (its serial). Never changes."""

    @staticmethod
    def create_id(code_hash: str) -> UUID:
        return activation_code_id(code_hash)

    @event("Registered")
    def __init__(self, code_hash: str, card_id: UUID, serial: int, at: datetime) -> None:
        self.code_hash = code_hash
        self.card_id = card_id
        self.serial = serial
