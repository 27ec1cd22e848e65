"""Hostile input: tampering never verifies, anything unreadable is MalformedCredential.

Forged cards are built here with plain cbor2 and correctly signed with the real issuer key,
so each refusal is the parser's strictness, not a signature failure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cardservice import credentials as cred
from cardservice.credentials import _base45, _cbor
from cardservice.credentials._base45 import ALPHABET
from tests.unit.test_credentials import (
    DEVICE,
    IAT,
    ISSUER,
    ISSUER_RAW,
    bound_claims,
    make_claims,
    verified,
)

KID = cred.kid_for(ISSUER_RAW)
STATIC_CARD = cred.sign_card(make_claims(), ISSUER)
BOUND_CARD = cred.sign_card(bound_claims(), ISSUER)
STATIC_TEXT = cred.encode_ptc1(STATIC_CARD)
PTP1_TEXT = cred.encode_ptp1(BOUND_CARD, IAT, DEVICE)
PTP1_BYTES = _base45.b45decode(PTP1_TEXT[5:])


def outcome(text: str) -> str:
    """'verified', 'rejected' (parsed, signature fails) or 'malformed'; nothing else may happen."""
    try:
        cred.parse_credential(text)
    except cred.MalformedCredential:
        return "malformed"
    return "verified" if verified(text) else "rejected"


def card_outcome(card: bytes) -> str:
    try:
        parsed = cred.parse_card(card)
    except cred.MalformedCredential:
        return "malformed"
    return "verified" if cred.verify_issuer_signature(parsed, ISSUER_RAW) else "rejected"


def payload_dict() -> dict[Any, Any]:
    """The typical card's payload as plain Python, built independently of the encoder."""
    claims = make_claims()
    return {
        1: claims.issuer_region,
        4: claims.expires_at,
        6: claims.issued_at,
        7: claims.card_id.bytes,
        "ptc": {
            "n": claims.card_number,
            "c": claims.category,
            "r": claims.region,
            "m": claims.masked_name,
            "v": claims.version,
            "s": claims.status_index,
        },
    }


def forge(
    payload: object,
    *,
    protected: object = None,
    unprotected: object = None,
    tag: int = 18,
    signature: bytes | None = None,
) -> bytes:
    """A COSE_Sign1 with a real issuer signature over whatever we put in it."""
    prot = cbor2.dumps({1: -8, 4: KID}) if protected is None else protected
    prot_bytes = prot if isinstance(prot, bytes) else cbor2.dumps(prot)
    body = payload if isinstance(payload, bytes) else cbor2.dumps(payload)
    sig = ISSUER.sign(cbor2.dumps(["Signature1", prot_bytes, b"", body]))
    parts = [prot_bytes, {} if unprotected is None else unprotected, body, signature or sig]
    return cbor2.dumps(cbor2.CBORTag(tag, parts))


def ptc1(card: bytes) -> str:
    return cred.encode_ptc1(card)


def test_the_forge_baseline_verifies() -> None:
    card = forge(payload_dict())
    assert card_outcome(card) == "verified"
    # Canonically ordered, the independently built card is byte-for-byte the encoder's.
    assert forge(cbor2.dumps(payload_dict(), canonical=True)) == STATIC_CARD


# --- single-byte and single-character tampering --------------------------------------------


@pytest.mark.parametrize("card", [STATIC_CARD, BOUND_CARD], ids=["static", "bound"])
def test_every_single_byte_change_of_the_cose_bytes_fails(card: bytes) -> None:
    for i in range(len(card)):
        for mask in (0x01, 0x02, 0x10, 0x80, 0xFF):
            tampered = bytearray(card)
            tampered[i] ^= mask
            assert card_outcome(bytes(tampered)) != "verified", (i, mask)
            assert outcome(ptc1(bytes(tampered))) != "verified", (i, mask)


def test_every_single_byte_change_of_a_presentation_fails() -> None:
    for i in range(len(PTP1_BYTES)):
        for mask in (0x01, 0x80):
            tampered = bytearray(PTP1_BYTES)
            tampered[i] ^= mask
            assert outcome("PTP1:" + _base45.b45encode(bytes(tampered))) != "verified", (i, mask)


