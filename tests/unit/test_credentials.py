"""The credential codec against the contract (DESIGN §3): round trips, golden vector, keys.

Real Ed25519 and P-256 keys from fixed seeds. The golden vector pins the exact bytes; it is
rewritten only deliberately:

    .venv/bin/python -m tests.unit.test_credentials --regenerate
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import base45
import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from cardservice import credentials as cred
from cardservice.domain.identity import HOLDER_CATEGORIES, mod11_2_check

GOLDEN_PATH = Path(__file__).resolve().parents[1] / "data" / "credential_golden.json"

ISSUER_SEED = bytes(range(32))
ISSUER = Ed25519PrivateKey.from_private_bytes(ISSUER_SEED)
ISSUER_RAW = ISSUER.public_key().public_bytes_raw()
OTHER_ISSUER = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
OTHER_ISSUER_RAW = OTHER_ISSUER.public_key().public_bytes_raw()
DEVICE_SECRET = 0x5EED_0000_0000_0000_0000_0000_0000_0001
DEVICE = ec.derive_private_key(DEVICE_SECRET, ec.SECP256R1())
OTHER_DEVICE = ec.derive_private_key(0x5EED_0000_0000_0000_0000_0000_0000_0002, ec.SECP256R1())
DEVICE_KEYS = [
    cred.DeviceKey.from_public_key(ec.derive_private_key(s, ec.SECP256R1()).public_key())
    for s in (DEVICE_SECRET, 2, 3, 2**255 - 19)
]
IAT = 1_780_279_200  # 2026-06-01T02:00:00Z, the test clock's start
EXP = 2_411_481_599  # 2046-05-31T15:59:59Z, end of that day in Asia/Shanghai


def number_for(region: str, year: int, seq: int) -> str:
    body = f"{region}{year:04d}{seq:07d}"
    return body + mod11_2_check(body)


def make_claims(**changes: Any) -> cred.CardClaims:
    """A typical card: a veteran in Yubei District, first version."""
    base = cred.CardClaims(
        issuer_region="500112",
        issued_at=IAT,
        expires_at=EXP,
        card_id=uuid.UUID("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0"),
        card_number=number_for("500112", 2026, 42),
        category="veteran",
        region="500112",
        masked_name=cred.mask_name("张三明"),
        version=1,
        status_index=1234,
    )
    return dataclasses.replace(base, **changes)


def bound_claims(**changes: Any) -> cred.CardClaims:
    return make_claims(device_key=cred.DeviceKey.from_public_key(DEVICE.public_key()), **changes)


# --- strategies ---------------------------------------------------------------------------

NAME_CHARS = st.characters(codec="utf-8", exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp", "Zs"))
regions = st.from_regex(r"[0-9]{6}", fullmatch=True)
uint32 = st.integers(0, 2**32 - 1)


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    body = draw(st.from_regex(r"[0-9]{17}", fullmatch=True))
    return body + mod11_2_check(body)


claims_strategy = st.builds(
    cred.CardClaims,
    issuer_region=regions,
    issued_at=uint32,
    expires_at=uint32,
    card_id=st.uuids(),
    card_number=card_numbers(),
    category=st.sampled_from(cred.CATEGORIES),
    region=regions,
    masked_name=st.text(NAME_CHARS, min_size=1, max_size=12).map(cred.mask_name),
    version=st.integers(1, 2**32 - 1),
    status_index=uint32,
    device_key=st.none() | st.sampled_from(DEVICE_KEYS),
)


def verified(text: str, issuer_raw: bytes = ISSUER_RAW) -> bool:
    """The full check a verifier makes on the signatures (freshness aside)."""
    try:
        parsed = cred.parse_credential(text)
    except cred.MalformedCredential:
        return False
    if not cred.verify_issuer_signature(parsed, issuer_raw):
        return False
    return parsed.presentation == "static" or cred.verify_holder_signature(parsed)


# --- round trips --------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(claims_strategy)
def test_round_trip_any_valid_claims(claims: cred.CardClaims) -> None:
    card = cred.sign_card(claims, ISSUER)
    text = cred.encode_ptc1(card)
    parsed = cred.parse_credential(text)
    assert parsed.claims == claims
    assert parsed.card_bytes == card
    assert parsed.presentation == "static"
    assert parsed.presented_at is None and parsed.holder_signature is None
    assert parsed.kid == cred.kid_for(ISSUER_RAW)
    assert cred.verify_issuer_signature(parsed, ISSUER_RAW)
    assert not cred.verify_issuer_signature(parsed, OTHER_ISSUER_RAW)
    assert not cred.verify_holder_signature(parsed)


def test_signing_is_deterministic() -> None:
    assert cred.sign_card(make_claims(), ISSUER) == cred.sign_card(make_claims(), ISSUER)
    assert cred.issue_ptc1(make_claims(), ISSUER) == cred.encode_ptc1(
        cred.sign_card(make_claims(), ISSUER)
    )


def test_surrounding_whitespace_is_ignored() -> None:
    text = cred.issue_ptc1(make_claims(), ISSUER)
    assert verified(f"\n  {text}\r\n\t")
    assert cred.parse_credential(text + "\n").card_bytes == cred.parse_credential(text).card_bytes


def test_base45_text_never_ends_in_a_space() -> None:
    # Why stripping is safe: the last base45 digit of a group is at most 32 ("W") or 5.
    from cardservice.credentials._base45 import b45encode

    for data in [bytes([a, b]) for a in range(256) for b in (0, 255)] + [
        bytes([a]) for a in range(256)
    ]:
        assert not b45encode(data).endswith(" ")


def test_ptp1_round_trip_and_holder_signature() -> None:
    card = cred.sign_card(bound_claims(), ISSUER)
    text = cred.encode_ptp1(card, IAT + 30, DEVICE)
    assert text.startswith("PTP1:")
    parsed = cred.parse_credential(text)
    assert parsed.presentation == "device_bound"
    assert parsed.card_bytes == card
    assert parsed.presented_at == IAT + 30
    assert parsed.holder_signature is not None and len(parsed.holder_signature) == 64
    assert parsed.claims == bound_claims()
    assert cred.verify_issuer_signature(parsed, ISSUER_RAW)
    assert cred.verify_holder_signature(parsed)


def test_holder_signature_is_over_the_contract_message() -> None:
    """sig = ES256 raw r||s over CBOR ["PTP1", SHA-256(card bytes), t], checked by hand."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    card = cred.sign_card(bound_claims(), ISSUER)
    t = IAT + 7
    parsed = cred.parse_credential(cred.encode_ptp1(card, t, DEVICE))
    assert cbor2.loads(cred.b45decode(cred.encode_ptp1(card, t, DEVICE)[5:]))[0] == card
    sig = parsed.holder_signature
    assert sig is not None
    message = cbor2.dumps(["PTP1", hashlib.sha256(card).digest(), t])
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    DEVICE.public_key().verify(der, message, ec.ECDSA(hashes.SHA256()))


