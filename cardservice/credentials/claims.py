"""Card claims and their CBOR payload (the contract's claim keys, nothing personal).

One validator serves both directions: `sign_card` refuses claims that the parser would
reject, so a signed card always reads back to equal claims.
"""

from __future__ import annotations

import operator
import re
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cardservice.credentials import _cbor
from cardservice.credentials.errors import InvalidDeviceKey, MalformedCredential
from cardservice.credentials.keys import DeviceKey
from cardservice.domain.policy import HOLDER_CATEGORIES

CATEGORIES = HOLDER_CATEGORIES
"""The contract's holder categories; the parser refuses any other string."""

CLAIM_ISS, CLAIM_EXP, CLAIM_IAT, CLAIM_CTI, CLAIM_CNF = 1, 4, 6, 7, 8
CLAIM_PTC = "ptc"
_REQUIRED = frozenset({CLAIM_ISS, CLAIM_EXP, CLAIM_IAT, CLAIM_CTI, CLAIM_PTC})
_ALLOWED = _REQUIRED | {CLAIM_CNF}
_PTC_KEYS = frozenset({"n", "c", "r", "m", "v", "s"})
COSE_KEY_EC2, COSE_CRV_P256 = 2, 1

MAX_TIME = 2**32
"""Exclusive bound on timestamps (year 2106): a CBOR uint32 at most, never a float or bignum."""
MAX_COUNTER = 2**32
"""Exclusive bound on the card version and status index (uint32)."""

_REGION = re.compile(r"[0-9]{6}")
_CARD_NUMBER = re.compile(r"[0-9]{17}[0-9X]")
_CHECK_CHARS = "10X98765432"
_NOT_NAME_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp", "Zs"})
_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_DIGIT_ZERO_BIAS = ord("0") * sum(_WEIGHTS)  # weights applied to ASCII codes, then unbiased


@dataclass(frozen=True)
class CardClaims:
    """What a PTC1 card states. Never holds the ID number or the full name."""

    issuer_region: str
    issued_at: int
    expires_at: int
    card_id: uuid.UUID
    card_number: str
    category: str
    region: str
    masked_name: str
    version: int
    status_index: int
    device_key: DeviceKey | None = None


def mask_name(full_name: str) -> str:
    """First character + "*" + last character (张三明 → 张*明); two or one: first + "*".

    Only the masked form may travel in a QR code or a merchant response.
    """
    name = full_name.strip()
    if not name:
        raise ValueError("cannot mask an empty name")
    if len(name) <= 2:
        return name[0] + "*"
    return name[0] + "*" + name[-1]


def _name_char(ch: str) -> bool:
    """A character that may stand for a name in the mask.

    Not `str.isprintable`: rare characters in names (生僻字) may be newer than Python's
    Unicode tables (category Cn) or sit in the private use area (Co); those must still work.
    """
    return not ch.isspace() and unicodedata.category(ch) not in _NOT_NAME_CATEGORIES


def validation_problem(claims: CardClaims) -> str | None:
    """Why these claims cannot be a card (or None): issuers may ask before signing."""
    for name in ("issued_at", "expires_at"):
        value = getattr(claims, name)
        if type(value) is not int or not 0 <= value < MAX_TIME:
            return f"{name} must be an int in [0, 2**32)"
    if type(claims.version) is not int or not 1 <= claims.version < MAX_COUNTER:
        return "version must be an int in [1, 2**32)"
    if type(claims.status_index) is not int or not 0 <= claims.status_index < MAX_COUNTER:
        return "status_index must be an int in [0, 2**32)"
    for name in ("issuer_region", "region"):
        value = getattr(claims, name)
        if type(value) is not str or not _REGION.fullmatch(value):
            return f"{name} must be a 6-digit region code"
    number = claims.card_number
    if type(number) is not str or not _CARD_NUMBER.fullmatch(number):
        return "card_number must be 17 digits and a check character"
    weighted = sum(map(operator.mul, number[:17].encode("ascii"), _WEIGHTS)) - _DIGIT_ZERO_BIAS
    if _CHECK_CHARS[weighted % 11] != number[17]:
        return "card_number check character does not match"
    if type(claims.category) is not str or claims.category not in CATEGORIES:
        return "unknown category"
    masked = claims.masked_name
    if (
        type(masked) is not str
        or not 2 <= len(masked) <= 3
        or masked[1] != "*"
        or not _name_char(masked[0])
        or not _name_char(masked[-1])
    ):
        return "masked_name must be first character + '*' (+ last character)"
    if not isinstance(claims.card_id, uuid.UUID):
        return "card_id must be a UUID"
    if claims.device_key is not None and not isinstance(claims.device_key, DeviceKey):
        return "device_key must be a DeviceKey"
    return None