@pytest.mark.parametrize("text", [STATIC_TEXT, PTP1_TEXT], ids=["PTC1", "PTP1"])
def test_every_single_character_change_of_the_qr_text_fails(text: str) -> None:
    assert outcome(text) == "verified"
    for i, ch in enumerate(text):
        k = ALPHABET.find(ch)
        for other in {ALPHABET[(k + 1) % 45], ALPHABET[(k + 22) % 45], ch.lower(), "é"} - {ch}:
            tampered = text[:i] + other + text[i + 1 :]
            assert outcome(tampered) != "verified", (i, other)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_random_single_byte_replacement_fails(data: st.DataObject) -> None:
    card = data.draw(st.sampled_from([STATIC_CARD, BOUND_CARD]))
    i = data.draw(st.integers(0, len(card) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda v: v != card[i]))
    tampered = card[:i] + bytes([value]) + card[i + 1 :]
    assert card_outcome(tampered) != "verified"


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_random_single_character_replacement_fails(data: st.DataObject) -> None:
    text = data.draw(st.sampled_from([STATIC_TEXT, PTP1_TEXT]))
    i = data.draw(st.integers(0, len(text) - 1))
    other = data.draw(st.characters().filter(lambda c: c != text[i]))
    assert outcome(text[:i] + other + text[i + 1 :]) != "verified"


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_random_insertions_and_deletions_fail(data: st.DataObject) -> None:
    card = data.draw(st.sampled_from([STATIC_CARD, BOUND_CARD]))
    i = data.draw(st.integers(0, len(card)))
    if data.draw(st.booleans()) and i < len(card):
        tampered = card[:i] + card[i + 1 :]
    else:
        tampered = card[:i] + data.draw(st.binary(min_size=1, max_size=4)) + card[i:]
    assert card_outcome(tampered) != "verified"


def test_a_signature_from_another_card_fails() -> None:
    other = cbor2.loads(cred.sign_card(make_claims(status_index=99), ISSUER)).value[3]
    assert card_outcome(forge(payload_dict(), signature=other)) == "rejected"


# --- random input never raises anything but MalformedCredential ----------------------------


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=1500))
def test_random_text_is_malformed_or_parsed(text: str) -> None:
    assert outcome(text) in ("malformed", "rejected")


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["PTC1:", "PTP1:"]), st.binary(max_size=900))
def test_random_bytes_behind_either_prefix_are_malformed(prefix: str, data: bytes) -> None:
    assert outcome(prefix + _base45.b45encode(data)) == "malformed"


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["PTC1:", "PTP1:"]), st.text(ALPHABET, max_size=1300))
def test_random_base45_alphabet_text_is_malformed(prefix: str, body: str) -> None:
    assert outcome(prefix + body) == "malformed"


cbor_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=20)
    | st.binary(max_size=70),
    lambda children: (
        st.lists(children, max_size=6)
        | st.dictionaries(st.integers(-30, 30) | st.text(max_size=3), children, max_size=6)
        | st.builds(cbor2.CBORTag, st.sampled_from([0, 1, 2, 18, 24, 28, 29, 37, 258]), children)
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cbor_values)
def test_random_signed_payloads_never_crash(payload: object) -> None:
    try:
        card = forge(payload)
    except (cbor2.CBOREncodeError, ValueError, TypeError):
        assume(False)
    assert card_outcome(card) in ("malformed", "rejected")
    assert outcome(ptc1(card)) in ("malformed", "rejected")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cbor_values, st.sampled_from(["PTC1:", "PTP1:"]))
def test_random_cbor_content_never_crashes(content: object, prefix: str) -> None:
    try:
        raw = cbor2.dumps(content)
    except (cbor2.CBOREncodeError, ValueError, TypeError):
        assume(False)
    assert outcome(prefix + _base45.b45encode(raw)) == "malformed"


@settings(max_examples=200, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "ptc": st.dictionaries(st.sampled_from("ncrmvsx"), cbor_values, max_size=7),
            1: cbor_values,
            4: cbor_values,
            6: cbor_values,
            7: cbor_values,
            8: cbor_values,
        },
    )
)
def test_random_claim_values_never_crash(changes: dict[Any, Any]) -> None:
    payload = {**payload_dict(), **changes}
    try:
        card = forge(payload)
    except (cbor2.CBOREncodeError, ValueError, TypeError):
        assume(False)
    assert card_outcome(card) in ("malformed", "rejected", "verified")


