"""Every verdict status of POST /v1/verify, end to end through HTTP, on SQLite and PostgreSQL.

The admin API writes, the projections run in-process, the merchant API reads the views.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cardservice.clock import FrozenClock
from cardservice.domain.actors import Actor
from merchant_api.core import STATUSES
from tests.merchant_support import (
    MerchantEnv,
    build_env,
    forged_under_real_kid,
    ptp1,
    resigned,
    unknown_card_qr,
)

VERDICT_KEYS = {
    "valid",
    "status",
    "card",
    "benefits",
    "not_applicable",
    "presentation",
    "catalog_version",
    "checked_at",
    "verification_id",
    "photo_url",
}
CARD_KEYS = {"card_number", "masked_name", "category", "region", "expires"}


@pytest.fixture
def env(backend: str, tmp_path: Path, clock: FrozenClock) -> Iterator[MerchantEnv]:
    yield from build_env(backend, tmp_path, clock)


def shape(verdict: dict[str, Any]) -> None:
    assert set(verdict) == VERDICT_KEYS
    assert verdict["status"] in STATUSES
    assert verdict["valid"] is (verdict["status"] == "valid")
    if verdict["card"] is not None:
        assert set(verdict["card"]) == CARD_KEYS


def test_valid_static_card_and_contract_shape(env: MerchantEnv) -> None:
    card = env.issue()
    key = env.merchant()
    verdict = env.wait_status(card["qr"], key, "valid")
    shape(verdict)
    assert verdict["presentation"] == "static"
    assert verdict["card"] == {
        "card_number": card["card_number"],
        "masked_name": "张*明",
        "category": "veteran",
        "region": "500112",
        "expires": card["expires"],
    }
    assert verdict["checked_at"].startswith("2026-06-01T02:00:00")
    assert isinstance(verdict["benefits"], list) and isinstance(verdict["catalog_version"], dict)
    # A scanner's surrounding whitespace is ignored.
    assert env.verify(f"\n {card['qr']}\r\n", key).json()["status"] == "valid"


def test_malformed_and_unreadable_text_are_verdicts(env: MerchantEnv) -> None:
    key = env.merchant()
    card = env.issue()
    for text in [
        "",
        "junk",
        "PTC1:",
        "PTC1:!!!",
        card["qr"][:-3],
        "PTP1:" + card["qr"][5:],
        "x" * 5000,
        card["qr"].lower(),
    ]:
        resp = env.verify(text, key)
        assert resp.status_code == 200, text
        verdict = resp.json()
        shape(verdict)
        assert verdict["status"] == "malformed" and verdict["card"] is None
        assert verdict["presentation"] is None


def test_unknown_key_and_bad_signature(env: MerchantEnv) -> None:
    key = env.merchant()
    card = env.issue()
    env.wait_status(card["qr"], key, "valid")
    other = env.verify(resigned(card["qr"]), key).json()
    assert other["status"] == "unknown_key" and other["card"] is None
    forged = env.verify(forged_under_real_kid(card["qr"]), key).json()
    assert forged["status"] == "bad_signature" and forged["card"] is None


def test_key_compromised(env: MerchantEnv) -> None:
    key = env.merchant()
    card = env.issue()
    env.wait_status(card["qr"], key, "valid")
    kid = env.svc.ledger.active_kid()
    env.svc.ledger.compromise_key(kid, "leaked", Actor.system("test"))
    verdict = env.wait_status(card["qr"], key, "key_compromised")
    assert verdict["card"] is None
    # The holder's page re-signs under the new key; that QR is valid again.
    fresh = env.client.get(
        f"/v1/cards/{card['card_id']}", headers={"Authorization": f"Bearer {card['holder_token']}"}
    ).json()["qr"]
    assert fresh != card["qr"]
    env.wait_status(fresh, key, "valid")
    # ...and the old one, although its key is compromised, stays refused first for that.
    assert env.verify(card["qr"], key).json()["status"] == "key_compromised"


def test_unknown_card(env: MerchantEnv) -> None:
    key = env.merchant()
    env.wait_status(env.issue()["qr"], key, "valid")  # the issuer key is projected
    verdict = env.verify(unknown_card_qr(env), key).json()
    assert verdict["status"] == "unknown_card" and verdict["card"]["masked_name"] == "李*四"


def test_suspended_reinstated_revoked(env: MerchantEnv) -> None:
    key = env.merchant()
    card = env.issue()
    env.wait_status(card["qr"], key, "valid")
    env.action(card, "suspend")
    assert env.wait_status(card["qr"], key, "suspended")["card"] is not None
    env.action(card, "reinstate")
    env.wait_status(card["qr"], key, "valid")
    env.action(card, "revoke")
    verdict = env.wait_status(card["qr"], key, "revoked")
    assert verdict["valid"] is False and verdict["benefits"] == []


def test_device_binding_presentation_stale_superseded(env: MerchantEnv) -> None:
    key = env.merchant()
    card = env.issue()
    env.wait_status(card["qr"], key, "valid")
    bound = env.bind(card)
    # The earlier version (an old screenshot) is superseded once the reissue is projected.
    env.wait_status(card["qr"], key, "superseded")
    # A bound card counts only as a live presentation: its static code is refused even at a
    # merchant that does not require binding.
    env.wait_status(bound, key, "static_not_allowed")
    now = env.now()
    fresh = env.verify(ptp1(bound, now - 60), key).json()
    assert fresh["status"] == "valid" and fresh["presentation"] == "device_bound"
    assert env.verify(ptp1(bound, now + 60), key).json()["status"] == "valid"
    stale = env.verify(ptp1(bound, now - 61), key).json()
    assert stale["status"] == "stale_presentation" and stale["presentation"] == "device_bound"
    assert env.verify(ptp1(bound, now + 61), key).json()["status"] == "stale_presentation"
    # A presentation signed by another phone: bad_signature (before staleness).
    from tests.merchant_support import OTHER_PHONE

    assert env.verify(ptp1(bound, now, OTHER_PHONE), key).json()["status"] == "bad_signature"
    assert env.verify(ptp1(bound, now - 3600, OTHER_PHONE), key).json()["status"] == (
        "bad_signature"
    )
    # A presentation of the superseded (unbound) card has no cnf to check it against.
    assert env.verify(ptp1(card["qr"], now), key).json()["status"] == "malformed"
    # Revocation wins over a fresh presentation.
    env.action(card, "revoke")
    env.wait_status(ptp1(bound, env.now()), key, "revoked")


def test_the_card_inside_a_presentation_reencoded_as_static_is_refused_everywhere(
    env: MerchantEnv,
) -> None:
    """A photo of the holder's phone: the PTC1 inside a live PTP1, re-encoded as a static
    code, is static_not_allowed at every merchant, whatever its binding policy."""
    from cardservice import credentials

    relaxed = env.merchant()
    strict = env.merchant(require_device_binding=True, kind="scenic_site", a_level=5)
    card = env.issue()
    bound = env.bind(card)
    presentation = ptp1(bound, env.now())
    env.wait_status(presentation, relaxed, "valid")
    lifted = credentials.encode_ptc1(credentials.parse_credential(presentation).card_bytes)
    for merchant in (relaxed, strict):
        verdict = env.verify(lifted, merchant).json()
        assert verdict["status"] == "static_not_allowed" and verdict["valid"] is False
        assert verdict["presentation"] == "static" and verdict["benefits"] == []
    assert env.verify(presentation, strict).json()["status"] == "valid"


def test_static_not_allowed_where_binding_is_required(env: MerchantEnv) -> None:
    strict = env.merchant(require_device_binding=True, kind="scenic_site", a_level=5)
    card = env.issue()
    env.wait_status(card["qr"], strict, "static_not_allowed")
    bound = env.bind(card)
    env.wait_status(bound, strict, "static_not_allowed")  # bound, but shown as static
    assert env.verify(ptp1(bound, env.now()), strict).json()["status"] == "valid"


def test_expired_and_not_yet_valid(env: MerchantEnv) -> None:
    key = env.merchant()
    card = env.issue(valid_years=1)
    env.wait_status(card["qr"], key, "valid")
    start = env.clock.now()
    assert card["expires"] == "2027-06-01"
    env.clock.set(start + timedelta(days=365, hours=13))  # 2027-06-01 23:00 in Shanghai
    assert env.verify(card["qr"], key).json()["status"] == "valid"  # the last day still counts
    env.clock.set(start + timedelta(days=365, hours=14))  # 2027-06-02 00:00 in Shanghai
    expired = env.verify(card["qr"], key).json()
    assert expired["status"] == "expired" and expired["card"]["expires"] == card["expires"]
    # A card whose iat lies beyond the clock-skew tolerance.
    env.clock.set(start - timedelta(seconds=301))
    assert env.verify(card["qr"], key).json()["status"] == "not_yet_valid"
    env.clock.set(start - timedelta(seconds=300))
    assert env.verify(card["qr"], key).json()["status"] == "valid"


def test_precedence_revoked_beats_expired_and_superseded_beats_revoked(env: MerchantEnv) -> None:
    key = env.merchant()
    card = env.issue(valid_years=1)
    bound = env.bind(card)
    env.action(card, "revoke")
    env.wait_status(bound, key, "revoked")
    env.clock.advance(timedelta(days=800))
    assert env.verify(bound, key).json()["status"] == "revoked"
    assert env.verify(card["qr"], key).json()["status"] == "superseded"
