"""The pure verification core: the contract's precedence order, on real keys and credentials."""

from __future__ import annotations

import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cardservice import credentials
from cardservice.domain.identity import card_number
from cardservice.security import b64u
from merchant_api.core import (
    STATUSES,
    Checked,
    Policy,
    TrustedKey,
    VerifiedCards,
    card_summary,
    check_credential,
    decide,
    standing_from_view,
)

NOW = 1_780_000_000
ISSUER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(2, 34)))
PHONE = ec.derive_private_key(12345, ec.SECP256R1())
RAW = ISSUER.public_key().public_bytes_raw()
KID = b64u(credentials.kid_for(RAW))


def claims(**kw: object) -> credentials.CardClaims:
    base: dict[str, object] = {
        "issuer_region": "500112",
        "issued_at": NOW - 100,
        "expires_at": NOW + 1000,
        "card_id": uuid.UUID(int=1),
        "card_number": card_number("500112", 2026, 1),
        "category": "veteran",
        "region": "500112",
        "masked_name": "张*明",
        "version": 1,
        "status_index": 0,
        "device_key": credentials.DeviceKey.from_public_key(PHONE.public_key()),
    }
    base.update(kw)
    return credentials.CardClaims(**base)  # type: ignore[arg-type]


def keys(status: str = "active") -> dict[str, TrustedKey]:
    return {KID: TrustedKey(KID, RAW, status)}


def verdict(text: str, standing: str | None = "active", **policy: object) -> str:
    p = Policy(**policy)  # type: ignore[arg-type]
    return decide(check_credential(text, keys(), NOW, p), standing, NOW, p)  # type: ignore[arg-type]


def test_statuses_are_the_contract_order() -> None:
    assert STATUSES == (
        "malformed", "unknown_key", "key_compromised", "bad_signature", "stale_presentation",
        "unknown_card", "superseded", "revoked", "suspended", "expired", "not_yet_valid",
        "static_not_allowed", "valid",
    )  # fmt: skip


def test_each_stage() -> None:
    card = credentials.issue_ptc1(claims(), ISSUER)
    assert verdict(card) == "valid"
    assert verdict(" \n" + card + "\n") == "valid"
    assert verdict("PTC1:XYZ") == "malformed"
    assert verdict(credentials.issue_ptc1(claims(), OTHER)) == "unknown_key"
    compromised = Policy()
    checked = check_credential(card, keys("compromised"), NOW, compromised)
    assert checked.status == "key_compromised"
    for standing in ("superseded", "revoked", "suspended"):
        assert verdict(card, standing) == standing
    assert verdict(card, None) == "unknown_card"
    assert verdict(credentials.issue_ptc1(claims(expires_at=NOW - 1), ISSUER)) == "expired"
    assert verdict(credentials.issue_ptc1(claims(issued_at=NOW + 301), ISSUER)) == "not_yet_valid"
    assert verdict(credentials.issue_ptc1(claims(issued_at=NOW + 300), ISSUER)) == "valid"
    assert verdict(card, require_device_binding=True) == "static_not_allowed"
    presented = credentials.encode_ptp1(credentials.parse_credential(card).card_bytes, NOW, PHONE)
    assert verdict(presented, require_device_binding=True) == "valid"


def test_precedence_when_several_apply() -> None:
    old = claims(expires_at=NOW - 1, issued_at=NOW + 999)
    card = credentials.issue_ptc1(old, ISSUER)
    bytes_ = credentials.parse_credential(card).card_bytes
    stale = credentials.encode_ptp1(bytes_, NOW - 61, PHONE)
    # stale beats unknown_card, revoked, expired...
    assert verdict(stale, None) == "stale_presentation"
    # ...bad signature beats stale.
    wrong_phone = ec.derive_private_key(999, ec.SECP256R1())
    assert verdict(credentials.encode_ptp1(bytes_, NOW - 61, wrong_phone)) == "bad_signature"
    # superseded beats revoked; revoked beats suspended and expired; expired beats not_yet_valid.
    assert verdict(card, "superseded") == "superseded"
    assert verdict(card, "revoked") == "revoked"
    assert verdict(card) == "expired"
    assert verdict(card, require_device_binding=True) == "expired"


def test_standing_from_the_view_and_card_summary() -> None:
    parsed = credentials.parse_credential(credentials.issue_ptc1(claims(version=2), ISSUER))
    assert standing_from_view(parsed, None, None) is None
    assert standing_from_view(parsed, "active", 3) == "superseded"
    assert standing_from_view(parsed, "revoked", 2) == "revoked"
    assert standing_from_view(parsed, "active", 2) == "active"
    assert standing_from_view(parsed, "active", 1) == "active"  # the view lags a reissue
    summary = card_summary(parsed, "valid")
    assert summary is not None and summary["masked_name"] == "张*明"
    assert card_summary(parsed, "bad_signature") is None
    assert card_summary(None, "malformed") is None


@pytest.mark.parametrize("status", ["malformed", "unknown_key"])
def test_decided_early_statuses_pass_through(status: str) -> None:
    assert decide(Checked(status), "active", NOW, Policy()) == status


def test_verified_cards_memo_changes_no_verdict() -> None:
    memo = VerifiedCards(size=2)
    card = credentials.issue_ptc1(claims(), ISSUER)
    policy = Policy()
    assert check_credential(card, keys(), NOW, policy, memo).status is None
    assert memo.parsed(card) is not None  # remembered with the key that verified it
    assert check_credential("\n" + card, keys(), NOW, policy, memo).status is None
    # A key status change still applies to a remembered card.
    assert check_credential(card, keys("compromised"), NOW, policy, memo).status == (
        "key_compromised"
    )
    # Forgeries are never remembered.
    forged = credentials.issue_ptc1(claims(), OTHER)
    forged_kid = b64u(credentials.kid_for(OTHER.public_key().public_bytes_raw()))
    fake = {forged_kid: TrustedKey(forged_kid, RAW, "active")}  # kid names a wrong key
    assert check_credential(forged, fake, NOW, policy, memo).status == "bad_signature"
    assert memo.parsed(forged) is None
    # A presentation of a remembered card still needs its own holder signature and time.
    card_bytes = credentials.parse_credential(card).card_bytes
    wrong_phone = ec.derive_private_key(999, ec.SECP256R1())
    bad = credentials.encode_ptp1(card_bytes, NOW, wrong_phone)
    assert check_credential(bad, keys(), NOW, policy, memo).status == "bad_signature"
    stale = credentials.encode_ptp1(card_bytes, NOW - 61, PHONE)
    assert check_credential(stale, keys(), NOW, policy, memo).status == "stale_presentation"
    assert check_credential(123, keys(), NOW, policy, memo).status == "malformed"  # type: ignore[arg-type]
    # Bounded.
    for i in range(5):
        other = credentials.issue_ptc1(claims(card_id=uuid.UUID(int=10 + i)), ISSUER)
        check_credential(other, keys(), NOW, policy, memo)
    assert memo.parsed(card) is None