# --- specific refusals ---------------------------------------------------------------------


def _with_ptc(**ptc: object) -> dict[Any, Any]:
    payload = payload_dict()
    payload["ptc"] = {**payload["ptc"], **ptc}
    return payload


def _without(key: object) -> dict[Any, Any]:
    payload = payload_dict()
    del payload[key]
    return payload


COSE_KEY = {1: 2, -1: 1, -2: bytes(32), -3: bytes(32)}

MALFORMED_CARDS: dict[str, Callable[[], bytes]] = {
    "alg ES256 instead of EdDSA": lambda: forge(payload_dict(), protected={1: -7, 4: KID}),
    "alg as text": lambda: forge(payload_dict(), protected={1: "EdDSA", 4: KID}),
    "no kid": lambda: forge(payload_dict(), protected={1: -8}),
    "kid of 7 bytes": lambda: forge(payload_dict(), protected={1: -8, 4: KID[:7]}),
    "extra protected header": lambda: forge(payload_dict(), protected={1: -8, 4: KID, 3: 0}),
    "protected not canonical": lambda: forge(
        payload_dict(), protected=b"\xa2\x04\x48" + KID + b"\x01\x27"
    ),
    "protected trailing byte": lambda: forge(
        payload_dict(), protected=cbor2.dumps({1: -8, 4: KID}) + b"\0"
    ),
    "unprotected not empty": lambda: forge(payload_dict(), unprotected={4: KID}),
    "unprotected an array": lambda: forge(payload_dict(), unprotected=[]),
    "tag 98 (COSE_Sign)": lambda: forge(payload_dict(), tag=98),
    "tag 17 (COSE_Mac0)": lambda: forge(payload_dict(), tag=17),
    "untagged": lambda: cbor2.dumps(cbor2.loads(STATIC_CARD).value),
    "tag nested in tag": lambda: cbor2.dumps(cbor2.CBORTag(18, cbor2.loads(STATIC_CARD))),
    "signature of 63 bytes": lambda: forge(payload_dict(), signature=bytes(63)),
    "signature as text": lambda: cbor2.dumps(
        cbor2.CBORTag(18, [*cbor2.loads(STATIC_CARD).value[:3], "sig"])
    ),
    "array of 5": lambda: cbor2.dumps(cbor2.CBORTag(18, [*cbor2.loads(STATIC_CARD).value, b""])),
    "array head not minimal": lambda: b"\xd2\x98\x04" + STATIC_CARD[2:],
    "indefinite array": lambda: b"\xd2\x9f" + STATIC_CARD[2:] + b"\xff",
    "trailing byte": lambda: STATIC_CARD + b"\x00",
    "trailing second item": lambda: STATIC_CARD + STATIC_CARD,
    "truncated": lambda: STATIC_CARD[:-1],
    "empty": lambda: b"",
    "payload not a map": lambda: forge([1, 2, 3]),
    "payload as text": lambda: forge(cbor2.dumps("payload")),
    "payload trailing byte": lambda: forge(cbor2.dumps(payload_dict()) + b"\x00"),
    "missing iss": lambda: forge(_without(1)),
    "missing exp": lambda: forge(_without(4)),
    "missing cti": lambda: forge(_without(7)),
    "missing ptc": lambda: forge(_without("ptc")),
    "unknown claim": lambda: forge({**payload_dict(), 2: "sub"}),
    "id number smuggled in": lambda: forge({**payload_dict(), "id": "11010519491231002X"}),
    "iss as bytes": lambda: forge({**payload_dict(), 1: b"500112"}),
    "iss not a region": lambda: forge({**payload_dict(), 1: "CN"}),
    "exp as float": lambda: forge({**payload_dict(), 4: 2411481599.0}),
    "exp as bool": lambda: forge({**payload_dict(), 4: True}),
    "exp negative": lambda: forge({**payload_dict(), 4: -1}),
    "exp beyond uint32": lambda: forge({**payload_dict(), 4: 2**32}),
    "exp as a bignum tag": lambda: forge({**payload_dict(), 4: cbor2.CBORTag(2, b"\x01")}),
    "iat as a datetime tag": lambda: forge({**payload_dict(), 6: cbor2.CBORTag(1, IAT)}),
    "cti of 15 bytes": lambda: forge({**payload_dict(), 7: bytes(15)}),
    "cti as a UUID tag": lambda: forge({**payload_dict(), 7: cbor2.CBORTag(37, bytes(16))}),
    "cti as text": lambda: forge({**payload_dict(), 7: "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0"}),
    "ptc status index null": lambda: forge(_with_ptc(s=None)),
    "ptc extra key": lambda: forge(_with_ptc(x=1)),
    "ptc full name": lambda: forge(_with_ptc(m="张三明")),
    "ptc unknown category": lambda: forge(_with_ptc(c="tourist")),
    "ptc category as a map": lambda: forge(_with_ptc(c={"a": 1})),
    "ptc version 0": lambda: forge(_with_ptc(v=0)),
    "ptc version as text": lambda: forge(_with_ptc(v="1")),
    "ptc status index as bool": lambda: forge(_with_ptc(s=False)),
    "ptc bad card number": lambda: forge(_with_ptc(n="50011220260000042X")),
    "ptc region of 5 digits": lambda: forge(_with_ptc(r="50011")),
    "ptc as an array": lambda: forge({**payload_dict(), "ptc": ["n", "c"]}),
    "ptc keys as bytes": lambda: forge(
        {**payload_dict(), "ptc": {k.encode(): v for k, v in payload_dict()["ptc"].items()}}
    ),
    "cnf not a map": lambda: forge({**payload_dict(), 8: [COSE_KEY]}),
    "cnf with kid": lambda: forge({**payload_dict(), 8: {3: b"kid"}}),
    "cnf OKP key": lambda: forge({**payload_dict(), 8: {1: {**COSE_KEY, 1: 1}}}),
    "cnf P-384": lambda: forge({**payload_dict(), 8: {1: {**COSE_KEY, -1: 2}}}),
    "cnf x of 31 bytes": lambda: forge({**payload_dict(), 8: {1: {**COSE_KEY, -2: bytes(31)}}}),
    "cnf compressed y": lambda: forge({**payload_dict(), 8: {1: {**COSE_KEY, -3: True}}}),
    "cnf extra member": lambda: forge({**payload_dict(), 8: {1: {**COSE_KEY, 2: b"kid"}}}),
    "duplicate payload key": lambda: forge(
        cbor2.dumps(payload_dict())[:1].replace(b"\xa5", b"\xa6")
        + cbor2.dumps(payload_dict())[1:]
        + b"\x01\x66500112"
    ),
    "indefinite text in payload": lambda: forge(
        cbor2.dumps(payload_dict()).replace(b"\x66500112", b"\x7f\x63500\x63112\xff", 1)
    ),
    "invalid UTF-8 in payload": lambda: forge(
        cbor2.dumps(payload_dict()).replace(b"\x66500112", b"\x66\xff00112", 1)
    ),
    "shared reference cycle": lambda: forge(bytes.fromhex("d81c81d81d00")),
    "deeply nested payload": lambda: forge(_with_ptc(c=[[[[[[[[[[[["veteran"]]]]]]]]]]]])),
    "deeply nested maps": lambda: forge(_with_ptc(c={1: {1: {1: {1: {1: 1}}}}})),
    "deep nesting beyond the decoder's stack": lambda: forge(b"\x81" * 700 + b"\x01"),
    "payload with 100 items": lambda: forge(list(range(100))),
    "payload with 40 claims": lambda: forge({**payload_dict(), **{i: i for i in range(10, 50)}}),
}