def test_holder_signature_fails_for_the_wrong_device_or_time() -> None:
    card = cred.sign_card(bound_claims(), ISSUER)
    other = cred.parse_credential(cred.encode_ptp1(card, IAT, OTHER_DEVICE))
    assert cred.verify_issuer_signature(other, ISSUER_RAW)
    assert not cred.verify_holder_signature(other)
    good = cred.parse_credential(cred.encode_ptp1(card, IAT, DEVICE))
    assert not cred.verify_holder_signature(dataclasses.replace(good, presented_at=IAT + 1))
    zero = dataclasses.replace(good, holder_signature=bytes(64))
    assert not cred.verify_holder_signature(zero)


def test_ptp1_of_an_unbound_card_never_holder_verifies() -> None:
    card = cred.sign_card(make_claims(), ISSUER)
    parsed = cred.parse_credential(cred.encode_ptp1(card, IAT, DEVICE))
    assert parsed.presentation == "device_bound"
    assert cred.verify_issuer_signature(parsed, ISSUER_RAW)
    assert not cred.verify_holder_signature(parsed)


def test_static_bound_card_has_no_holder_signature() -> None:
    parsed = cred.parse_credential(cred.issue_ptc1(bound_claims(), ISSUER))
    assert parsed.claims.device_key is not None
    assert not cred.verify_holder_signature(parsed)


