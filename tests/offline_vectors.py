"""Golden vectors for offline verification, shared by the Python suite and node's tests.

`python -m tests.offline_vectors` writes tests/data/offline_vectors.json: real Ed25519 and
P-256 keys from fixed seeds, cards, presentations and bundles built with the project's own
encoders (cardservice.credentials, merchant_api.bundle), hostile variants made from them
byte by byte, and the verdict the contract gives each at a fixed `now`. The Python tests
(tests/unit/test_offline_vectors.py) check merchant_api's verifier and `cardservice verify`
against them and that the file is what this module writes; `node --test tests/js/` checks
the merchant page's modules against the same file.

A vector marked `pending_python` states the contract where the Python verifier does not
follow it yet (the reason says why); its Python test is a strict expected failure, so the
day the verifier changes, the mark must go.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from cardservice.credentials import (
    CardClaims,
    DeviceKey,
    _cbor,
    b45encode,
    encode_ptc1,
    fingerprint,
    kid_for,
    sign_card,
)
from cardservice.credentials.claims import payload_bytes
from cardservice.domain.identity import mod11_2_check
from cardservice.domain.policy import STATUS_LIST_CODES
from cardservice.web.policy import policy_with
from merchant_api.bundle import BundleContent, sign_bundle
from projections.cards import status_list_bytes

PATH = Path(__file__).parent / "data" / "offline_vectors.json"
NOW = 1_780_000_000  # 2026-05-28T20:26:40Z
DAY = 86_400


def ed25519(seed: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"ed25519-%d" % seed).digest())


def p256(seed: int) -> ec.EllipticCurvePrivateKey:
    value = int.from_bytes(hashlib.sha256(b"p256-%d" % seed).digest(), "big")
    return ec.derive_private_key(value % (2**255) + 1, ec.SECP256R1())


def raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes_raw()


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwk(key: Ed25519PrivateKey, use: str, status: str = "active") -> dict[str, Any]:
    return {
        "kid": b64u(kid_for(raw(key))),
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64u(raw(key)),
        "use": use,
        "status": status,
        "not_after": None,
    }


CARD_KEY, BUNDLE_KEY = ed25519(1), ed25519(2)  # pinned at set-up
NEW_CARD_KEY, NEW_BUNDLE_KEY = ed25519(3), ed25519(4)  # vouched for by a bundle
COMPROMISED_KEY, STRANGER = ed25519(5), ed25519(6)  # listed compromised; never listed
DEVICE, OTHER_DEVICE = p256(1), p256(2)


def claims(seq: int, index: int, **kw: Any) -> CardClaims:
    body = f"5001122026{seq:07d}"
    values: dict[str, Any] = {
        "issuer_region": "500112",
        "issued_at": NOW - 30 * DAY,
        "expires_at": NOW + 365 * DAY,
        "card_id": uuid.UUID(int=seq),
        "card_number": body + mod11_2_check(body),
        "category": "veteran",
        "region": "500112",
        "masked_name": "张*明",
        "version": 1,
        "status_index": index,
    }
    values.update(kw)
    return CardClaims(**values)


def device_key(key: ec.EllipticCurvePrivateKey) -> DeviceKey:
    return DeviceKey.from_public_key(key.public_key())


def ptp1(card: bytes, t: int, key: ec.EllipticCurvePrivateKey) -> str:
    """The holder's presentation, signed deterministically (RFC 6979) so the file is stable."""
    message = _cbor.encode(["PTP1", hashlib.sha256(card).digest(), t])
    der = key.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return "PTP1:" + b45encode(_cbor.encode([card, t, sig]))


def ptc1(card: bytes) -> str:
    return encode_ptc1(card)


def framed(protected: bytes, unprotected: bytes, payload: bytes, signature: bytes) -> bytes:
    """A COSE_Sign1 written head by head, so a test can bend exactly one part of it."""
    return (
        b"\xd2\x84"
        + _cbor.head(2, len(protected))
        + protected
        + unprotected
        + _cbor.head(2, len(payload))
        + payload
        + _cbor.head(2, 64)
        + signature
    )


def resigned(protected: bytes, payload: bytes, key: Ed25519PrivateKey) -> tuple[bytes, bytes]:
    """(protected, signature) over a hand-made protected header: a real signature."""
    to_sign = _cbor.encode(["Signature1", protected, b"", payload])
    return protected, key.sign(to_sign)