@pytest.mark.parametrize("name", list(MALFORMED_CARDS))
def test_malformed_cards_are_refused(name: str) -> None:
    card = MALFORMED_CARDS[name]()
    with pytest.raises(cred.MalformedCredential):
        cred.parse_card(card)
    assert outcome(ptc1(card)) == "malformed"


@pytest.mark.parametrize("tag", _cbor._BUILTIN_TAGS)
@pytest.mark.parametrize("content", [0, "veteran", b"\x01", [0], {}], ids=repr)
def test_every_built_in_cbor2_tag_is_refused(tag: int, content: object) -> None:
    card = forge(_with_ptc(c=cbor2.CBORTag(tag, content)))
    with pytest.raises(cred.MalformedCredential):
        cred.parse_card(card)


def test_unknown_alg_message_names_the_alg() -> None:
    with pytest.raises(cred.MalformedCredential, match="alg -7"):
        cred.parse_card(MALFORMED_CARDS["alg ES256 instead of EdDSA"]())


MALFORMED_TEXTS: dict[str, str] = {
    "empty": "",
    "only whitespace": " \n\t",
    "prefix only": "PTC1:",
    "lower-case prefix": "ptc1:" + STATIC_TEXT[5:],
    "lower-case base45": "PTC1:" + STATIC_TEXT[5:].lower(),
    "one lower-case letter": STATIC_TEXT[:5] + STATIC_TEXT[5:].replace("A", "a", 1),
    "unknown prefix": "PTC2:" + STATIC_TEXT[5:],
    "no prefix": STATIC_TEXT[5:],
    "URL": "https://example.com/PTC1:" + STATIC_TEXT[5:],
    "inner newline": STATIC_TEXT[:100] + "\n" + STATIC_TEXT[100:],
    "full-width characters": "PTC1:" + "".join(chr(ord(c) + 0xFEE0) for c in STATIC_TEXT[5:20]),
    "dangling character": STATIC_TEXT + "0",
    "group over 0xFFFF": "PTC1:" + ":::" + STATIC_TEXT[5:],
    "final pair over 0xFF": "PTC1:" + "::",
    "card under the PTP1 prefix": "PTP1:" + STATIC_TEXT[5:],
    "presentation under the PTC1 prefix": "PTC1:" + PTP1_TEXT[5:],
    "too long": "PTC1:" + "0" * 1300,
    "far too long": "PTC1:" + "0" * 100_000,
    "NUL": "PTC1:\x00",
    "lone surrogate": "PTC1:\ud800",
}