def test_encode_ptp1_refuses_bad_input() -> None:
    card = cred.sign_card(bound_claims(), ISSUER)
    for t in (-1, 2**32, True, 1.5):
        with pytest.raises(ValueError):
            cred.encode_ptp1(card, t, DEVICE)  # type: ignore[arg-type]
    with pytest.raises(cred.InvalidDeviceKey):
        cred.encode_ptp1(card, IAT, ec.generate_private_key(ec.SECP384R1()))


# --- exact contract shape ------------------------------------------------------------------


def test_cose_bytes_have_the_contract_shape() -> None:
    """Decoded with plain cbor2, independently of the package's own framing."""
    card = cred.sign_card(bound_claims(), ISSUER)
    item = cbor2.loads(card)
    assert isinstance(item, cbor2.CBORTag) and item.tag == 18
    protected, unprotected, payload, signature = item.value
    kid = hashlib.sha256(ISSUER_RAW).digest()[:8]
    assert protected == cbor2.dumps({1: -8, 4: kid})
    assert cbor2.loads(protected) == {1: -8, 4: kid}
    assert dict(unprotected) == {}
    ISSUER.public_key().verify(signature, cbor2.dumps(["Signature1", protected, b"", payload]))
    claims = bound_claims()
    assert claims.device_key is not None
    assert cbor2.loads(payload) == {
        1: "500112",
        4: EXP,
        6: IAT,
        7: claims.card_id.bytes,
        8: {1: {1: 2, -1: 1, -2: claims.device_key.x, -3: claims.device_key.y}},
        "ptc": {
            "n": claims.card_number,
            "c": "veteran",
            "r": "500112",
            "m": "张*明",
            "v": 1,
            "s": 1234,
        },
    }
    assert payload == cbor2.dumps(cbor2.loads(payload), canonical=True)
    assert card == cbor2.dumps(item, canonical=True)


def test_no_personal_data_in_the_card() -> None:
    card = cred.sign_card(make_claims(masked_name=cred.mask_name("张三明")), ISSUER)
    assert "张三明".encode() not in card
    payload = cbor2.loads(cbor2.loads(card).value[2])
    assert set(payload) == {1, 4, 6, 7, "ptc"}
    assert set(payload["ptc"]) == {"n", "c", "r", "m", "v", "s"}


def test_kid_is_the_sha256_prefix_of_the_raw_public_key() -> None:
    assert cred.kid_for(ISSUER_RAW) == hashlib.sha256(ISSUER_RAW).digest()[:8]
    assert len(cred.kid_for(ISSUER_RAW)) == 8
    assert cred.kid_for(ISSUER_RAW) != cred.kid_for(OTHER_ISSUER_RAW)
    parsed = cred.parse_credential(cred.issue_ptc1(make_claims(), OTHER_ISSUER))
    assert parsed.kid == cred.kid_for(OTHER_ISSUER_RAW)
    for bad in (b"", ISSUER_RAW[:31], ISSUER_RAW + b"\0"):
        with pytest.raises(ValueError):
            cred.kid_for(bad)


def test_issuer_key_must_match_the_kid() -> None:
    parsed = cred.parse_credential(cred.issue_ptc1(make_claims(), ISSUER))
    assert cred.verify_issuer_signature(parsed, ISSUER_RAW)
    # A right signature under a kid that names another key is still refused.
    relabelled = dataclasses.replace(parsed, kid=cred.kid_for(OTHER_ISSUER_RAW))
    assert not cred.verify_issuer_signature(relabelled, ISSUER_RAW)
    with pytest.raises(ValueError):
        cred.verify_issuer_signature(parsed, ISSUER_RAW[:16])


def test_generic_sign1_for_other_payloads() -> None:
    """The offline bundle is a COSE_Sign1 of the same shape with a large opaque payload."""
    payload = cbor2.dumps({"status_list": bytes(200_000), "issued_at": IAT})
    message = cred.sign1(payload, ISSUER)
    parsed = cred.parse_sign1(message)
    assert parsed.payload == payload and parsed.kid == cred.kid_for(ISSUER_RAW)
    assert cred.verify_sign1(parsed, ISSUER_RAW)
    assert not cred.verify_sign1(parsed, OTHER_ISSUER_RAW)
    assert not cred.verify_sign1(dataclasses.replace(parsed, payload=payload + b"\0"), ISSUER_RAW)


