"""The verification core: QR text in, verdict status out. Pure: no I/O, no clock, no globals.

Split in two steps around the one lookup the caller makes, so the online service (card
status view) and the offline verifier (signed status list) share every rule:

1. `check_credential`: parse, find the issuer key, check signatures and freshness;
2. `decide`: given the card's standing (from whichever source), the final status.

Statuses are decided in the contract's precedence order (first match wins).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, Protocol, cast
from zoneinfo import ZoneInfo

from cardservice import credentials
from cardservice.credentials import MalformedCredential, ParsedCredential
from cardservice.domain.policy import (
    CLOCK_SKEW_SECONDS,
    PRESENTATION_WINDOW_SECONDS,
    STATUS_LIST_CODES,
    TIME_ZONE,
)
from cardservice.security import b64u

SHANGHAI = ZoneInfo(TIME_ZONE)

STATUSES: tuple[str, ...] = (
    "malformed",
    "unknown_key",
    "key_compromised",
    "bad_signature",
    "stale_presentation",
    "unknown_card",
    "superseded",
    "revoked",
    "suspended",
    "expired",
    "not_yet_valid",
    "static_not_allowed",
    "valid",
)
"""Every verdict status, in the contract's precedence order."""

TRUSTED_STATUSES = frozenset(STATUSES[STATUSES.index("stale_presentation") :])
"""Statuses reached only after the issuer signature verified: the card's claims are real."""

Standing = Literal["active", "suspended", "revoked", "superseded"]
"""A card version's standing as the status source sees it."""

COMPROMISED = "compromised"


@dataclass(frozen=True)
class TrustedKey:
    """An issuer public key the verifier trusts, by base64url kid."""

    kid: str
    raw: bytes
    status: str  # active | retired | compromised


@dataclass(frozen=True)
class Checked:
    """The outcome of the credential stage. `status` is set when it already decided."""

    status: str | None
    parsed: ParsedCredential | None = None

    @property
    def presentation(self) -> str | None:
        return self.parsed.presentation if self.parsed is not None else None


@dataclass(frozen=True)
class Policy:
    clock_skew_seconds: int = CLOCK_SKEW_SECONDS
    presentation_window_seconds: int = PRESENTATION_WINDOW_SECONDS
    require_device_binding: bool = False


class KeyLookup(Protocol):
    """Issuer keys by base64url kid (a dict, or a cache that refreshes on a miss)."""

    def get(self, kid: str, /) -> TrustedKey | None: ...


def kid_text(kid: bytes) -> str:
    return b64u(kid)


class VerifiedCards:
    """A bounded memo of credentials whose issuer signature already verified.

    A static PTC1 code is the same text at every scan, and a signature over the same bytes
    under the same key always verifies the same way, so a repeat scan may skip the parse
    and the Ed25519 check (the dominant costs). Only successes are kept, each with the raw
    key that verified it, so a forger cannot fill it, and a key's current status (for
    example compromised) is still checked on every scan. PTP1 presentations are new text
    every 30 s: only their embedded card's signature is remembered; the holder signature
    and the freshness are checked every time.
    """

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._texts: OrderedDict[str, tuple[ParsedCredential, bytes]] = OrderedDict()
        self._cards: OrderedDict[bytes, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def parsed(self, text: str) -> tuple[ParsedCredential, bytes] | None:
        with self._lock:
            return self._texts.get(text)

    def card_key(self, card_bytes: bytes) -> bytes | None:
        with self._lock:
            return self._cards.get(card_bytes)

    def remember(self, text: str, parsed: ParsedCredential, raw: bytes) -> None:
        if self.size <= 0:
            return
        with self._lock:
            if parsed.presentation == "static":
                self._texts[text] = (parsed, raw)
                if len(self._texts) > self.size:
                    self._texts.popitem(last=False)
            self._cards[parsed.card_bytes] = raw
            if len(self._cards) > self.size:
                self._cards.popitem(last=False)


def check_credential(
    text: str,
    keys: KeyLookup | Mapping[str, TrustedKey],
    now: int,
    policy: Policy,
    memo: VerifiedCards | None = None,
) -> Checked:
    """malformed → unknown_key → key_compromised → bad_signature → stale_presentation."""
    if not isinstance(text, str):
        return Checked("malformed")
    text = text.strip()
    remembered = memo.parsed(text) if memo is not None else None
    verified_with: bytes | None
    if remembered is not None:
        parsed, verified_with = remembered
    else:
        try:
            parsed = credentials.parse_credential(text)
        except MalformedCredential:
            return Checked("malformed")
        verified_with = memo.card_key(parsed.card_bytes) if memo is not None else None
    key = keys.get(kid_text(parsed.kid))
    if key is None:
        return Checked("unknown_key", parsed)
    if key.status == COMPROMISED:
        return Checked("key_compromised", parsed)
    if verified_with is None or verified_with != key.raw:
        try:
            issuer_ok = credentials.verify_issuer_signature(parsed, key.raw)
        except ValueError:  # a trust-store entry that is not an Ed25519 key: refuse the card
            issuer_ok = False
        if not issuer_ok:
            return Checked("bad_signature", parsed)
        if memo is not None:
            memo.remember(text, parsed, key.raw)
    if parsed.presentation == "device_bound":
        if not credentials.verify_holder_signature(parsed):
            return Checked("bad_signature", parsed)
        presented_at = parsed.presented_at or 0
        if abs(now - presented_at) > policy.presentation_window_seconds:
            return Checked("stale_presentation", parsed)
    return Checked(None, parsed)


def standing_from_view(
    parsed: ParsedCredential, status: str | None, version: int | None
) -> Standing | None:
    """The standing of this card version given the card status view's row (None: absent)."""
    if status is None or version is None:
        return None
    if parsed.claims.version < version:
        return "superseded"
    if status in ("revoked", "suspended"):
        return "revoked" if status == "revoked" else "suspended"
    return "active"


STANDING_BY_CODE: dict[int, Standing] = {
    code: cast(Standing, name) for name, code in STATUS_LIST_CODES.items()
}


def decide(checked: Checked, standing: Standing | None, now: int, policy: Policy) -> str:
    """unknown_card → superseded → revoked → suspended → expired → not_yet_valid →
    static_not_allowed → valid, after the credential stage."""
    if checked.status is not None:
        return checked.status
    parsed = checked.parsed
    assert parsed is not None
    if standing is None:
        return "unknown_card"
    if standing != "active":
        return standing
    claims = parsed.claims
    if now > claims.expires_at:
        return "expired"
    if claims.issued_at > now + policy.clock_skew_seconds:
        return "not_yet_valid"
    if policy.require_device_binding and parsed.presentation == "static":
        return "static_not_allowed"
    return "valid"


def card_summary(parsed: ParsedCredential | None, status: str) -> dict[str, Any] | None:
    """The verdict's `card` object: only for cards whose issuer signature verified."""
    if parsed is None or status not in TRUSTED_STATUSES:
        return None
    claims = parsed.claims
    return {
        "card_number": claims.card_number,
        "masked_name": claims.masked_name,
        "category": claims.category,
        "region": claims.region,
        "expires": expires_date(claims.expires_at).isoformat(),
    }


def expires_date(expires_at: int) -> date:
    """The card's last valid calendar day in Asia/Shanghai."""
    return datetime.fromtimestamp(expires_at, SHANGHAI).date()