def credentials_vectors() -> list[dict[str, Any]]:
    c = sign_card(claims(1, 0), CARD_KEY)
    protected = c[3:16]  # d2 84 4d <13 bytes>
    payload = payload_bytes(claims(1, 0))
    signature = c[-64:]
    bound = sign_card(claims(5, 4, device_key=device_key(DEVICE)), CARD_KEY)
    unbound_for_ptp1 = sign_card(claims(6, 5), CARD_KEY)
    long_head = b"\x59" + len(payload).to_bytes(2, "big")  # a 2-byte length for < 256
    dup_payload = b"\xa6" + payload[1:] + _cbor.encode(1) + _cbor.encode("500112")
    extra_protected = b"\xa3\x01\x27\x04\x48" + kid_for(raw(CARD_KEY)) + b"\x03\x00"
    p_extra, sig_extra = resigned(extra_protected, payload, CARD_KEY)
    p_dup, sig_dup = resigned(protected, dup_payload, CARD_KEY)
    flipped = bytearray(c)
    flipped[-1] ^= 1
    ptp_valid = ptp1(bound, NOW - 10, DEVICE)
    vectors: list[dict[str, Any]] = [
        {"name": "valid_ptc1", "qr": ptc1(c), "expect": "valid"},
        {"name": "valid_ptc1_scanner_newline", "qr": ptc1(c) + "\r\n", "expect": "valid"},
        {"name": "valid_ptp1", "qr": ptp_valid, "expect": "valid"},
        {
            "name": "stale_ptp1",
            "qr": ptp1(bound, NOW - 120, DEVICE),
            "expect": "stale_presentation",
        },
        {
            "name": "ptp1_from_the_future",
            "qr": ptp1(bound, NOW + 61, DEVICE),
            "expect": "stale_presentation",
        },
        {
            "name": "ptp1_other_device",
            "qr": ptp1(bound, NOW - 10, OTHER_DEVICE),
            "expect": "bad_signature",
        },
        {
            "name": "ptp1_card_without_cnf",
            "qr": ptp1(unbound_for_ptp1, NOW - 10, DEVICE),
            "expect": "malformed",
        },
        {
            "name": "bound_card_shown_static",
            "qr": ptc1(bound),
            "expect": "static_not_allowed",
        },
        {
            "name": "noncanonical_length",
            "qr": ptc1(
                b"\xd2\x84\x4d"
                + protected
                + b"\xa0"
                + long_head
                + payload
                + b"\x58\x40"
                + signature
            ),
            "expect": "malformed",
        },
        {
            "name": "noncanonical_int_ptp1_t",
            "qr": "PTP1:"
            + b45encode(
                b"\x83"
                + _cbor.head(2, len(bound))
                + bound
                + b"\x1b"
                + (NOW - 10).to_bytes(8, "big")
                + b"\x58\x40"
                + b"\x00" * 64
            ),
            "expect": "malformed",
        },
        {
            "name": "indefinite_length_array",
            "qr": ptc1(b"\xd2\x9f" + c[2:] + b"\xff"),
            "expect": "malformed",
        },
        {"name": "trailing_bytes", "qr": ptc1(c + b"\x00"), "expect": "malformed"},
        {
            "name": "duplicate_key_payload",
            "qr": ptc1(framed(p_dup, b"\xa0", dup_payload, sig_dup)),
            "expect": "malformed",
        },
        {
            "name": "nonempty_unprotected_header",
            "qr": ptc1(
                framed(
                    protected,
                    b"\xa1\x04" + _cbor.head(2, 8) + kid_for(raw(CARD_KEY)),
                    payload,
                    signature,
                )
            ),
            "expect": "malformed",
        },
        {
            "name": "protected_header_extra_field",
            "qr": ptc1(framed(p_extra, b"\xa0", payload, sig_extra)),
            "expect": "malformed",
        },
        {"name": "not_a_credential", "qr": "PTC1:NOT-A-CARD", "expect": "malformed"},
        {"name": "wrong_prefix", "qr": "PTX1:" + ptc1(c)[5:], "expect": "malformed"},
        {"name": "bad_signature", "qr": ptc1(bytes(flipped)), "expect": "bad_signature"},
        {
            "name": "unknown_kid",
            "qr": ptc1(sign_card(claims(2, 0), STRANGER)),
            "expect": "unknown_key",
        },
        {
            "name": "compromised_key",
            "qr": ptc1(sign_card(claims(2, 0), COMPROMISED_KEY)),
            "expect": "key_compromised",
        },
        {
            "name": "vouched_card_key",
            "qr": ptc1(sign_card(claims(3, 6), NEW_CARD_KEY)),
            "expect": "valid",
        },
        {
            "name": "card_signed_by_a_bundle_key",
            "qr": ptc1(sign_card(claims(4, 0), BUNDLE_KEY)),
            "expect": "unknown_key",
        },
        {
            "name": "card_signed_by_a_vouched_bundle_key",
            "qr": ptc1(sign_card(claims(15, 0), NEW_BUNDLE_KEY)),
            "expect": "unknown_key",
        },
        {
            "name": "suspended_in_status_list",
            "qr": ptc1(sign_card(claims(7, 1), CARD_KEY)),
            "expect": "suspended",
        },
        {
            "name": "revoked_in_status_list",
            "qr": ptc1(sign_card(claims(8, 2), CARD_KEY)),
            "expect": "revoked",
        },
        {
            "name": "superseded_in_status_list",
            "qr": ptc1(sign_card(claims(9, 3), CARD_KEY)),
            "expect": "superseded",
        },
        {
            "name": "revoked_ptp1",
            "qr": ptp1(
                sign_card(claims(10, 2, device_key=device_key(DEVICE)), CARD_KEY), NOW, DEVICE
            ),
            "expect": "revoked",
        },
        {
            "name": "index_beyond_status_list",
            "qr": ptc1(sign_card(claims(11, 4000), CARD_KEY)),
            "expect": "unknown_card",
        },
        {
            "name": "expired_card",
            "qr": ptc1(
                sign_card(claims(12, 7, issued_at=NOW - 400 * DAY, expires_at=NOW - 1), CARD_KEY)
            ),
            "expect": "expired",
        },
        {
            "name": "not_yet_valid_card",
            "qr": ptc1(sign_card(claims(13, 7, issued_at=NOW + 301), CARD_KEY)),
            "expect": "not_yet_valid",
        },
        {
            "name": "iat_within_skew",
            "qr": ptc1(sign_card(claims(14, 7, issued_at=NOW + 299), CARD_KEY)),
            "expect": "valid",
        },
    ]
    return vectors