def test_categories_match_the_domain() -> None:
    assert cred.CATEGORIES == HOLDER_CATEGORIES


# --- claims validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"issuer_region": "50011"},
        {"issuer_region": "５００１１２"},  # full-width digits are not a region code
        {"region": "50011a"},
        {"issued_at": -1},
        {"issued_at": True},
        {"expires_at": 2**32},
        {"expires_at": 1.0},
        {"version": 0},
        {"status_index": -1},
        {"status_index": 2**32},
        {"card_number": number_for("500112", 2026, 42)[:-1] + "Y"},
        {"card_number": number_for("500112", 2026, 42)[:17]},
        {"card_number": number_for("500112", 2026, 42)[:17] + "0"},  # wrong check character
        {"category": "tourist"},
        {"masked_name": "张三明"},
        {"masked_name": "张*明明"},
        {"masked_name": "张"},
        {"masked_name": " *明"},
        {"masked_name": "张*\n"},
        {"card_id": "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0"},
        {"device_key": {"kty": "EC"}},
    ],
)
def test_sign_card_refuses_claims_the_parser_would_reject(changes: dict[str, Any]) -> None:
    claims = make_claims(**changes)
    assert cred.validation_problem(claims)
    with pytest.raises(cred.InvalidClaims):
        cred.sign_card(claims, ISSUER)


def test_rare_name_characters_are_accepted() -> None:
    # 生僻字 outside the BMP and in the private use area must still be issuable.
    for name in ("𠀀三𪚥", "\ue000明", "李\U00031350"):
        claims = make_claims(masked_name=cred.mask_name(name))
        assert cred.parse_credential(cred.issue_ptc1(claims, ISSUER)).claims == claims


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三明", "张*明"),
        ("张三", "张*"),
        ("欧阳小明", "欧*明"),
        ("张", "张*"),
        ("  王五  ", "王*"),
        ("阿卜杜拉·买买提", "阿*提"),
        ("𠀀三𪚥", "𠀀*𪚥"),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert cred.mask_name(name) == masked


def test_mask_name_refuses_an_empty_name() -> None:
    for name in ("", "   "):
        with pytest.raises(ValueError):
            cred.mask_name(name)


# --- device keys ---------------------------------------------------------------------------


def test_device_key_jwk_round_trip() -> None:
    key = cred.DeviceKey.from_public_key(DEVICE.public_key())
    jwk = key.to_jwk()
    assert set(jwk) == {"kty", "crv", "x", "y"}
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256"
    assert cred.DeviceKey.from_jwk(jwk) == key
    # What WebCrypto's exportKey("jwk") gives: extra members are fine.
    assert cred.DeviceKey.from_jwk({**jwk, "ext": True, "key_ops": ["verify"]}) == key
    assert key.public_key().public_numbers() == DEVICE.public_key().public_numbers()


@pytest.mark.parametrize(
    "change",
    [
        {"kty": "OKP"},
        {"crv": "P-384"},
        {"crv": None},
        {"x": None},
        {"x": 5},
        {"x": ""},
        {"x": "AAAA"},
        {"x": "A" * 43 + "="},  # padding
        {"x": "A" * 42 + "+/"},  # not the url-safe alphabet
        {"x": "A" * 42 + "B"},  # non-canonical final character (stray bits)
        {"x": "A" * 44},  # 33 bytes
        {"x": "Ａ" * 43},
        {"y": "A" * 43},  # (x, 0) is not on the curve
        {"d": "A" * 43},  # a private key must never be sent
    ],
)
def test_device_key_from_jwk_refuses(change: dict[str, object]) -> None:
    jwk: dict[str, object] = dict(cred.DeviceKey.from_public_key(DEVICE.public_key()).to_jwk())
    jwk.update(change)
    with pytest.raises(cred.InvalidDeviceKey):
        cred.DeviceKey.from_jwk(jwk)


