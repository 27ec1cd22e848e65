"""PTC1 (static card) and PTP1 (device-bound presentation) QR texts.

`parse_credential` is the verification hot path: base45 by table, one bounded CBOR decode
per layer, the canonical framing checked by concatenation, never a re-encode. Anything that
goes wrong is `MalformedCredential`; signatures are checked separately, so a verifier can
tell malformed from unknown_key from bad_signature.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from cardservice.credentials import _base45, _cbor, cose
from cardservice.credentials.claims import (
    MAX_TIME,
    CardClaims,
    parse_payload,
    payload_bytes,
    validation_problem,
)
from cardservice.credentials.errors import InvalidClaims, InvalidDeviceKey, MalformedCredential

PTC1_PREFIX = "PTC1:"
PTP1_PREFIX = "PTP1:"
PREFIX_LENGTH = 5
MAX_TEXT_LENGTH = 1200
"""Longest QR text accepted (after stripping); real ones are at most ~311 (PTC1), ~430 (PTC1
with a cnf key) and ~545 (PTP1) characters."""
MAX_DECODED_BYTES = 640
"""Longest base45-decoded content accepted (the longest real PTP1 is about 360 bytes)."""
HOLDER_SIGNATURE_LENGTH = 64
PTP1_CONTEXT = "PTP1"
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_SIG_HEAD = _cbor.head(2, HOLDER_SIGNATURE_LENGTH)
_PTP1_ARRAY_HEAD = b"\x83"


@dataclass(frozen=True)
class ParsedCredential:
    """A read (not yet verified) credential: the signed parts, the claims, the PTP1 extras."""

    presentation: Literal["static", "device_bound"]
    card_bytes: bytes
    protected: bytes
    payload: bytes
    signature: bytes
    kid: bytes
    claims: CardClaims
    presented_at: int | None = None
    holder_signature: bytes | None = None

    @cached_property
    def card_digest(self) -> bytes:
        """SHA-256 of the exact card bytes: what a PTP1 signs, and what the ledger records
        of every card version it issued (`credential_digest`)."""
        return hashlib.sha256(self.card_bytes).digest()


def credential_digest(card_bytes: bytes) -> str:
    """The ledger's record of issued card bytes: hex SHA-256 of the tagged COSE_Sign1."""
    return hashlib.sha256(card_bytes).hexdigest()


def sign_card(claims: CardClaims, key: Ed25519PrivateKey) -> bytes:
    """Tagged COSE_Sign1 bytes of the card; deterministic (canonical CBOR, Ed25519).

    Refuses (InvalidClaims) anything the parser would reject, so every issued card reads back.
    """
    problem = validation_problem(claims)
    if problem:
        raise InvalidClaims(problem)
    return cose.sign1(payload_bytes(claims), key)


def encode_ptc1(cose_sign1: bytes) -> str:
    """ "PTC1:" + base45: the whole text stays in the QR alphanumeric alphabet."""
    return PTC1_PREFIX + _base45.b45encode(cose_sign1)


def issue_ptc1(claims: CardClaims, key: Ed25519PrivateKey) -> str:
    """The static card QR text for `claims`, signed with the issuer key."""
    return encode_ptc1(sign_card(claims, key))


def _holder_message(card_digest: bytes, t: int) -> bytes:
    return _cbor.encode([PTP1_CONTEXT, card_digest, t])


def encode_ptp1(card_bytes: bytes, t: int, device_private_key: ec.EllipticCurvePrivateKey) -> str:
    """Act as the holder's phone: sign ["PTP1", SHA-256(card), t] with ES256, raw r||s."""
    if type(t) is not int or not 0 <= t < MAX_TIME:
        raise ValueError("t must be an int in [0, 2**32)")
    if not isinstance(device_private_key.curve, ec.SECP256R1):
        raise InvalidDeviceKey("device key must be on P-256")
    der = device_private_key.sign(
        _holder_message(hashlib.sha256(card_bytes).digest(), t), _ECDSA_SHA256
    )
    r, s = decode_dss_signature(der)
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return PTP1_PREFIX + _base45.b45encode(_cbor.encode([card_bytes, t, sig]))


_HEAD_SIZES = {24: 1, 25: 2, 26: 4}


def _read_head(raw: bytes, at: int, major: int) -> tuple[int, int] | None:
    """(argument, position after the head) of a shortest-form head of `major` at `at`."""
    if at >= len(raw) or raw[at] >> 5 != major:
        return None
    info, at = raw[at] & 0x1F, at + 1
    if info < 24:
        return info, at
    size = _HEAD_SIZES.get(info)
    if size is None or at + size > len(raw):
        return None
    value = int.from_bytes(raw[at : at + size], "big")
    if _cbor.head(major, value) != raw[at - 1 : at + size]:
        return None
    return value, at + size


