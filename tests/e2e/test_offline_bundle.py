"""GET /v1/offline-bundle and `cardservice verify --bundle --trust QR` (offline verification).

Bundles are signed on the write side (`cardservice.bundles.BundleSigner`, running beside
the projections as `serve` and `worker` run it) and stored; the merchant API serves the
stored bytes. The offline CLI runs as a real subprocess on the real clock, so these tests
set the frozen clock to the real time first (bundles expire 24 h after issue).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cbor2
import pytest

from cardservice import credentials
from cardservice.bundles import BundleSigner
from cardservice.clock import FrozenClock
from cardservice.security import b64u
from merchant_api.bundle import BundleRefused, bundle_etag, open_bundle, pinned_keys
from projections.cards import status_code_at
from tests.merchant_support import FOREIGN_ISSUER, MerchantEnv, build_env, ptp1


@pytest.fixture
def env(backend: str, tmp_path: Path, clock: FrozenClock) -> Iterator[MerchantEnv]:
    clock.set(datetime.now(UTC))
    yield from build_env(backend, tmp_path, clock)


def offline(tmp_path: Path, bundle: bytes, keys: object, qr: str, *extra: str) -> tuple[int, str]:
    bundle_file, keys_file = tmp_path / "bundle.cose", tmp_path / "keys.json"
    bundle_file.write_bytes(bundle)
    keys_file.write_text(json.dumps(keys))
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from cardservice.cli import main; main()",
            "verify",
            "--bundle",
            str(bundle_file),
            "--trust",
            str(keys_file),
            *extra,
            qr,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.returncode, proc.stdout + proc.stderr


def fetch(env: MerchantEnv, key: dict[str, str], etag: str | None = None) -> tuple[int, bytes, str]:
    headers = {**key, **({"If-None-Match": etag} if etag else {})}
    resp = env.client.get("/v1/offline-bundle", headers=headers)
    return resp.status_code, resp.content, resp.headers.get("etag", "")


def first_bundle(env: MerchantEnv, key: dict[str, str]) -> tuple[bytes, str]:
    """Poll until the signer stored the region's first bundle (503 until then)."""
    deadline = time.monotonic() + 20
    while True:
        status, body, etag = fetch(env, key)
        if status == 200:
            return body, etag
        assert status == 503, body
        assert time.monotonic() < deadline, "no bundle was ever signed"
        time.sleep(0.1)


def signer(env: MerchantEnv) -> BundleSigner:
    assert env.background is not None
    return env.background.signer


def wait_bundle_codes(
    env: MerchantEnv, key: dict[str, str], etag: str, codes: dict[int, int]
) -> bytes:
    """Poll until a new bundle's status list shows `codes` (index → code)."""
    deadline = time.monotonic() + 20
    while True:
        status, body, _ = fetch(env, key, etag)
        if status == 200:
            payload = cbor2.loads(credentials.parse_sign1(body).payload)
            bits = zlib.decompress(payload["status_list"])
            if all(status_code_at(bits, i) == c for i, c in codes.items()):
                return body
        assert time.monotonic() < deadline, "the bundle never showed the changes"
        time.sleep(0.2)