def payload_bytes(claims: CardClaims) -> bytes:
    """The canonical CBOR payload; the caller has validated `claims`."""
    payload: dict[object, object] = {
        CLAIM_ISS: claims.issuer_region,
        CLAIM_EXP: claims.expires_at,
        CLAIM_IAT: claims.issued_at,
        CLAIM_CTI: claims.card_id.bytes,
        CLAIM_PTC: {
            "n": claims.card_number,
            "c": claims.category,
            "r": claims.region,
            "m": claims.masked_name,
            "v": claims.version,
            "s": claims.status_index,
        },
    }
    if claims.device_key is not None:
        key = claims.device_key
        payload[CLAIM_CNF] = {1: {1: COSE_KEY_EC2, -1: COSE_CRV_P256, -2: key.x, -3: key.y}}
    return _cbor.encode(payload)


def _exact_keys(value: object, keys: frozenset[Any], what: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping) or value.keys() != keys:
        names = ", ".join(sorted(map(str, keys)))
        raise MalformedCredential(f"{what} must be a map with exactly the keys {names}")
    return value


def _device_key(cnf: object) -> DeviceKey:
    cnf = _exact_keys(cnf, frozenset({1}), "cnf")
    cose_key = _exact_keys(cnf[1], frozenset({1, -1, -2, -3}), "cnf COSE_Key")
    kty, crv = cose_key[1], cose_key[-1]
    if type(kty) is not int or kty != COSE_KEY_EC2 or type(crv) is not int or crv != COSE_CRV_P256:
        raise MalformedCredential("cnf key must be EC2 on P-256")
    return DeviceKey(cose_key[-2], cose_key[-3])


def parse_payload(payload: bytes) -> CardClaims:
    """Decode and strictly check a card payload; MalformedCredential on any deviation."""
    data = _cbor.decode(payload, "payload")
    if not isinstance(data, Mapping) or not _REQUIRED <= data.keys() <= _ALLOWED:
        raise MalformedCredential("payload must be a map with keys 1, 4, 6, 7, 'ptc' (and 8)")
    ptc = _exact_keys(data[CLAIM_PTC], _PTC_KEYS, "ptc")
    cti = data[CLAIM_CTI]
    if type(cti) is not bytes or len(cti) != 16:
        raise MalformedCredential("cti must be 16 bytes")
    cnf = data.get(CLAIM_CNF)
    try:
        claims = CardClaims(
            issuer_region=data[CLAIM_ISS],
            issued_at=data[CLAIM_IAT],
            expires_at=data[CLAIM_EXP],
            card_id=uuid.UUID(bytes=cti),
            card_number=ptc["n"],
            category=ptc["c"],
            region=ptc["r"],
            masked_name=ptc["m"],
            version=ptc["v"],
            status_index=ptc["s"],
            device_key=None if cnf is None else _device_key(cnf),
        )
    except InvalidDeviceKey as exc:
        raise MalformedCredential(f"cnf key: {exc}") from None
    problem = validation_problem(claims)
    if problem:
        raise MalformedCredential(f"payload: {problem}")
    return claims