@pytest.mark.parametrize("name", list(MALFORMED_TEXTS))
def test_malformed_texts_are_refused(name: str) -> None:
    with pytest.raises(cred.MalformedCredential):
        cred.parse_credential(MALFORMED_TEXTS[name])


def test_length_limits() -> None:
    assert cred.MAX_TEXT_LENGTH == 1200
    with pytest.raises(cred.MalformedCredential, match="bytes"):
        cred.parse_credential("PTC1:" + _base45.b45encode(bytes(cred.MAX_DECODED_BYTES + 1)))
    with pytest.raises(cred.MalformedCredential, match="characters"):
        cred.parse_credential("PTC1:" + "0" * (cred.MAX_TEXT_LENGTH - 4))
    # Whitespace around a real credential does not count against the limit.
    assert outcome(" " * 2000 + STATIC_TEXT + "\n" * 2000) == "verified"


def test_non_text_input_is_malformed() -> None:
    for value in (None, b"PTC1:", 5, ["PTC1:"]):
        with pytest.raises(cred.MalformedCredential):
            cred.parse_credential(value)  # type: ignore[arg-type]


def _ptp1(card: object, t: object, sig: object, *, tail: bytes = b"") -> str:
    return "PTP1:" + _base45.b45encode(cbor2.dumps([card, t, sig]) + tail)


def _ptp1_parts() -> tuple[bytes, int, bytes]:
    card, t, sig = cbor2.loads(PTP1_BYTES)
    return card, t, sig


MALFORMED_PRESENTATIONS: dict[str, Callable[[], str]] = {
    "t as float": lambda: _ptp1(BOUND_CARD, float(IAT), _ptp1_parts()[2]),
    "t as bool": lambda: _ptp1(BOUND_CARD, True, _ptp1_parts()[2]),
    "t negative": lambda: _ptp1(BOUND_CARD, -5, _ptp1_parts()[2]),
    "t as datetime tag": lambda: _ptp1(BOUND_CARD, cbor2.CBORTag(1, IAT), _ptp1_parts()[2]),
    "t beyond uint32": lambda: _ptp1(BOUND_CARD, 2**40, _ptp1_parts()[2]),
    "sig of 70 bytes (DER)": lambda: _ptp1(BOUND_CARD, IAT, bytes(70)),
    "card as text": lambda: _ptp1(PTP1_TEXT, IAT, _ptp1_parts()[2]),
    "card decoded, not bytes": lambda: _ptp1(cbor2.loads(BOUND_CARD), IAT, _ptp1_parts()[2]),
    "card malformed": lambda: _ptp1(BOUND_CARD + b"\0", IAT, _ptp1_parts()[2]),
    "array of 2": lambda: "PTP1:" + _base45.b45encode(cbor2.dumps([BOUND_CARD, IAT])),
    "array of 4": lambda: "PTP1:" + _base45.b45encode(cbor2.dumps([*_ptp1_parts(), 0])),
    "a map": lambda: "PTP1:" + _base45.b45encode(cbor2.dumps({"card": BOUND_CARD})),
    "trailing byte": lambda: _ptp1(*_ptp1_parts(), tail=b"\0"),
    "t not minimally encoded": lambda: (
        "PTP1:"
        + _base45.b45encode(
            b"\x83"
            + cbor2.dumps(BOUND_CARD)
            + b"\x1b"
            + IAT.to_bytes(8, "big")
            + cbor2.dumps(_ptp1_parts()[2])
        )
    ),
}