def test_bundle_shape_etag_and_offline_verdicts(env: MerchantEnv, tmp_path: Path) -> None:
    key = env.merchant(region="500112", categories=["scenic"])
    card, other = env.issue(), env.issue()
    env.wait_status(card["qr"], key, "valid")
    env.wait_status(other["qr"], key, "valid")
    bundle, etag = first_bundle(env, key)
    bundle = wait_bundle_codes(env, key, '"none"', {card_index(card): 0, card_index(other): 0})
    etag = bundle_etag(bundle)  # the ETag is the hash of the signed bytes
    keys = env.client.get("/v1/keys").json()
    resp = env.client.get("/v1/offline-bundle", headers=key)
    assert resp.headers["content-type"] == "application/cose"
    assert resp.headers["etag"] == etag
    # The merchant's own policy travels beside the bundle, not in it.
    assert json.loads(resp.headers["merchant-policy"]) == {
        "kind": "merchant",
        "categories": ["scenic"],
        "a_level": None,
        "require_device_binding": False,
    }
    # A tagged COSE_Sign1 by the active bundle key, with the contract's payload.
    message = credentials.parse_sign1(bundle)
    active = next(k for k in keys["keys"] if k["status"] == "active" and k["use"] == "bundle")
    assert b64u(message.kid) == active["kid"]
    assert credentials.verify_sign1(message, _raw(active["x"]))
    payload = cbor2.loads(message.payload)
    assert set(payload) == {
        "keys",
        "status_list",
        "catalog",
        "merchant_region",
        "issued_at",
        "expires",
    }
    assert payload["merchant_region"] == "500112"
    assert payload["expires"] - payload["issued_at"] == 24 * 3600
    bits = zlib.decompress(payload["status_list"])
    index = credentials.parse_credential(card["qr"]).claims.status_index
    assert status_code_at(bits, index) == 0
    # Same content → not re-signed → same ETag → 304, though the clock moved.
    env.clock.advance(timedelta(seconds=30))
    assert fetch(env, key, etag)[0] == 304
    assert fetch(env, key, f'W/{etag}, "other"')[0] == 304
    code, out = offline(tmp_path, bundle, keys, card["qr"])
    assert code == 0 and out.startswith("valid"), out
    assert json.loads(out.split("\n", 1)[1])["card"]["card_number"] == card["card_number"]
    code, out = offline(tmp_path, bundle, keys, card["qr"], "--require-device-binding")
    assert code == 1 and "static_not_allowed" in out
    # A revocation, a suspension and a device binding change the content and the ETag.
    env.action(card, "revoke")
    bound = env.bind(other)
    other_index = credentials.parse_credential(other["qr"]).claims.status_index
    fresh = wait_bundle_codes(env, key, etag, {index: 2, other_index: 3})
    code, out = offline(tmp_path, fresh, keys, card["qr"])
    assert code == 1 and "not valid: revoked" in out, out
    code, out = offline(tmp_path, fresh, keys, other["qr"])
    assert code == 1 and "not valid: superseded" in out, out
    code, out = offline(tmp_path, fresh, keys, ptp1(bound, int(time.time())))
    assert code == 0, out
    # The bound card's static code (or the one lifted out of a presentation) is refused
    # offline too, at a merchant that does not require binding.
    code, out = offline(tmp_path, fresh, keys, bound)
    assert code == 1 and "not valid: static_not_allowed" in out, out
    code, out = offline(tmp_path, fresh, keys, "PTC1:NOPE")
    assert code == 1 and "malformed" in out


def card_index(card: dict[str, str]) -> int:
    return credentials.parse_credential(card["qr"]).claims.status_index


def test_refused_bundles(env: MerchantEnv, tmp_path: Path) -> None:
    key = env.merchant()
    card = env.issue()
    env.wait_status(card["qr"], key, "valid")
    first_bundle(env, key)
    bundle = wait_bundle_codes(env, key, '"none"', {card_index(card): 0})
    keys = env.client.get("/v1/keys").json()
    assert offline(tmp_path, bundle, keys, card["qr"])[0] == 0
    # Tampered: one byte of the signed payload changed.
    message = credentials.parse_sign1(bundle)
    at = bundle.index(message.payload) + len(message.payload) // 2
    tampered = bundle[:at] + bytes([bundle[at] ^ 0x01]) + bundle[at + 1 :]
    code, out = offline(tmp_path, tampered, keys, card["qr"])
    assert code == 2 and "bad signature" in out, out
    # Signed by a key the trust file does not pin.
    foreign = {"keys": [_entry(FOREIGN_ISSUER.public_key().public_bytes_raw())]}
    code, out = offline(tmp_path, bundle, foreign, card["qr"])
    assert code == 2 and "unknown signer" in out, out
    # Unreadable bundle, unreadable trust file, a trust entry whose kid lies.
    assert offline(tmp_path, b"\x00garbage", keys, card["qr"])[0] == 2
    assert offline(tmp_path, b"", keys, card["qr"])[0] == 2
    lying = {"keys": [{**keys["keys"][0], "kid": "AAAAAAAAAAA"}]}
    assert offline(tmp_path, bundle, lying, card["qr"])[0] == 2
    assert offline(tmp_path, bundle, ["not", "keys"], card["qr"])[0] == 2
    # Expired: signed more than 24 h ago.
    env.clock.advance(timedelta(hours=-25))
    signer(env).run_once(force=True)
    old = fetch(env, key)[1]
    env.clock.advance(timedelta(hours=25))
    signer(env).run_once(force=True)
    code, out = offline(tmp_path, old, keys, card["qr"])
    assert code == 2 and "expired" in out, out
    # Wrong use: a trust file that calls the bundle key a card key refuses the bundle.
    demoted = {"keys": [{**k, "use": "card"} for k in keys["keys"]]}
    code, out = offline(tmp_path, fetch(env, key)[1], demoted, card["qr"])
    assert code == 2 and "wrong-use signer" in out, out


def test_open_bundle_in_process(env: MerchantEnv) -> None:
    key = env.merchant()
    card = env.issue()
    env.wait_status(card["qr"], key, "valid")
    first_bundle(env, key)
    bundle = wait_bundle_codes(env, key, '"none"', {card_index(card): 0})
    trusted = pinned_keys(env.client.get("/v1/keys").json())
    now = int(env.clock.now().timestamp())
    opened = open_bundle(bundle, trusted, now)
    assert opened.merchant_region == "500112" and opened.keys.keys() == trusted.keys()
    with pytest.raises(BundleRefused, match="expired"):
        open_bundle(bundle, trusted, now + 24 * 3600 + 1)
    with pytest.raises(BundleRefused, match="unknown signer"):
        open_bundle(bundle, {}, now)


