"""COSE_Sign1 (RFC 9052) with EdDSA/Ed25519, exactly the contract's shape.

protected = bstr(CBOR {1: -8, 4: kid}), unprotected = {}, tag 18. Parsing insists on the
one canonical framing of that shape, so a signed card has exactly one byte form (and one
QR text); that is what a PTP1 presentation hashes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cardservice.credentials import _cbor
from cardservice.credentials.errors import MalformedCredential
from cardservice.credentials.keys import KID_LENGTH, issuer_key, kid_for

ALG_EDDSA = -8
HEADER_ALG, HEADER_KID = 1, 4
SIGNATURE_LENGTH = 64
_PROTECTED_PREFIX = b"\xa2\x01\x27\x04" + _cbor.head(2, KID_LENGTH)  # {1: -8, 4: h'<8 bytes>'}
_SIGN1_HEAD = b"\xd2\x84"  # tag 18, array of 4
_EMPTY_MAP = b"\xa0"
_SIGNATURE_HEAD = _cbor.head(2, SIGNATURE_LENGTH)
_SIG_STRUCTURE_HEAD = b"\x84" + _cbor.encode("Signature1")
_EMPTY_BSTR = b"\x40"


@dataclass(frozen=True)
class CoseSign1:
    """The parts of a parsed COSE_Sign1; `payload` is still undecoded bytes."""

    protected: bytes
    payload: bytes
    signature: bytes
    kid: bytes


def protected_header(kid: bytes) -> bytes:
    """The serialized protected header for `kid` (canonical: alg first)."""
    if type(kid) is not bytes or len(kid) != KID_LENGTH:
        raise ValueError(f"kid must be {KID_LENGTH} bytes")
    return _PROTECTED_PREFIX + kid


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """CBOR ["Signature1", protected, h'', payload], framed by hand: no re-encoding."""
    return (
        _SIG_STRUCTURE_HEAD
        + _cbor.head(2, len(protected))
        + protected
        + _EMPTY_BSTR
        + _cbor.head(2, len(payload))
        + payload
    )


def sign1(payload: bytes, key: Ed25519PrivateKey) -> bytes:
    """Tagged COSE_Sign1 bytes over `payload`, kid derived from `key`."""
    protected = protected_header(kid_for(key.public_key().public_bytes_raw()))
    signature = key.sign(sig_structure(protected, payload))
    return _cbor.encode(cbor2.CBORTag(_cbor.COSE_SIGN1_TAG, [protected, {}, payload, signature]))


def _explain_protected(protected: bytes) -> MalformedCredential:
    header = _cbor.decode(protected, "protected header")
    if not isinstance(header, Mapping) or header.keys() != {HEADER_ALG, HEADER_KID}:
        return MalformedCredential("protected header must hold exactly alg (1) and kid (4)")
    alg, kid = header[HEADER_ALG], header[HEADER_KID]
    if type(alg) is not int or alg != ALG_EDDSA:
        return MalformedCredential(f"unsupported alg {alg!r}: only EdDSA (-8)")
    if type(kid) is not bytes or len(kid) != KID_LENGTH:
        return MalformedCredential(f"kid must be {KID_LENGTH} bytes")
    return MalformedCredential("protected header is not canonically encoded")


_PROTECTED_LENGTH = len(_PROTECTED_PREFIX) + KID_LENGTH
_FRAMED_PREFIX = _SIGN1_HEAD + _cbor.head(2, _PROTECTED_LENGTH) + _PROTECTED_PREFIX
_PAYLOAD_AT = len(_FRAMED_PREFIX) + KID_LENGTH + len(_EMPTY_MAP)
_SIGNED_TAIL = len(_SIGNATURE_HEAD) + SIGNATURE_LENGTH


def _split_canonical(data: bytes) -> CoseSign1 | None:
    """The parts of `data` if it is byte for byte the one canonical framing, else None.

    The framing is fixed (tag, array of 4, a 13-byte protected bstr, an empty map, the
    payload bstr, a 64-byte signature bstr), so slicing is exact and as strict as decoding
    and re-framing: only the payload's length head varies, and it must be the shortest."""
    if len(data) <= _PAYLOAD_AT + _SIGNED_TAIL or not data.startswith(_FRAMED_PREFIX):
        return None
    if data[_PAYLOAD_AT - 1] != _EMPTY_MAP[0]:
        return None
    head = data[_PAYLOAD_AT]
    if head >> 5 != 2:
        return None
    info, start = head & 0x1F, _PAYLOAD_AT + 1
    if info < 24:
        length = info
    elif info == 24:
        length, start = data[start], start + 1
    elif info == 25:
        length, start = int.from_bytes(data[start : start + 2], "big"), start + 2
    else:
        return None
    end = start + length
    if length < 0 or _cbor.head(2, length) != data[_PAYLOAD_AT:start]:
        return None
    if len(data) != end + _SIGNED_TAIL or data[end : end + len(_SIGNATURE_HEAD)] != _SIGNATURE_HEAD:
        return None
    protected = data[len(_SIGN1_HEAD) + 1 : len(_FRAMED_PREFIX) + KID_LENGTH]
    return CoseSign1(protected, data[start:end], data[-SIGNATURE_LENGTH:], protected[-KID_LENGTH:])


