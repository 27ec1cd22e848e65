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
DEVICE = credentials.DeviceKey.from_public_key(PHONE.public_key())
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
        "device_key": None,
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
        "unknown_card", "not_issued", "superseded", "revoked", "suspended", "expired",
        "not_yet_valid", "static_not_allowed", "valid",
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
    bound = credentials.issue_ptc1(claims(device_key=DEVICE), ISSUER)
    presented = credentials.encode_ptp1(credentials.parse_credential(bound).card_bytes, NOW, PHONE)
    assert verdict(presented, require_device_binding=True) == "valid"
    assert verdict(presented) == "valid"


def test_a_bound_card_shown_as_a_static_code_is_refused_everywhere() -> None:
    """The PTC1 inside a live PTP1, re-encoded as a static code (a photo of the phone's
    screen), is static_not_allowed at every merchant, binding required or not."""
    bound = credentials.issue_ptc1(claims(device_key=DEVICE), ISSUER)
    presented = credentials.encode_ptp1(credentials.parse_credential(bound).card_bytes, NOW, PHONE)
    inner = credentials.parse_credential(presented).card_bytes
    lifted = credentials.encode_ptc1(inner)
    assert lifted == bound
    assert verdict(lifted) == "static_not_allowed"
    assert verdict(lifted, require_device_binding=True) == "static_not_allowed"
    assert verdict(" " + lifted + "\n") == "static_not_allowed"
    # After the earlier statuses (expired, not_yet_valid win), before valid.
    expired = credentials.issue_ptc1(claims(device_key=DEVICE, expires_at=NOW - 1), ISSUER)
    assert verdict(expired) == "expired"
    early = credentials.issue_ptc1(claims(device_key=DEVICE, issued_at=NOW + 301), ISSUER)
    assert verdict(early) == "not_yet_valid"
    assert verdict(lifted, "revoked") == "revoked"
    # The summary still shows whose card it is (the signature is genuine).
    checked = check_credential(lifted, keys(), NOW, Policy())
    assert card_summary(checked.parsed, "static_not_allowed") is not None


def test_a_presentation_of_an_unbound_card_is_malformed() -> None:
    unbound = credentials.parse_credential(credentials.issue_ptc1(claims(), ISSUER)).card_bytes
    assert verdict(credentials.encode_ptp1(unbound, NOW, PHONE)) == "malformed"


def test_precedence_when_several_apply() -> None:
    old = claims(expires_at=NOW - 1, issued_at=NOW + 999, device_key=DEVICE)
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
    # not_issued comes after unknown_card and before superseded, revoked and the rest.
    assert verdict(card, "not_issued") == "not_issued"


def test_standing_from_the_view_and_card_summary() -> None:
    parsed = credentials.parse_credential(credentials.issue_ptc1(claims(version=2), ISSUER))
    assert standing_from_view(parsed, None, None) is None
    assert standing_from_view(parsed, "active", 3) == "superseded"
    assert standing_from_view(parsed, "revoked", 2) == "revoked"
    assert standing_from_view(parsed, "active", 2) == "active"
    # A version newer than the view's: not known yet (the view lags a reissue).
    assert standing_from_view(parsed, "active", 1) is None
    # The view's digest of the issued bytes: the same bytes are the card, others not_issued.
    issued = parsed.card_digest.hex()
    assert standing_from_view(parsed, "active", 2, issued) == "active"
    assert standing_from_view(parsed, "revoked", 2, issued) == "revoked"
    assert standing_from_view(parsed, "revoked", 2, "00" * 32) == "not_issued"
    assert standing_from_view(parsed, "active", 3, "00" * 32) == "superseded"
    assert standing_from_view(parsed, "active", 2, "") == "active"  # no digest recorded yet
    summary = card_summary(parsed, "valid")
    assert summary is not None and summary["masked_name"] == "张*明"
    assert card_summary(parsed, "bad_signature") is None
    assert card_summary(None, "malformed") is None


@pytest.mark.parametrize("status", ["malformed", "unknown_key"])
def test_decided_early_statuses_pass_through(status: str) -> None:
    assert decide(Checked(status), "active", NOW, Policy()) == status


