"""The offline bundle: issuer keys, the status list and the merchant region's catalog, signed.

A tagged COSE_Sign1 (the cards' own shape) by an active `bundle` key over CBOR
`{"keys", "status_list", "catalog", "merchant_region", "issued_at", "expires"}`;
`status_list` is zlib of 2 bits per status index (index 0 in the top bits of byte 0). One
bundle per merchant region, signed on the write side (`cardservice.bundles`) and stored;
the ETag is the hash of the signed bytes. The merchant's own policy is not in it (it
travels beside it, in the `Merchant-Policy` header). Pure: building, signing, opening and
verifying do no I/O.

Trust: the signer must be a trusted `bundle` key (pinned, from a saved /v1/keys answer) and
not compromised; the keys the bundle lists then update the trusted set (the newer word on
statuses, a compromised key staying compromised; a key listed for the first time is vouched
for by the signer), and cards verify only under `card` keys of that set.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cardservice import credentials
from cardservice.credentials import MalformedCredential
from cardservice.security import b64u, b64u_decode
from merchant_api.core import (
    BUNDLE_USE,
    CARD_USE,
    COMPROMISED,
    STANDING_BY_CODE,
    Checked,
    Policy,
    TrustedKey,
    check_credential,
    decide,
)
from projections.cards import status_code_at

MAX_BUNDLE_BYTES = 64 * 1024 * 1024
MAX_STATUS_LIST_BYTES = 64 * 1024 * 1024  # 2 bits each: 268 million status indexes
MAX_PAYLOAD_ITEMS = 200_000  # keys, catalog entries and their fields; the list is one bstr
MAX_PAYLOAD_DEPTH = 16


class BundleRefused(Exception):
    """The bundle cannot be trusted or used: bad signature, unknown or wrong-use signer,
    expired, unreadable."""


@dataclass(frozen=True)
class BundleContent:
    keys: list[dict[str, Any]]
    status_list: bytes  # uncompressed 2-bit list
    catalog: dict[str, Any]
    merchant_region: str

    def digest(self) -> str:
        """What the bundle says, without its times: the signer re-signs when this changes."""
        body = {
            "keys": self.keys,
            "status_list": self.status_list,
            "catalog": self.catalog,
            "merchant_region": self.merchant_region,
        }
        return hashlib.sha256(cbor2.dumps(body, canonical=True)).hexdigest()


def bundle_etag(signed: bytes) -> str:
    """The ETag of a signed bundle: the hash of its bytes (quoted, as HTTP writes it)."""
    return f'"{hashlib.sha256(signed).hexdigest()[:32]}"'


def sign_bundle(
    content: BundleContent, key: Ed25519PrivateKey, issued_at: int, expires: int
) -> bytes:
    payload = cbor2.dumps(
        {
            "keys": content.keys,
            "status_list": zlib.compress(content.status_list, 9),
            "catalog": content.catalog,
            "merchant_region": content.merchant_region,
            "issued_at": issued_at,
            "expires": expires,
        },
        canonical=True,
    )
    return credentials.sign1(payload, key)


@dataclass(frozen=True)
class Bundle:
    signer: str
    keys: dict[str, TrustedKey]
    status_list: bytes
    catalog: Mapping[str, Any]
    merchant_region: str
    issued_at: int
    expires: int


def pinned_keys(keys_json: Mapping[str, Any]) -> dict[str, TrustedKey]:
    """Trusted keys from a saved `/v1/keys` answer; each kid must match its key. A key
    listed without a `use` (an answer from before keys had one) is a card key."""
    found: dict[str, TrustedKey] = {}
    entries = keys_json.get("keys") if isinstance(keys_json, Mapping) else None
    if not isinstance(entries, Sequence):
        raise BundleRefused('trust file: expected {"keys": [...]} as /v1/keys answers')
    for entry in entries:
        try:
            raw = b64u_decode(str(entry["x"]))
            kid = b64u(credentials.kid_for(raw))
        except (KeyError, TypeError, ValueError):
            raise BundleRefused("trust file: a key entry is not an Ed25519 key") from None
        if entry.get("kid") != kid:
            raise BundleRefused(f"trust file: kid {entry.get('kid')} does not match its key")
        use = entry.get("use", CARD_USE)
        if use not in (CARD_USE, BUNDLE_USE):
            raise BundleRefused(f"trust file: key {kid} has no known use ({use!r})")
        found[kid] = TrustedKey(kid, raw, str(entry.get("status", "active")), str(use))
    return found


def merged_trust(
    trusted: Mapping[str, TrustedKey], listed: Mapping[str, TrustedKey]
) -> dict[str, TrustedKey]:
    """The trusted keys after a verified bundle's word on them: its statuses win, except
    that a compromised key stays compromised; a key keeps the use it was trusted for; a
    key listed for the first time is trusted as listed (its signer vouches for it)."""
    out = dict(trusted)
    for kid, key in listed.items():
        known = out.get(kid)
        if known is None:
            out[kid] = key
        else:
            status = COMPROMISED if known.status == COMPROMISED else key.status
            out[kid] = TrustedKey(kid, known.raw, status, known.use)
    return out


def _check_shape(data: bytes) -> None:
    """Walk the CBOR heads without building anything: refuse a payload with too many items,
    too deep, with lengths past its end or indefinite lengths, before cbor2 allocates."""
    pos, end = 0, len(data)
    pending = [1]  # items still to read at each open level
    items = 0
    while pending:
        if pending[-1] == 0:
            pending.pop()
            continue
        pending[-1] -= 1
        if pos >= end:
            raise BundleRefused("unreadable bundle payload: truncated")
        major, info = data[pos] >> 5, data[pos] & 0x1F
        pos += 1
        if info < 24:
            arg = info
        elif info <= 27:
            size = 1 << (info - 24)
            if pos + size > end:
                raise BundleRefused("unreadable bundle payload: truncated")
            arg = int.from_bytes(data[pos : pos + size], "big")
            pos += size
        else:
            raise BundleRefused("unreadable bundle payload: indefinite or reserved length")
        items += 1
        if items > MAX_PAYLOAD_ITEMS:
            raise BundleRefused(f"bundle payload: more than {MAX_PAYLOAD_ITEMS} items")
        if major in (2, 3):
            if arg > end - pos:
                raise BundleRefused("unreadable bundle payload: string past the end")
            pos += arg
        elif major in (4, 5, 6):
            count = arg * 2 if major == 5 else (1 if major == 6 else arg)
            if count > end - pos:
                raise BundleRefused("unreadable bundle payload: container past the end")
            pending.append(count)
            if len(pending) > MAX_PAYLOAD_DEPTH + 1:
                raise BundleRefused(f"bundle payload: nested deeper than {MAX_PAYLOAD_DEPTH}")


def _decode_payload(payload: bytes) -> Mapping[str, Any]:
    _check_shape(payload)
    stream = io.BytesIO(payload)
    try:
        data = cbor2.CBORDecoder(stream).decode()
    except Exception as exc:
        raise BundleRefused(f"unreadable bundle payload: {exc}") from None
    if stream.tell() != len(payload) or not isinstance(data, Mapping):
        raise BundleRefused("unreadable bundle payload")
    return data


def open_bundle(data: bytes, trusted: Mapping[str, TrustedKey], now: int) -> Bundle:
    """Check the signature against the pinned keys, then the expiry; BundleRefused if not."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleRefused("unreadable bundle: too large")
    try:
        message = credentials.parse_sign1(data)
    except MalformedCredential as exc:
        raise BundleRefused(f"unreadable bundle: {exc}") from None
    signer = b64u(message.kid)
    key = trusted.get(signer)
    if key is None:
        raise BundleRefused(f"unknown signer {signer}: not among the pinned issuer keys")
    if key.use != BUNDLE_USE:
        raise BundleRefused(f"wrong-use signer {signer}: a {key.use} key signs no bundles")
    if key.status == COMPROMISED:
        raise BundleRefused(f"signer {signer} is a compromised key")
    if not credentials.verify_sign1(message, key.raw):
        raise BundleRefused("bad signature")
    body = _decode_payload(message.payload)
    try:
        issued_at, expires = int(body["issued_at"]), int(body["expires"])
        compressed = body["status_list"]
        decompressor = zlib.decompressobj()
        bits = decompressor.decompress(bytes(compressed), MAX_STATUS_LIST_BYTES)
        if decompressor.unconsumed_tail or not decompressor.eof:
            raise BundleRefused(
                f"status list over {MAX_STATUS_LIST_BYTES} bytes uncompressed, or truncated"
            )
        listed = pinned_keys({"keys": list(body["keys"])})
        catalog = body.get("catalog") or {}
        region = str(body["merchant_region"])
    except BundleRefused:
        raise
    except (KeyError, TypeError, ValueError, zlib.error) as exc:
        raise BundleRefused(f"unreadable bundle payload: {exc}") from None
    if now > expires:
        raise BundleRefused("expired bundle: download a new one")
    keys = merged_trust(trusted, listed)
    return Bundle(signer, keys, bits, catalog, region, issued_at, expires)


def verify_offline(text: str, bundle: Bundle, now: int, policy: Policy) -> tuple[str, Checked]:
    """The verdict status of `text` against the bundle alone."""
    checked = check_credential(text, bundle.keys, now, policy)
    standing = None
    if checked.status is None and checked.parsed is not None:
        code = status_code_at(bundle.status_list, checked.parsed.claims.status_index)
        standing = None if code is None else STANDING_BY_CODE[code]
    return decide(checked, standing, now, policy), checked
