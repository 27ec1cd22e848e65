"""Key material: the issuer key id and the holder's P-256 device key."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cardservice.credentials.errors import InvalidDeviceKey

KID_LENGTH = 8
COORD_LENGTH = 32


def kid_for(public_key_raw: bytes) -> bytes:
    """First 8 bytes of SHA-256 of the raw Ed25519 key: short enough for the QR, stable."""
    if type(public_key_raw) is not bytes or len(public_key_raw) != 32:
        raise ValueError("an Ed25519 public key is 32 raw bytes")
    return hashlib.sha256(public_key_raw).digest()[:KID_LENGTH]


def fingerprint(public_key_raw: bytes) -> str:
    """What a person compares (a bureau's published list against a gate's set-up screen):
    the first 16 bytes of SHA-256 of the raw key, as 8 groups of 4 upper-case hex digits.
    The merchant page shows the same (offline.js `fingerprint`)."""
    digest = hashlib.sha256(public_key_raw).hexdigest()[:32].upper()
    return " ".join(digest[i : i + 4] for i in range(0, 32, 4))


@functools.lru_cache(maxsize=64)
def issuer_key(public_key_raw: bytes) -> tuple[Ed25519PublicKey, bytes]:
    """The loaded issuer key and its kid, cached: a verifier checks thousands per key."""
    return Ed25519PublicKey.from_public_bytes(public_key_raw), kid_for(public_key_raw)


def _b64u_decode(value: object, name: str) -> bytes:
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise InvalidDeviceKey(f"jwk {name} must be a base64url string")
    try:
        ascii_value = value.encode("ascii")
    except UnicodeEncodeError:
        raise InvalidDeviceKey(f"jwk {name} is not base64url") from None
    if ascii_value.endswith(b"=") or b"+" in ascii_value or b"/" in ascii_value:
        raise InvalidDeviceKey(f"jwk {name} must be unpadded base64url")
    try:
        raw = base64.b64decode(
            ascii_value.replace(b"-", b"+").replace(b"_", b"/") + b"=" * (-len(ascii_value) % 4),
            validate=True,
        )
    except (binascii.Error, ValueError):
        raise InvalidDeviceKey(f"jwk {name} is not base64url") from None
    if len(raw) != COORD_LENGTH or _b64u_encode(raw) != value:
        raise InvalidDeviceKey(f"jwk {name} must encode exactly {COORD_LENGTH} bytes")
    return raw


def _b64u_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class DeviceKey:
    """The holder's P-256 public key (RFC 8747 `cnf`), as the two raw 32-byte coordinates.

    Construction checks only the lengths, so parsing a signed card stays cheap; `from_jwk`
    (the API boundary) and `public_key` check that the point lies on the curve.
    """

    x: bytes
    y: bytes

    def __post_init__(self) -> None:
        for name in ("x", "y"):
            value = getattr(self, name)
            if type(value) is not bytes or len(value) != COORD_LENGTH:
                raise InvalidDeviceKey(f"device key {name} must be {COORD_LENGTH} bytes")

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, object]) -> DeviceKey:
        """Accept a WebCrypto-exported public JWK (extra members such as key_ops ignored)."""
        if not isinstance(jwk, Mapping):
            raise InvalidDeviceKey("jwk must be an object")
        if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
            raise InvalidDeviceKey('jwk must have kty "EC" and crv "P-256"')
        if jwk.get("d") is not None:
            raise InvalidDeviceKey("jwk carries a private key; send the public key only")
        key = cls(_b64u_decode(jwk.get("x"), "x"), _b64u_decode(jwk.get("y"), "y"))
        key.public_key()
        return key

    def to_jwk(self) -> dict[str, str]:
        """The public JWK, in the form `from_jwk` reads back."""
        return {"kty": "EC", "crv": "P-256", "x": _b64u_encode(self.x), "y": _b64u_encode(self.y)}

    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The key for ES256 verification; InvalidDeviceKey if the point is not on P-256."""
        return _load_point(self.x + self.y)

    @classmethod
    def from_public_key(cls, key: ec.EllipticCurvePublicKey) -> DeviceKey:
        """From a `cryptography` P-256 public key (tests and the bench act as the phone)."""
        if not isinstance(key.curve, ec.SECP256R1):
            raise InvalidDeviceKey("device key must be on P-256")
        numbers = key.public_numbers()
        return cls(numbers.x.to_bytes(COORD_LENGTH, "big"), numbers.y.to_bytes(COORD_LENGTH, "big"))


@functools.lru_cache(maxsize=1024)
def _load_point(xy: bytes) -> ec.EllipticCurvePublicKey:
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + xy)
    except ValueError:
        raise InvalidDeviceKey("device key is not a point on P-256") from None