@pytest.mark.parametrize("name", list(MALFORMED_PRESENTATIONS))
def test_malformed_presentations_are_refused(name: str) -> None:
    with pytest.raises(cred.MalformedCredential):
        cred.parse_credential(MALFORMED_PRESENTATIONS[name]())


def test_a_card_whose_cnf_point_is_off_the_curve_never_holder_verifies() -> None:
    payload = {**payload_dict(), 8: {1: COSE_KEY}}  # (0, 0) is not on P-256
    card = forge(payload)
    parsed = cred.parse_credential(cred.encode_ptp1(card, IAT, DEVICE))
    assert cred.verify_issuer_signature(parsed, ISSUER_RAW)
    assert not cred.verify_holder_signature(parsed)


def test_presentation_with_a_replaced_card_fails() -> None:
    """A valid device signature does not carry over to another card (even the same holder's)."""
    other = cred.sign_card(bound_claims(status_index=77), ISSUER)
    _, t, sig = _ptp1_parts()
    parsed = cred.parse_credential(_ptp1(other, t, sig))
    assert cred.verify_issuer_signature(parsed, ISSUER_RAW)
    assert not cred.verify_holder_signature(parsed)
    assert parsed.claims.status_index == 77


# --- decoder bounds, directly --------------------------------------------------------------


def test_depth_limit() -> None:
    assert _cbor.decode(cbor2.dumps([[[["x"]]]]), "t") == (((("x",),),),)
    with pytest.raises(cred.MalformedCredential):
        _cbor.decode(cbor2.dumps([[[[["x"]]]]]), "t")
    # The walker enforces the limit on its own, whatever the decoder let through.
    with pytest.raises(cred.MalformedCredential, match="deeper"):
        _cbor.check_bounds(((((("x",),),),),), "t")
    with pytest.raises(cred.MalformedCredential, match="deeper"):
        _cbor.check_bounds({1: {1: {1: {1: {1: 1}}}}}, "t")


def test_item_limit() -> None:
    most = list(range(_cbor.MAX_ITEMS))
    assert _cbor.decode(cbor2.dumps(most), "t") == tuple(most)
    with pytest.raises(cred.MalformedCredential, match="items"):
        _cbor.decode(cbor2.dumps(list(range(_cbor.MAX_ITEMS + 1))), "t")
    with pytest.raises(cred.MalformedCredential, match="items"):
        _cbor.decode(cbor2.dumps({i: [i] for i in range(30)}), "t")


def test_huge_declared_lengths_are_malformed_not_allocated() -> None:
    for raw in (
        b"\x5b" + b"\xff" * 8,
        b"\x7b\x7f" + b"\xff" * 7,
        b"\x9b\x7f" + b"\xff" * 7,
        b"\xbb\x7f" + b"\xff" * 7,
    ):
        with pytest.raises(cred.MalformedCredential):
            _cbor.decode(raw, "t")


# --- base45 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"AB", "BB8"),
        (b"Hello!!", "%69 VD92EX0"),
        (b"base-45", "UJCLQE7W581"),
        (b"ietf!", "QED8WEX0"),
    ],
)
def test_base45_rfc_9285_examples(data: bytes, text: str) -> None:
    assert _base45.b45encode(data) == text
    assert _base45.b45decode(text) == data


@settings(max_examples=300)
@given(st.binary(max_size=900))
def test_base45_matches_the_reference_package(data: bytes) -> None:
    import base45

    text = _base45.b45encode(data)
    assert text == base45.b45encode(data).decode("ascii")
    assert _base45.b45decode(text) == data