def test_device_key_from_jwk_refuses_non_objects() -> None:
    values: list[object] = [None, [], "jwk"]
    for value in values:
        with pytest.raises(cred.InvalidDeviceKey):
            cred.DeviceKey.from_jwk(value)  # type: ignore[arg-type]
    assert issubclass(cred.InvalidDeviceKey, cred.CredentialError)


def test_device_key_lengths_are_checked() -> None:
    with pytest.raises(cred.InvalidDeviceKey):
        cred.DeviceKey(bytes(31), bytes(32))
    with pytest.raises(cred.InvalidDeviceKey):
        cred.DeviceKey(bytearray(32), bytes(32))  # type: ignore[arg-type]
    with pytest.raises(cred.InvalidDeviceKey):
        cred.DeviceKey(bytes(32), bytes(32)).public_key()


# --- QR ------------------------------------------------------------------------------------

ALL_CATEGORY_WORST_CASES = [
    make_claims(
        category=category,
        masked_name=cred.mask_name(name),
        version=255,
        status_index=2**32 - 1,
        issued_at=2**32 - 1,
        expires_at=2**32 - 1,
    )
    for category in cred.CATEGORIES
    for name in ("欧阳𠀀𠀀𠀀𠀀𠀀𠀀𠀀𠀀𠀀𠀀𠀀𠀀𠀀𠀀𠀀𠀀𠀀𠀀𠀀𠀀𠀀𠀀𪚥", "张三明", "Aleksandr")
]


def test_typical_qr_versions() -> None:
    """Measured: unbound PTC1 10-M, bound PTC1 12-M, PTP1 14-M (alphanumeric, no boost)."""
    static = cred.issue_ptc1(make_claims(), ISSUER)
    bound = cred.issue_ptc1(bound_claims(), ISSUER)
    presented = cred.encode_ptp1(cred.sign_card(bound_claims(), ISSUER), IAT, DEVICE)
    assert (len(static), cred.qr_version(static)) == (286, 10)
    assert (len(bound), cred.qr_version(bound)) == (403, 12)
    assert (len(presented), cred.qr_version(presented)) == (515, 14)


@pytest.mark.parametrize("claims", ALL_CATEGORY_WORST_CASES, ids=lambda c: c.category)
def test_unbound_card_fits_version_10_m_for_every_category_and_name(
    claims: cred.CardClaims,
) -> None:
    # Longest category, astral-plane name characters, 32-bit counters and times, v < 256:
    # the worst case (illness_death_family, 欧*𪚥) is exactly 311 characters.
    text = cred.issue_ptc1(claims, ISSUER)
    assert len(text) <= 311
    assert cred.qr_version(text) <= 10


def test_worst_case_is_exactly_at_the_limit() -> None:
    assert max(len(cred.issue_ptc1(c, ISSUER)) for c in ALL_CATEGORY_WORST_CASES) == 311


def test_bound_card_and_presentation_sizes_are_bounded() -> None:
    """A cnf key adds ~117 characters: a bound card cannot fit 10-M (see the report)."""
    for claims in ALL_CATEGORY_WORST_CASES:
        bound = dataclasses.replace(claims, device_key=DEVICE_KEYS[0])
        card = cred.sign_card(bound, ISSUER)
        assert cred.qr_version(cred.encode_ptc1(card)) <= 13
        presented = cred.encode_ptp1(card, 2**32 - 1, DEVICE)
        assert len(presented) <= 545 and cred.qr_version(presented) <= 15