def test_verified_cards_memo_changes_no_verdict() -> None:
    memo = VerifiedCards(size=2)
    card = credentials.issue_ptc1(claims(device_key=DEVICE), ISSUER)
    policy = Policy()
    assert check_credential(card, keys(), NOW, policy, memo).status is None
    assert memo.card_key(credentials.parse_credential(card).card_bytes) == RAW
    assert check_credential(card, keys(), NOW, policy, memo).status is None
    assert memo.parsed(card) is not None  # remembered once its card verified
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
        check_credential(other, keys(), NOW, policy, memo)
    assert memo.parsed(card) is None


def online(text: str, row: tuple[str, int, str] | None, key_status: str = "active") -> str:
    """The online path: read, look up (row = status, version, digest), trust, decide."""
    from merchant_api.core import check_trust, read_credential

    policy = Policy()
    checked = read_credential(text, keys(key_status))
    digest = row[2] if row is not None else ""
    checked = check_trust(checked, NOW, policy, digest)
    standing = None
    if row is not None and checked.status is None and checked.parsed is not None:
        standing = standing_from_view(checked.parsed, row[0], row[1], digest)
    return decide(checked, standing, NOW, policy)


def test_only_the_issued_bytes_verify_online() -> None:
    genuine = credentials.issue_ptc1(claims(), ISSUER)
    issued = credentials.parse_credential(genuine).card_digest.hex()
    assert issued == credentials.credential_digest(credentials.parse_credential(genuine).card_bytes)
    assert online(genuine, ("active", 1, issued)) == "valid"
    # Minted with the stolen issuer key: correctly signed, same card and version, other bytes.
    changes = ({"masked_name": "李*四"}, {"expires_at": NOW + 9999}, {"category": "martyr_family"})
    for change in changes:
        stolen = credentials.issue_ptc1(claims(**change), ISSUER)
        assert verdict(stolen) == "valid"  # offline (no digest) it is a signed card...
        assert online(stolen, ("active", 1, issued)) == "not_issued"  # ...online it is not
        assert online(stolen, ("revoked", 1, issued)) == "not_issued"  # before revoked
        assert online(stolen, None) == "unknown_card"  # unknown_card comes first
        assert online(stolen, ("active", 2, "ab" * 32)) == "superseded"  # an older version
    # A forged signature is still bad_signature, before any standing.
    raw = credentials.parse_credential(genuine).card_bytes
    forged = credentials.encode_ptc1(raw[:-1] + bytes([raw[-1] ^ 1]))
    assert online(forged, ("active", 1, issued)) == "bad_signature"
    assert online(forged, None) == "bad_signature"
    # The key's status applies to the issued bytes too: key_compromised first.
    assert online(genuine, ("active", 1, issued), "compromised") == "key_compromised"


def test_issued_bytes_skip_the_issuer_signature_check() -> None:
    """A trust entry whose raw key is wrong makes every checked signature fail: the issued
    bytes still verify (their signature is not checked), other bytes do not."""
    from merchant_api.core import check_trust, read_credential

    genuine = credentials.issue_ptc1(claims(device_key=DEVICE), ISSUER)
    card_bytes = credentials.parse_credential(genuine).card_bytes
    issued = credentials.credential_digest(card_bytes)
    wrong = {KID: TrustedKey(KID, OTHER.public_key().public_bytes_raw(), "active")}
    presented = credentials.encode_ptp1(card_bytes, NOW, PHONE)
    policy = Policy()
    assert check_trust(read_credential(presented, wrong), NOW, policy, issued).status is None
    assert check_trust(read_credential(presented, wrong), NOW, policy, "").status == (
        "bad_signature"
    )
    # The holder signature and the freshness are checked all the same.
    stale = credentials.encode_ptp1(card_bytes, NOW - 61, PHONE)
    assert check_trust(read_credential(stale, wrong), NOW, policy, issued).status == (
        "stale_presentation"
    )
    other_phone = credentials.encode_ptp1(card_bytes, NOW, ec.derive_private_key(7, ec.SECP256R1()))
    assert check_trust(read_credential(other_phone, wrong), NOW, policy, issued).status == (
        "bad_signature"
    )
    # The PTP1's inner card must be the issued bytes too.
    minted = credentials.issue_ptc1(claims(device_key=DEVICE, masked_name="王*五"), ISSUER)
    minted_ptp1 = credentials.encode_ptp1(
        credentials.parse_credential(minted).card_bytes, NOW, PHONE
    )
    assert online(minted_ptp1, ("active", 1, issued)) == "not_issued"
    assert online(presented, ("active", 1, issued)) == "valid"