def parse_sign1(data: bytes) -> CoseSign1:
    """Split tagged COSE_Sign1 bytes; MalformedCredential unless exactly the contract's shape.

    Canonical input (every genuine card) is split by slicing; anything else is decoded to
    say what is wrong with it."""
    fast = _split_canonical(data)
    return fast if fast is not None else decode_sign1(data)


def decode_sign1(data: bytes) -> CoseSign1:
    """`parse_sign1` by decoding and re-framing: the reference the slicing must agree with,
    and the explanation of what is wrong with a non-canonical input."""
    item = _cbor.decode(data, "COSE_Sign1")
    if not isinstance(item, cbor2.CBORTag) or item.tag != _cbor.COSE_SIGN1_TAG:
        raise MalformedCredential("not a tagged COSE_Sign1 (tag 18)")
    parts = item.value
    if isinstance(parts, str | bytes) or not isinstance(parts, Sequence) or len(parts) != 4:
        raise MalformedCredential("COSE_Sign1 must be an array of 4")
    protected, unprotected, payload, signature = parts
    if type(protected) is not bytes or type(payload) is not bytes or type(signature) is not bytes:
        raise MalformedCredential("COSE_Sign1 protected, payload and signature must be bstr")
    if not isinstance(unprotected, Mapping) or len(unprotected) != 0:
        raise MalformedCredential("COSE_Sign1 unprotected header must be an empty map")
    if len(signature) != SIGNATURE_LENGTH:
        raise MalformedCredential(f"signature must be {SIGNATURE_LENGTH} bytes")
    if len(protected) != len(_PROTECTED_PREFIX) + KID_LENGTH or not protected.startswith(
        _PROTECTED_PREFIX
    ):
        raise _explain_protected(protected)
    framed = (
        _SIGN1_HEAD
        + _cbor.head(2, len(protected))
        + protected
        + _EMPTY_MAP
        + _cbor.head(2, len(payload))
        + payload
        + _SIGNATURE_HEAD
        + signature
    )
    if framed != data:
        raise MalformedCredential("COSE_Sign1 is not canonically encoded")
    return CoseSign1(protected, payload, signature, protected[len(_PROTECTED_PREFIX) :])


def verify_sign1(message: CoseSign1, issuer_public_key_raw: bytes) -> bool:
    """True when `message` is signed by this raw Ed25519 key and names it as its kid.

    Raises ValueError only for a key that is not 32 bytes (a trust-store bug, not a verdict).
    """
    key, kid = issuer_key(issuer_public_key_raw)
    if kid != message.kid:
        return False
    try:
        key.verify(message.signature, sig_structure(message.protected, message.payload))
    except InvalidSignature:
        return False
    return True
