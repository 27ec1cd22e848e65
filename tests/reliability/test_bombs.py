"""Bombs: inputs small on the wire that would expand into huge or deep structures are refused
quickly and within a memory bound. The offline bundle's zlib status list (a deflate bomb),
its CBOR payload (huge declared lengths, deep nesting, millions of tiny items), CBOR bombs
inside QR texts, and deeply nested JSON bodies. A bundle must be signed by a pinned key to
get as far as its payload, so these bundles are signed by one (a fixed test seed).
"""

from __future__ import annotations

import json
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cardservice import credentials
from cardservice.security import b64u
from merchant_api import bundle as offline
from merchant_api.core import TrustedKey
from merchant_api.offline import EXIT_REFUSED, run

SIGNER = Ed25519PrivateKey.from_private_bytes(bytes(range(100, 132)))
RAW = SIGNER.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
KID = b64u(credentials.kid_for(RAW))
TRUSTED = {KID: TrustedKey(KID, RAW, "active", "bundle")}
NOW = 1_780_000_000
SECONDS = 3.0  # every refusal below comes well within this, even on a busy machine


def zeros_deflated(size: int) -> bytes:
    """zlib of `size` zero bytes (about 1000:1), made in chunks so the test stays small."""
    packer = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    parts = [packer.compress(chunk) for _ in range(size >> 20)]
    return b"".join([*parts, packer.flush()])


def signed(payload: bytes) -> bytes:
    return credentials.sign1(payload, SIGNER)


def bundle_payload(status_list: bytes, **extra: Any) -> bytes:
    body = {
        "keys": [
            {
                "kid": KID,
                "kty": "OKP",
                "crv": "Ed25519",
                "x": b64u(RAW),
                "use": "bundle",
                "status": "active",
            }
        ],
        "status_list": status_list,
        "catalog": {},
        "merchant_region": "500112",
        "issued_at": NOW - 10,
        "expires": NOW + 3600,
        **extra,
    }
    return cbor2.dumps(body, canonical=True)


def refused_quickly(action: Callable[[], Any], memory_limit: int) -> str:
    """Run `action`, expect BundleRefused, and bound its time and traced peak memory."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(offline.BundleRefused) as refused:
            action()
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < SECONDS, f"took {elapsed:.1f}s"
    assert peak < memory_limit, f"peak {peak / 2**20:.0f} MiB"
    return str(refused.value)


def test_a_genuine_bundle_opens() -> None:
    """The baseline the bombs differ from: the same construction, honest, is accepted."""
    honest = signed(bundle_payload(zlib.compress(bytes(1000))))
    opened = offline.open_bundle(honest, TRUSTED, NOW)
    assert opened.status_list == bytes(1000) and opened.signer == KID


def test_deflate_bomb_in_the_status_list(long_mode: bool) -> None:
    size = (1 << 30) if long_mode else (offline.MAX_STATUS_LIST_BYTES + (8 << 20))
    bomb = zeros_deflated(size)
    assert len(bomb) < size // 500  # small on the wire
    data = signed(bundle_payload(bomb))
    # zlib fills its output buffer up to the limit, then copies it once: twice the limit.
    limit = 2 * offline.MAX_STATUS_LIST_BYTES + (32 << 20)
    message = refused_quickly(lambda: offline.open_bundle(data, TRUSTED, NOW), limit)
    assert "status list" in message


def test_a_status_list_at_the_limit_still_opens() -> None:
    data = signed(bundle_payload(zeros_deflated(4 << 20)))
    assert len(offline.open_bundle(data, TRUSTED, NOW).status_list) == 4 << 20


@pytest.mark.parametrize(
    "name,payload",
    [
        ("deep arrays", b"\x81" * 200_000 + b"\x00"),
        ("deep maps", b"\xa1\x00" * 100_000 + b"\x00"),
        ("deep tags", b"\xd8\x64" * 100_000 + b"\x00"),
        ("array claiming 2**64-1 items", b"\x9b" + b"\xff" * 8),
        ("map claiming 2**32 entries", b"\xba\xff\xff\xff\xff" + b"\x00" * 64),
        ("bstr claiming 2**63 bytes", b"\x5b\x7f" + b"\xff" * 7 + b"\x00" * 64),
        ("indefinite array", b"\x9f" + b"\x00" * 1000 + b"\xff"),
        ("five million tiny items", b"\x9a\x00\x4c\x4b\x40" + b"\x00" * 5_000_000),
    ],
)
def test_cbor_bombs_in_the_bundle_payload(name: str, payload: bytes) -> None:
    data = signed(payload)
    refused_quickly(lambda: offline.open_bundle(data, TRUSTED, NOW), 64 << 20)


def test_the_offline_cli_refuses_a_bomb_with_exit_2(tmp_path: Path) -> None:
    bomb = tmp_path / "bundle.cose"
    bomb.write_bytes(signed(bundle_payload(zeros_deflated(offline.MAX_STATUS_LIST_BYTES * 2))))
    keys = tmp_path / "keys.json"
    keys.write_text(
        json.dumps(
            {
                "keys": [
                    {"kid": KID, "kty": "OKP", "crv": "Ed25519", "x": b64u(RAW), "use": "bundle"}
                ]
            }
        )
    )
    lines: list[str] = []
    started = time.perf_counter()
    code = run(bomb, keys, "PTC1:whatever", now=NOW, out=lines.append)
    assert code == EXIT_REFUSED, lines
    assert time.perf_counter() - started < SECONDS
    assert "bundle refused" in lines[0] and "status list" in lines[0], lines


@pytest.mark.parametrize(
    "raw",
    [
        b"\x81" * 600,  # deep, over the decoded-size limit too
        b"\x81" * 100 + b"\x00",  # deep, within the size limit
        b"\x9b" + b"\xff" * 8,  # array claiming 2**64-1 items
        b"\xd2\x84" + b"\x5a\xff\xff\xff\xff",  # COSE tag around a bstr claiming 4 GiB
        b"\x98\x40" + b"\x00" * 64,  # 64 items: at the limit, but not a card
    ],
)
def test_cbor_bombs_in_a_qr_text_are_malformed(raw: bytes) -> None:
    from merchant_api.core import Policy, check_credential

    for prefix in ("PTC1:", "PTP1:"):
        text = prefix + credentials.b45encode(raw)
        started = time.perf_counter()
        assert check_credential(text, TRUSTED, NOW, Policy()).status == "malformed"
        assert time.perf_counter() - started < 0.1


def test_deeply_nested_json_bodies_are_422_not_5xx(
    client: Any, admin_headers: dict[str, str]
) -> None:
    headers = {**admin_headers, "Content-Type": "application/json"}
    bodies = [
        b"[" * 16000,  # past the parser's recursion limit
        b'{"holder":' + b"[" * 900 + b"]" * 900 + b"}",  # parses, then must not recurse
        b'{"region":"500112","holder":' + b'{"a":' * 2000 + b"1" + b"}" * 2001,
    ]
    for body in bodies:
        resp = client.post("/v1/admin/cards", content=body, headers=headers)
        assert resp.status_code in (413, 422), (resp.status_code, resp.text[:200])
        assert resp.json()["error"] in ("invalid", "payload_too_large")
    deep_ok = b'{"holder":' + b"[" * 900 + b"]" * 900 + b"}"
    assert client.post("/v1/admin/cards", content=deep_ok, headers=headers).status_code == 422
