"""The shared golden vectors (tests/data/offline_vectors.json) against the Python verifier.

The same file is checked by `node --test tests/js/` against the merchant page's modules, so
the page and the server give one verdict for every vector. The CLI `cardservice verify` is
run on the files too (exit codes 0/1/2, with the clock set to the vectors' `now`).
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cardservice.cli import app
from cardservice.credentials import fingerprint
from cardservice.security import b64u_decode
from cardservice.web.policy import policy_with
from merchant_api.bundle import BundleRefused, open_bundle, pinned_keys, verify_offline
from merchant_api.core import Policy
from merchant_api.offline import EXIT_NOT_VALID, EXIT_REFUSED, EXIT_VALID, run
from tests import offline_vectors

VECTORS: dict[str, Any] = json.loads(offline_vectors.PATH.read_text("utf-8"))
NOW: int = VECTORS["now"]
POLICY = Policy(
    clock_skew_seconds=VECTORS["policy"]["clock_skew_seconds"],
    presentation_window_seconds=VECTORS["policy"]["presentation_window_seconds"],
)


def _marks(vector: dict[str, Any]) -> list[Any]:
    reason = vector.get("pending_python")
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []


CREDENTIALS = [pytest.param(v, id=v["name"], marks=_marks(v)) for v in VECTORS["credentials"]]
BUNDLES = [
    pytest.param(name, b, id=name, marks=_marks(b))
    for name, b in VECTORS["bundles"].items()
    if b["trust"] == "pinned"  # the CLI keeps no memory between runs: no vouching chain
]


def bundle_bytes(name: str) -> bytes:
    return base64.b64decode(VECTORS["bundles"][name]["cose"])


def test_the_file_is_what_the_generator_writes() -> None:
    assert offline_vectors.PATH.read_text("utf-8") == offline_vectors.render(), (
        "run `python -m tests.offline_vectors` and commit the file"
    )


def test_policy_in_the_vectors_is_the_servers_default() -> None:
    assert VECTORS["policy"] == policy_with()


def test_fingerprints_are_of_the_keys() -> None:
    for entry in VECTORS["trust"]["keys"]:
        assert VECTORS["fingerprints"][entry["kid"]] == fingerprint(b64u_decode(entry["x"]))
    assert all(len(f) == 39 and f.upper() == f for f in VECTORS["fingerprints"].values())


@pytest.mark.parametrize("vector", CREDENTIALS)
def test_credential_vector_in_the_offline_verifier(vector: dict[str, Any]) -> None:
    bundle = open_bundle(bundle_bytes(vector["bundle"]), pinned_keys(VECTORS["trust"]), NOW)
    status, _ = verify_offline(vector["qr"], bundle, NOW, POLICY)
    assert status == vector["expect"]


@pytest.mark.parametrize(("name", "vector"), BUNDLES)
def test_bundle_vector_opens_or_is_refused(name: str, vector: dict[str, Any]) -> None:
    trusted = pinned_keys(VECTORS["trust"])
    if vector["expect"] == "ok":
        assert open_bundle(bundle_bytes(name), trusted, NOW).signer
    else:
        with pytest.raises(BundleRefused):
            open_bundle(bundle_bytes(name), trusted, NOW)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    trust = tmp_path / "keys.json"
    trust.write_text(json.dumps(VECTORS["trust"]), "utf-8")
    out = {"trust": trust}
    for name in VECTORS["bundles"]:
        path = tmp_path / f"{name}.cose"
        path.write_bytes(bundle_bytes(name))
        out[name] = path
    return out


@pytest.mark.parametrize("vector", CREDENTIALS)
def test_credential_vector_through_the_cli_code(
    vector: dict[str, Any], files: dict[str, Path]
) -> None:
    lines: list[str] = []
    code = run(files[vector["bundle"]], files["trust"], vector["qr"], now=NOW, out=lines.append)
    verdict = json.loads(lines[1])
    assert verdict["status"] == vector["expect"]
    assert code == (EXIT_VALID if vector["expect"] == "valid" else EXIT_NOT_VALID)


@pytest.mark.parametrize(("name", "vector"), BUNDLES)
def test_bundle_vector_through_the_cli_command(
    name: str, vector: dict[str, Any], files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cardservice verify` itself, with only the clock set to the vectors' moment."""
    monkeypatch.setattr(time, "time", lambda: float(NOW))
    qr = VECTORS["credentials"][0]["qr"]
    result = CliRunner().invoke(
        app, ["verify", "--bundle", str(files[name]), "--trust", str(files["trust"]), qr]
    )
    assert result.exit_code == (EXIT_VALID if vector["expect"] == "ok" else EXIT_REFUSED), (
        result.output
    )


def test_a_card_key_signs_no_bundle_and_a_bundle_key_no_card() -> None:
    """Real keys from the vectors: the use decides, whatever the signature says."""
    trusted = pinned_keys(VECTORS["trust"])
    assert sorted(k.use for k in trusted.values()) == ["bundle", "card"]
    with pytest.raises(BundleRefused, match="wrong-use signer"):
        open_bundle(bundle_bytes("signed_by_a_card_key"), trusted, NOW)
    bundle = open_bundle(bundle_bytes("main"), trusted, NOW)
    for name in ("card_signed_by_a_bundle_key", "card_signed_by_a_vouched_bundle_key"):
        qr = next(v["qr"] for v in VECTORS["credentials"] if v["name"] == name)
        assert verify_offline(qr, bundle, NOW, POLICY)[0] == "unknown_key"
    # A trust file from before keys had a use: its keys are card keys, so no bundle opens.
    legacy = {
        "keys": [{k: v for k, v in e.items() if k != "use"} for e in VECTORS["trust"]["keys"]]
    }
    with pytest.raises(BundleRefused, match="wrong-use signer"):
        open_bundle(bundle_bytes("main"), pinned_keys(legacy), NOW)
    odd = {"keys": [{**VECTORS["trust"]["keys"][0], "use": "both"}]}
    with pytest.raises(BundleRefused, match="no known use"):
        pinned_keys(odd)


def test_the_bundle_statuses_win_and_a_pinned_key_keeps_its_use() -> None:
    trusted = pinned_keys(VECTORS["trust"])
    bundle = open_bundle(bundle_bytes("main"), trusted, NOW)
    assert set(trusted) < set(bundle.keys)  # the keys the bundle lists are vouched for
    compromised = [k for k in bundle.keys.values() if k.status == "compromised"]
    assert len(compromised) == 1 and compromised[0].use == "card"


def test_the_merchant_policy_is_not_in_the_signed_payload() -> None:
    import cbor2

    from cardservice import credentials

    payload = cbor2.loads(credentials.parse_sign1(bundle_bytes("main")).payload)
    assert set(payload) == {
        "keys",
        "status_list",
        "catalog",
        "merchant_region",
        "issued_at",
        "expires",
    }
