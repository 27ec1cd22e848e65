"""Forged and mutated QR text: never `valid`, never a 5xx (hypothesis, thousands of cases)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardservice.clock import FrozenClock
from merchant_api.core import Policy, TrustedKey, check_credential, decide
from tests.merchant_support import MerchantEnv, build_env, ptp1

BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
HTTP_EXAMPLES = 1000
CORE_EXAMPLES = 2000


@pytest.fixture
def env(backend: str, tmp_path: Path, clock: FrozenClock) -> Iterator[MerchantEnv]:
    yield from build_env(backend, tmp_path, clock)


@st.composite
def mutations(draw: st.DrawFn, text: str) -> str:
    """Edits of a valid QR text: substitutions, insertions, deletions, truncations,
    swapped or repeated segments, other prefixes."""
    # Lone surrogates cannot be sent at all (JSON over HTTP is UTF-8), so none is drawn.
    chars = st.one_of(
        st.sampled_from(BASE45),
        st.characters(exclude_categories=("Cs",)),
        st.sampled_from("\x00\n\t é"),
    )
    out = list(text)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["sub", "ins", "del", "cut", "swap", "dup", "prefix"]))
        if not out:
            break
        i = draw(st.integers(0, len(out) - 1))
        if kind == "sub":
            out[i] = draw(chars)
        elif kind == "ins":
            out.insert(i, draw(chars))
        elif kind == "del":
            del out[i]
        elif kind == "cut":
            out = out[:i] if draw(st.booleans()) else out[i:]
        elif kind == "swap":
            j = draw(st.integers(0, len(out) - 1))
            out[i], out[j] = out[j], out[i]
        elif kind == "dup":
            j = draw(st.integers(i, min(len(out), i + 40)))
            out[i:i] = out[i:j]
        else:
            out[:5] = list(draw(st.sampled_from(["PTC1:", "PTP1:", "PTC2:", "ptc1:", "", "PTC1"])))
    return "".join(out)


def valid_texts(env: MerchantEnv, key: dict[str, str]) -> list[str]:
    static = env.issue()["qr"]  # unbound: a bound card's static code is never valid
    env.wait_status(static, key, "valid")
    bound = env.bind(env.issue())
    presented = ptp1(bound, env.now())
    env.wait_status(presented, key, "valid")
    return [static, presented]


def test_mutated_text_through_http(env: MerchantEnv) -> None:
    key = env.merchant()
    originals = valid_texts(env, key)
    statuses: dict[str, int] = {}
    started = time.monotonic()

    @settings(
        max_examples=HTTP_EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        original = data.draw(st.sampled_from(originals))
        text = data.draw(mutations(original))
        if text.strip() == original:
            return
        resp = env.verify(text, key)
        assert resp.status_code == 200, (text, resp.text)
        verdict: dict[str, Any] = resp.json()
        assert verdict["status"] != "valid" and verdict["valid"] is False, text
        statuses[verdict["status"]] = statuses.get(verdict["status"], 0) + 1

    check()
    assert time.monotonic() - started < 120
    assert statuses.get("malformed", 0) > 0 and statuses.get("bad_signature", 0) > 0, statuses


def test_mutated_text_through_the_core() -> None:
    """The pure core on many more cases (the same rules, no HTTP, no storage)."""
    import dataclasses
    import uuid

    from cardservice import credentials
    from cardservice.domain.identity import card_number
    from cardservice.security import b64u
    from tests.merchant_support import PHONE, phone_jwk

    issuer = Ed25519PrivateKey.from_private_bytes(bytes(range(100, 132)))
    raw = issuer.public_key().public_bytes_raw()
    kid = b64u(credentials.kid_for(raw))
    now = 1_780_000_000
    claims = credentials.CardClaims(
        issuer_region="500112",
        issued_at=now - 3600,
        expires_at=now + 86400,
        card_id=uuid.UUID(int=7),
        card_number=card_number("500112", 2026, 7),
        category="veteran",
        region="500112",
        masked_name="张*明",
        version=2,
        status_index=9,
        device_key=credentials.DeviceKey.from_jwk(phone_jwk()),
    )
    static = credentials.issue_ptc1(dataclasses.replace(claims, device_key=None), issuer)
    bound = credentials.issue_ptc1(claims, issuer)
    presented = credentials.encode_ptp1(credentials.parse_credential(bound).card_bytes, now, PHONE)
    keys = {kid: TrustedKey(kid, raw, "active")}
    policy = Policy()
    originals = [static, presented]
    for text in originals:
        assert decide(check_credential(text, keys, now, policy), "active", now, policy) == "valid"

    @settings(max_examples=CORE_EXAMPLES, deadline=None, derandomize=True)
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        original = data.draw(st.sampled_from(originals))
        text = data.draw(mutations(original))
        if text.strip() == original:
            return
        checked = check_credential(text, keys, now, policy)
        # Even a card standing "active" in the status source cannot make a mutation valid.
        assert decide(checked, "active", now, policy) != "valid", text

    check()


@given(st.text(max_size=600))
@settings(max_examples=500, deadline=None, derandomize=True)
def test_arbitrary_text_is_a_verdict(text: str) -> None:
    checked = check_credential(text, {}, 1_780_000_000, Policy())
    assert checked.status in {"malformed", "unknown_key"}
