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
    "not_issued",
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

Standing = Literal["active", "suspended", "revoked", "superseded", "not_issued"]
"""A card version's standing as the status source sees it."""

COMPROMISED = "compromised"
CARD_USE = "card"
BUNDLE_USE = "bundle"


@dataclass(frozen=True)
class TrustedKey:
    """An issuer public key the verifier trusts, by base64url kid."""

    kid: str
    raw: bytes
    status: str  # active | retired | compromised
    use: str = "card"  # card | bundle: only a card key vouches for a card


@dataclass(frozen=True)
class Checked:
    """The outcome of the credential stage. `status` is set when it already decided."""

    status: str | None
    parsed: ParsedCredential | None = None
    key: TrustedKey | None = None
    """The issuer key the card names (known once the kid was found)."""

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
    """A bounded memo of parsed credentials and of card bytes whose issuer signature verified.

    A static PTC1 code is the same text at every scan: a repeat scan may skip the parse,
    and, where the issuer signature has to be checked at all (offline; a card the status
    view holds no digest for), the Ed25519 check too, since a signature over the same bytes
    under the same key always verifies the same way. Only verified cards are remembered,
    each with the raw key that verified it, so a forger cannot fill it, and a key's current
    status (for example compromised) and the card's standing are still checked on every
    scan: nothing here is something a revocation must invalidate. PTP1 presentations are
    new text every 30 s: only their embedded card is remembered; the holder signature and
    the freshness are checked every time.
    """

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._texts: OrderedDict[str, ParsedCredential] = OrderedDict()
        self._cards: OrderedDict[bytes, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def parsed(self, text: str) -> ParsedCredential | None:
        with self._lock:
            return self._texts.get(text)

    def card_key(self, card_bytes: bytes) -> bytes | None:
        with self._lock:
            return self._cards.get(card_bytes)

    def remember_parsed(self, text: str, parsed: ParsedCredential) -> None:
        """Static texts only, and only once their card verified (see `remember_card`)."""
        if self.size <= 0 or parsed.presentation != "static":
            return
        with self._lock:
            if parsed.card_bytes not in self._cards:
                return
            self._texts[text] = parsed
            if len(self._texts) > self.size:
                self._texts.popitem(last=False)

    def remember_card(self, card_bytes: bytes, raw: bytes) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._cards[card_bytes] = raw
            if len(self._cards) > self.size:
                self._cards.popitem(last=False)


def read_credential(
    text: str,
    keys: KeyLookup | Mapping[str, TrustedKey],
    memo: VerifiedCards | None = None,
) -> Checked:
    """malformed → unknown_key → key_compromised: the stage before any signature. A kid
    that names a bundle key is as unknown as one never listed: bundle keys sign no cards.

    The parsed claims are not trusted yet; the online path uses the card id in them only to
    look the card up, and the issued digest found there decides whether the issuer
    signature still needs checking (`check_trust`).
    """
    if not isinstance(text, str):
        return Checked("malformed")
    text = text.strip()
    remembered = memo.parsed(text) if memo is not None else None
    if remembered is not None:
        parsed = remembered
    else:
        try:
            parsed = credentials.parse_credential(text)
        except MalformedCredential:
            return Checked("malformed")
        if memo is not None:
            memo.remember_parsed(text, parsed)
    key = keys.get(kid_text(parsed.kid))
    if key is None or key.use != CARD_USE:
        return Checked("unknown_key", parsed)
    if key.status == COMPROMISED:
        return Checked("key_compromised", parsed, key)
    return Checked(None, parsed, key)


def check_trust(
    checked: Checked,
    now: int,
    policy: Policy,
    issued_digest: str = "",
    memo: VerifiedCards | None = None,
) -> Checked:
    """bad_signature → stale_presentation, after `read_credential`.

    `issued_digest`: the hex SHA-256 of the card bytes the ledger issued for this card's
    current version (the status view keeps it), or "" where there is none (offline, a card
    not in the view). Bytes equal to what the ledger issued are its own signature, so the
    Ed25519 check is skipped for them; anything else has its signature checked.
    """
    if checked.status is not None or checked.parsed is None or checked.key is None:
        return checked
    parsed, key = checked.parsed, checked.key
    if issued_digest and parsed.card_digest.hex() == issued_digest:
        if memo is not None:
            memo.remember_card(parsed.card_bytes, key.raw)
    else:
        verified_with = memo.card_key(parsed.card_bytes) if memo is not None else None
        if verified_with is None or verified_with != key.raw:
            try:
                issuer_ok = credentials.verify_issuer_signature(parsed, key.raw)
            except ValueError:  # a trust-store entry that is not an Ed25519 key: refuse it
                issuer_ok = False
            if not issuer_ok:
                return Checked("bad_signature", parsed, key)
            if memo is not None:
                memo.remember_card(parsed.card_bytes, key.raw)
    if parsed.presentation == "device_bound":
        if not credentials.verify_holder_signature(parsed):
            return Checked("bad_signature", parsed, key)
        presented_at = parsed.presented_at or 0
        if abs(now - presented_at) > policy.presentation_window_seconds:
            return Checked("stale_presentation", parsed, key)
    return checked


def check_credential(
    text: str,
    keys: KeyLookup | Mapping[str, TrustedKey],
    now: int,
    policy: Policy,
    memo: VerifiedCards | None = None,
) -> Checked:
    """malformed → unknown_key → key_compromised → bad_signature → stale_presentation,
    every signature checked (the offline verifiers have no issued digest)."""
    return check_trust(read_credential(text, keys, memo), now, policy, "", memo)


def standing_from_view(
    parsed: ParsedCredential, status: str | None, version: int | None, digest: str = ""
) -> Standing | None:
    """The standing of this card version given the card status view's row (None: absent).

    A version newer than the view's is not known yet (the view catches up with a reissue);
    the view's own version must be the very bytes the ledger issued (`digest`, when the
    view has one), else `not_issued`; older versions are superseded.
    """
    if status is None or version is None:
        return None
    presented = parsed.claims.version
    if presented > version:
        return None
    if presented == version and digest and parsed.card_digest.hex() != digest:
        return "not_issued"
    if presented < version:
        return "superseded"
    if status in ("revoked", "suspended"):
        return "revoked" if status == "revoked" else "suspended"
    return "active"


STANDING_BY_CODE: dict[int, Standing] = {
    code: cast(Standing, name) for name, code in STATUS_LIST_CODES.items()
}


def decide(checked: Checked, standing: Standing | None, now: int, policy: Policy) -> str:
    """unknown_card → not_issued → superseded → revoked → suspended → expired →
    not_yet_valid → static_not_allowed → valid, after the credential stage.

    A static PTC1 is refused where the merchant requires binding, and everywhere for a card
    bound to a phone (it carries `cnf`): such a card counts only as a live PTP1, so a
    photo of the phone's screen stops working within the presentation window.
    """
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
    if parsed.presentation == "static" and (
        policy.require_device_binding or claims.device_key is not None
    ):
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