def test_render_svg_and_png() -> None:
    text = cred.issue_ptc1(make_claims(), ISSUER)
    svg = cred.render_svg(text, scale=3)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    size = (10 * 4 + 17 + 2 * 4) * 3  # version 10: 57 modules, a 4-module quiet zone
    assert f'width="{size}"' in svg and f'height="{size}"' in svg
    png = cred.render_png(text)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    # segno's own PNG writer: rendering loads no Pillow (the printed card's PDF library may
    # have loaded it in this process, so look in a fresh one).
    probe = (
        "import sys; from cardservice import credentials as c; "
        "c.render_png('PTC1:ABC'); assert 'PIL' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=60)


def test_qr_refuses_text_outside_the_alphanumeric_set() -> None:
    for text in ("ptc1:abc", "PTC1:ÄB", "PTC1:{}"):
        with pytest.raises(ValueError):
            cred.qr_version(text)
        with pytest.raises(ValueError):
            cred.render_svg(text)


# --- golden vector -------------------------------------------------------------------------


def golden_vector() -> dict[str, Any]:
    """Everything the golden file pins, recomputed from the fixed seeds and claims."""
    static = make_claims()
    bound = bound_claims(version=2, status_index=1235)
    static_card = cred.sign_card(static, ISSUER)
    bound_card = cred.sign_card(bound, ISSUER)
    assert bound.device_key is not None
    return {
        "issuer_seed_hex": ISSUER_SEED.hex(),
        "issuer_public_hex": ISSUER_RAW.hex(),
        "kid_hex": cred.kid_for(ISSUER_RAW).hex(),
        "claims": {
            "issuer_region": static.issuer_region,
            "issued_at": static.issued_at,
            "expires_at": static.expires_at,
            "card_id": str(static.card_id),
            "card_number": static.card_number,
            "category": static.category,
            "region": static.region,
            "masked_name": static.masked_name,
            "version": static.version,
            "status_index": static.status_index,
        },
        "cose_hex": static_card.hex(),
        "qr": cred.encode_ptc1(static_card),
        "bound": {
            "device_secret": hex(DEVICE_SECRET),
            "jwk": bound.device_key.to_jwk(),
            "version": bound.version,
            "status_index": bound.status_index,
            "cose_hex": bound_card.hex(),
            "qr": cred.encode_ptc1(bound_card),
        },
    }


def golden_presentation(bound_card: bytes) -> dict[str, Any]:
    """ES256 signatures are randomised: the PTP1 example is pinned as text, checked by reading."""
    t = IAT + 15
    return {"t": t, "qr": cred.encode_ptp1(bound_card, t, DEVICE)}


def write_golden() -> None:
    vector = golden_vector()
    vector["ptp1"] = golden_presentation(bytes.fromhex(vector["bound"]["cose_hex"]))
    GOLDEN_PATH.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN_PATH.write_text(json.dumps(vector, ensure_ascii=False, indent=2) + "\n", "utf-8")


def load_golden() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GOLDEN_PATH.read_text("utf-8"))
    return data


def test_golden_vector_is_reproduced_exactly() -> None:
    golden = load_golden()
    ptp1 = golden.pop("ptp1")
    assert golden_vector() == golden
    reference = base45.b45encode(bytes.fromhex(golden["cose_hex"])).decode("ascii")
    assert golden["qr"] == "PTC1:" + reference
    # The stored PTP1 (randomised signature) still reads and verifies against the same card.
    parsed = cred.parse_credential(ptp1["qr"])
    assert parsed.card_bytes.hex() == golden["bound"]["cose_hex"]
    assert parsed.presented_at == ptp1["t"]
    assert cred.verify_issuer_signature(parsed, bytes.fromhex(golden["issuer_public_hex"]))
    assert cred.verify_holder_signature(parsed)


def test_golden_vector_reads_back() -> None:
    golden = load_golden()
    parsed = cred.parse_credential(golden["qr"])
    assert parsed.card_bytes.hex() == golden["cose_hex"]
    assert parsed.kid.hex() == golden["kid_hex"]
    claims = dict(golden["claims"], card_id=uuid.UUID(golden["claims"]["card_id"]))
    assert parsed.claims == cred.CardClaims(**claims)
    assert cred.verify_issuer_signature(parsed, bytes.fromhex(golden["issuer_public_hex"]))
    bound = cred.parse_credential(golden["bound"]["qr"])
    assert bound.claims.device_key == cred.DeviceKey.from_jwk(golden["bound"]["jwk"])


if __name__ == "__main__":
    if sys.argv[1:] != ["--regenerate"]:
        sys.exit("refusing: pass --regenerate to rewrite " + str(GOLDEN_PATH))
    write_golden()
    print("wrote", GOLDEN_PATH)