@settings(max_examples=500)
@given(st.text(ALPHABET + "abc\n", max_size=60))
def test_base45_decode_agrees_with_the_reference_on_acceptance(text: str) -> None:
    import base45

    try:
        ours: bytes | None = _base45.b45decode(text)
    except ValueError:
        ours = None
    try:
        theirs: bytes | None = base45.b45decode(text)
    except ValueError:
        theirs = None
    if ours is not None:
        assert theirs == ours
    elif theirs is not None:
        assert text.endswith("\n")  # the reference strips a trailing newline; we do not


def test_sign1_slicing_agrees_with_decoding_on_every_mutation() -> None:
    """The hot path splits canonical COSE_Sign1 bytes by slicing; it must accept exactly
    what decoding and re-framing accepts, with the same parts (every 1-byte change,
    deletion and insertion of a real unbound and a real bound card)."""
    import uuid

    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from cardservice import credentials
    from cardservice.credentials import MalformedCredential, cose
    from cardservice.domain.identity import card_number

    issuer = Ed25519PrivateKey.from_private_bytes(bytes(range(7, 39)))
    phone = ec.derive_private_key(4242, ec.SECP256R1())
    for device in (None, credentials.DeviceKey.from_public_key(phone.public_key())):
        card = credentials.sign_card(
            credentials.CardClaims(
                issuer_region="500112", issued_at=1_780_000_000, expires_at=1_900_000_000,
                card_id=uuid.UUID(int=3), card_number=card_number("500112", 2026, 3),
                category="veteran", region="500112", masked_name="张*明", version=1,
                status_index=3, device_key=device,
            ),
            issuer,
        )  # fmt: skip
        assert cose.parse_sign1(card) == cose.decode_sign1(card)
        variants = [card[:i] + card[i + 1 :] for i in range(len(card))]
        variants += [card[:i] for i in range(len(card))]  # every truncation
        variants += [card[:i] + bytes([b]) + card[i:] for i in range(len(card)) for b in (0, 0x58)]
        variants += [
            card[:i] + bytes([card[i] ^ x]) + card[i + 1 :]
            for i in range(len(card))
            for x in (1, 0x20, 0x80, 0xFF)
        ]
        for data in variants:
            try:
                expected: object = cose.decode_sign1(data)
            except MalformedCredential:
                expected = None
            assert cose._split_canonical(data) == expected, data.hex()


def test_ptp1_slicing_agrees_with_decoding_on_every_mutation() -> None:
    """The same for the PTP1 array [card, t, sig]: slicing accepts exactly what decoding
    and re-framing accepts (times of every head size included)."""
    import uuid

    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from cardservice import credentials
    from cardservice.credentials import MalformedCredential, codec
    from cardservice.domain.identity import card_number

    issuer = Ed25519PrivateKey.from_private_bytes(bytes(range(9, 41)))
    phone = ec.derive_private_key(4343, ec.SECP256R1())
    card = credentials.sign_card(
        credentials.CardClaims(
            issuer_region="500112", issued_at=1_780_000_000, expires_at=1_900_000_000,
            card_id=uuid.UUID(int=4), card_number=card_number("500112", 2026, 4),
            category="veteran", region="500112", masked_name="张*明", version=2,
            status_index=4, device_key=credentials.DeviceKey.from_public_key(phone.public_key()),
        ),
        issuer,
    )  # fmt: skip
    for t in (0, 23, 24, 255, 256, 65_535, 65_536, 1_780_000_000, 2**32 - 1):
        text = credentials.encode_ptp1(card, t, phone)
        raw = credentials.b45decode(text[5:])
        assert codec._split_ptp1(raw) == codec._decode_ptp1(raw)
        variants = [raw[:i] + raw[i + 1 :] for i in range(len(raw))]
        variants += [raw[:i] for i in range(len(raw))]  # every truncation
        variants += [
            raw[:i] + bytes([raw[i] ^ x]) + raw[i + 1 :]
            for i in range(len(raw))
            for x in (1, 0x20, 0x80, 0xFF)
        ]
        variants += [raw + b"\x00", raw[:1] + b"\x59\x00" + raw[2:]]
        for data in variants:
            try:
                expected: object = codec._decode_ptp1(data)
            except MalformedCredential:
                expected = None
            assert codec._split_ptp1(data) == expected, data.hex()