def _split_ptp1(raw: bytes) -> tuple[bytes, int, bytes] | None:
    """[card, t, sig] by slicing when `raw` is exactly the canonical framing, else None."""
    if raw[:1] != _PTP1_ARRAY_HEAD:
        return None
    card_head = _read_head(raw, 1, 2)
    if card_head is None:
        return None
    length, at = card_head
    card = raw[at : at + length]
    t_head = _read_head(raw, at + length, 0)
    if len(card) != length or t_head is None:
        return None
    t, at = t_head
    if raw[at : at + len(_SIG_HEAD)] != _SIG_HEAD or len(raw) != at + len(_SIG_HEAD) + 64:
        return None
    if t >= MAX_TIME:
        return None
    return card, t, raw[at + len(_SIG_HEAD) :]


def _parse_ptp1(raw: bytes) -> tuple[bytes, int, bytes]:
    fast = _split_ptp1(raw)
    return fast if fast is not None else _decode_ptp1(raw)


def _decode_ptp1(raw: bytes) -> tuple[bytes, int, bytes]:
    item = _cbor.decode(raw, "PTP1")
    if isinstance(item, str | bytes) or not isinstance(item, Sequence) or len(item) != 3:
        raise MalformedCredential("PTP1 must be an array [card, t, sig]")
    card, t, sig = item
    if type(card) is not bytes:
        raise MalformedCredential("PTP1 card must be a bstr")
    if type(t) is not int or not 0 <= t < MAX_TIME:
        raise MalformedCredential("PTP1 t must be an int in [0, 2**32)")
    if type(sig) is not bytes or len(sig) != HOLDER_SIGNATURE_LENGTH:
        raise MalformedCredential(f"PTP1 sig must be {HOLDER_SIGNATURE_LENGTH} bytes")
    framed = _PTP1_ARRAY_HEAD + _cbor.head(2, len(card)) + card + _cbor.head(0, t) + _SIG_HEAD + sig
    if framed != raw:
        raise MalformedCredential("PTP1 is not canonically encoded")
    return card, t, sig


def parse_card(card_bytes: bytes) -> ParsedCredential:
    """Read tagged COSE_Sign1 card bytes (a static presentation)."""
    message = cose.parse_sign1(card_bytes)
    return ParsedCredential(
        presentation="static",
        card_bytes=card_bytes,
        protected=message.protected,
        payload=message.payload,
        signature=message.signature,
        kid=message.kid,
        claims=parse_payload(message.payload),
    )


def parse_credential(text: str) -> ParsedCredential:
    """Read a PTC1 or PTP1 QR text; MalformedCredential for anything else whatsoever.

    Surrounding whitespace (a scanner's newline) is dropped; that never eats real content,
    since base45 text cannot end in a space.
    """
    if not isinstance(text, str) or len(text) > 4 * MAX_TEXT_LENGTH:
        raise MalformedCredential("not a credential text")
    text = text.strip()
    if len(text) > MAX_TEXT_LENGTH:
        raise MalformedCredential(f"longer than {MAX_TEXT_LENGTH} characters")
    prefix = text[:PREFIX_LENGTH]
    if prefix not in (PTC1_PREFIX, PTP1_PREFIX):
        raise MalformedCredential('must start with "PTC1:" or "PTP1:"')
    try:
        raw = _base45.b45decode(text[PREFIX_LENGTH:])
    except ValueError as exc:
        raise MalformedCredential(f"not base45: {exc}") from None
    if not raw or len(raw) > MAX_DECODED_BYTES:
        raise MalformedCredential(f"decoded content empty or over {MAX_DECODED_BYTES} bytes")
    if prefix == PTC1_PREFIX:
        return parse_card(raw)
    card_bytes, t, sig = _parse_ptp1(raw)
    card = parse_card(card_bytes)
    if card.claims.device_key is None:
        raise MalformedCredential("PTP1 card carries no cnf key: nothing to present with")
    return ParsedCredential(
        presentation="device_bound",
        card_bytes=card_bytes,
        protected=card.protected,
        payload=card.payload,
        signature=card.signature,
        kid=card.kid,
        claims=card.claims,
        presented_at=t,
        holder_signature=sig,
    )


def verify_issuer_signature(parsed: ParsedCredential, issuer_public_key_raw: bytes) -> bool:
    """True when the card is signed by this raw Ed25519 key (whose kid it must name).

    ValueError for a key that is not 32 bytes: that is a trust-store bug, not a verdict.
    """
    return cose.verify_sign1(
        cose.CoseSign1(parsed.protected, parsed.payload, parsed.signature, parsed.kid),
        issuer_public_key_raw,
    )


def verify_holder_signature(parsed: ParsedCredential) -> bool:
    """True when the PTP1 sig over ["PTP1", SHA-256(card), t] matches the card's cnf key.

    False when there is no sig (static), no cnf key, or the cnf point is not on P-256.
    Checks neither the issuer signature nor the freshness of t: the verifier does both.
    """
    device_key = parsed.claims.device_key
    sig, t = parsed.holder_signature, parsed.presented_at
    if device_key is None or sig is None or t is None or len(sig) != HOLDER_SIGNATURE_LENGTH:
        return False
    try:
        public_key = device_key.public_key()
    except InvalidDeviceKey:
        return False
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        public_key.verify(der, _holder_message(parsed.card_digest, t), _ECDSA_SHA256)
    except InvalidSignature:
        return False
    return True