def test_the_stored_bundle_is_served_as_stored_and_a_304_rebuilds_nothing(
    env: MerchantEnv,
) -> None:
    """The route reads the stored row: its ETag answers If-None-Match, its bytes the rest.
    Bytes and ETag are changed in the table behind the signer's back (its content digest
    left alone, so it has no reason to re-sign): the route answers exactly what is stored."""
    key = env.merchant()
    bundle, etag = first_bundle(env, key)
    assert etag == bundle_etag(bundle)
    with env.svc.db.transaction() as tx:
        tx.execute(
            "UPDATE offline_bundles SET etag = ?, bundle = ? WHERE region = ?",
            ('"stored-etag"', b"stored bytes", "500112"),
        )
    assert fetch(env, key, '"stored-etag"')[0] == 304
    status, body, served = fetch(env, key, etag)
    assert (status, body, served) == (200, b"stored bytes", '"stored-etag"')
    # The signer, forced, puts a real bundle back.
    signer(env).run_once(force=True)
    status, body, served = fetch(env, key)
    assert status == 200 and served == bundle_etag(body)
    credentials.parse_sign1(body)


def test_a_revocation_reaches_the_stored_bundle_within_five_seconds(env: MerchantEnv) -> None:
    key = env.merchant()
    card = env.issue()
    env.wait_status(card["qr"], key, "valid")
    first_bundle(env, key)
    wait_bundle_codes(env, key, '"none"', {card_index(card): 0})
    started = time.monotonic()
    env.action(card, "revoke")
    wait_bundle_codes(env, key, '"none"', {card_index(card): 2})
    assert time.monotonic() - started < 5.0


def test_bundles_are_re_signed_at_least_every_twelve_hours(env: MerchantEnv) -> None:
    key = env.merchant()
    bundle, etag = first_bundle(env, key)
    issued = cbor2.loads(credentials.parse_sign1(bundle).payload)["issued_at"]
    env.clock.advance(timedelta(hours=12, seconds=1))
    deadline = time.monotonic() + 10
    while (fresh := fetch(env, key, etag))[0] == 304:
        assert time.monotonic() < deadline, "not re-signed after 12 h"
        time.sleep(0.1)
    assert cbor2.loads(credentials.parse_sign1(fresh[1]).payload)["issued_at"] > issued


def test_a_card_signed_by_the_bundle_key_is_an_unknown_key(env: MerchantEnv) -> None:
    """The real bundle key of the write side, signing real claims: online, the verdict is
    unknown_key; offline (the CLI's code) too."""
    from merchant_api.bundle import verify_offline
    from merchant_api.core import Policy

    key = env.merchant()
    card = env.issue()
    env.wait_status(card["qr"], key, "valid")
    bundle = first_bundle(env, key)[0]
    _, bundle_key = env.svc.ledger.bundle_signing_key()
    claims = credentials.parse_credential(card["qr"]).claims
    forged = credentials.issue_ptc1(claims, bundle_key)
    assert env.wait_status(forged, key, "unknown_key")["card"] is None
    opened = open_bundle(bundle, pinned_keys(env.client.get("/v1/keys").json()), env.now())
    assert verify_offline(forged, opened, env.now(), Policy())[0] == "unknown_key"
    # And the write side refuses to sign a card with it at all.
    from cardservice.domain.errors import InvalidTransition

    kid = b64u(credentials.parse_sign1(bundle).kid)
    with pytest.raises(InvalidTransition):
        env.svc.ledger._signing_key(kid)


def test_both_key_lists_give_each_keys_use(env: MerchantEnv) -> None:
    from merchant_api.app import create_app as merchant_app

    key = env.merchant()
    first_bundle(env, key)
    admin = env.client.get("/v1/keys").json()["keys"]
    assert sorted(k["use"] for k in admin if k["status"] == "active") == ["bundle", "card"]
    from fastapi.testclient import TestClient

    with TestClient(merchant_app(env.svc.read)) as alone:
        deadline = time.monotonic() + 10
        by_kid = sorted(admin, key=lambda k: k["kid"])
        while (
            sorted(listed := alone.get("/v1/keys").json()["keys"], key=lambda k: k["kid"]) != by_kid
        ):
            assert time.monotonic() < deadline, listed
            time.sleep(0.05)


def _raw(x: str) -> bytes:
    from cardservice.security import b64u_decode

    return b64u_decode(x)


def _entry(raw: bytes) -> dict[str, object]:
    from cardservice.security import b64u

    return {
        "kid": b64u(credentials.kid_for(raw)),
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64u(raw),
        "use": "bundle",
        "status": "active",
        "not_after": None,
    }