def status_list() -> bytes:
    codes = STATUS_LIST_CODES
    entries = [
        (0, codes["active"]),
        (1, codes["suspended"]),
        (2, codes["revoked"]),
        (3, codes["superseded"]),
        (4, codes["active"]),
        (5, codes["active"]),
        (6, codes["active"]),
        (7, codes["active"]),
        (40, codes["active"]),
    ]
    return status_list_bytes(entries)


def content(keys: list[dict[str, Any]]) -> BundleContent:
    return BundleContent(
        keys=keys,
        status_list=status_list(),
        catalog={"region": "500112", "at": "2026-05-29", "benefits": [], "versions": {}},
        merchant_region="500112",
    )


def bundles() -> dict[str, dict[str, Any]]:
    listed = [
        jwk(CARD_KEY, "card"),
        jwk(BUNDLE_KEY, "bundle"),
        jwk(NEW_CARD_KEY, "card"),
        jwk(NEW_BUNDLE_KEY, "bundle"),
        jwk(COMPROMISED_KEY, "card", "compromised"),
    ]
    fresh = content(listed)
    main = sign_bundle(fresh, BUNDLE_KEY, NOW - 3600, NOW - 3600 + DAY)
    flipped = bytearray(main)
    flipped[-1] ^= 1
    out: dict[str, dict[str, Any]] = {
        "main": {"cose": main, "expect": "ok", "trust": "pinned"},
        "expired": {
            "cose": sign_bundle(fresh, BUNDLE_KEY, NOW - DAY - 7200, NOW - 7200),
            "expect": "expired",
            "trust": "pinned",
        },
        "unpinned_signer": {
            "cose": sign_bundle(fresh, STRANGER, NOW - 60, NOW - 60 + DAY),
            "expect": "unknown_signer",
            "trust": "pinned",
        },
        "bad_signature": {"cose": bytes(flipped), "expect": "bad_signature", "trust": "pinned"},
        "trailing_bytes": {"cose": main + b"\x00", "expect": "unreadable", "trust": "pinned"},
        "vouched_signer_before_vouching": {
            "cose": sign_bundle(fresh, NEW_BUNDLE_KEY, NOW - 60, NOW - 60 + DAY),
            "expect": "unknown_signer",
            "trust": "pinned",
        },
        "vouched_signer": {
            "cose": sign_bundle(fresh, NEW_BUNDLE_KEY, NOW - 60, NOW - 60 + DAY),
            "expect": "ok",
            "trust": "after:main",
        },
        "signed_by_a_card_key": {
            "cose": sign_bundle(fresh, CARD_KEY, NOW - 60, NOW - 60 + DAY),
            "expect": "wrong_use",
            "trust": "pinned",
        },
        "signed_by_a_vouched_card_key": {
            "cose": sign_bundle(fresh, NEW_CARD_KEY, NOW - 60, NOW - 60 + DAY),
            "expect": "wrong_use",
            "trust": "after:main",
        },
    }
    return out


def build() -> dict[str, Any]:
    pinned = {"keys": [jwk(CARD_KEY, "card"), jwk(BUNDLE_KEY, "bundle")]}
    every = [CARD_KEY, BUNDLE_KEY, NEW_CARD_KEY, NEW_BUNDLE_KEY, COMPROMISED_KEY, STRANGER]
    return {
        "generated_by": "python -m tests.offline_vectors",
        "now": NOW,
        "policy": policy_with(),
        # The merchant's own policy travels beside the bundle (the `Merchant-Policy`
        # header of /v1/offline-bundle), never inside the signed payload.
        "merchant_policy": {
            "kind": "merchant",
            "categories": ["dining"],
            "a_level": None,
            "require_device_binding": False,
        },
        "trust": pinned,
        "fingerprints": {b64u(kid_for(raw(k))): fingerprint(raw(k)) for k in every},
        "bundles": {
            name: {**b, "cose": base64.b64encode(b["cose"]).decode("ascii")}
            for name, b in bundles().items()
        },
        "credentials": [{**v, "bundle": "main"} for v in credentials_vectors()],
    }


def render() -> str:
    return json.dumps(build(), ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def main() -> None:
    PATH.write_text(render(), encoding="utf-8")
    print(f"wrote {PATH.relative_to(Path.cwd()) if PATH.is_relative_to(Path.cwd()) else PATH}")


if __name__ == "__main__":
    main()
