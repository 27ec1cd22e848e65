"""The photo at the gate on both engines: uploaded by the bureau (JPEG/PNG by their magic
bytes, at most 100 KiB), sealed with the holder's data key, shown through a valid
verdict's `photo_url` to the same merchant key for 120 s only, printed on card.pdf, never
in a QR or a bundle, and gone with erasure. Unbind reissues a phone-bound card without
its device key and ends the phone's session."""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import time
import zlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import cbor2
import pytest
from PIL import Image

from cardservice import credentials
from cardservice.clock import FrozenClock
from cardservice.domain.actors import Actor
from tests.merchant_support import ADMIN, MerchantEnv, build_env, holder, phone_jwk


@pytest.fixture
def env(backend: str, tmp_path: Path, clock: FrozenClock) -> Iterator[MerchantEnv]:
    yield from build_env(backend, tmp_path, clock)


def image(kind: str = "PNG", size: tuple[int, int] = (60, 80), noise: bool = False) -> bytes:
    picture = Image.new("RGB", size, (200, 120, 40))
    if noise:  # incompressible pixels: a big file
        picture = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    out = io.BytesIO()
    picture.save(out, kind)
    return out.getvalue()


def put(env: MerchantEnv, card: dict[str, Any], data: bytes, ctype: str, **headers: str) -> Any:
    return env.client.put(
        f"/v1/admin/cards/{card['card_id']}/photo",
        content=data,
        headers={**ADMIN, "Content-Type": ctype, **headers},
    )


def mint(env: MerchantEnv, region: str, role: str) -> dict[str, str]:
    resp = env.client.post("/v1/admin/tokens", json={"region": region, "role": role}, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


def test_photo_link_for_the_same_merchant_for_120_seconds(env: MerchantEnv) -> None:
    card, plain = env.issue(), env.issue()
    png = image()
    assert put(env, card, png, "image/png").status_code == 204
    shop, other = env.merchant(), env.merchant()
    verdict = env.wait_status(card["qr"], shop, "valid")
    assert verdict["photo_url"] == f"/v1/photos/{verdict['verification_id']}"
    assert png not in card["qr"].encode()
    got = env.client.get(verdict["photo_url"], headers=shop)
    assert got.status_code == 200 and got.content == png
    assert got.headers["content-type"] == "image/png"
    assert "no-store" in got.headers["cache-control"]
    assert env.client.get(verdict["photo_url"], headers=other).status_code == 404
    assert env.client.get(verdict["photo_url"]).status_code == 401
    assert env.client.get("/v1/photos/not-a-check", headers=shop).status_code == 404
    assert env.wait_status(plain["qr"], shop, "valid")["photo_url"] is None

    env.clock.advance(timedelta(seconds=122))
    assert env.client.get(verdict["photo_url"], headers=shop).status_code == 404

    # A new photo replaces the old; an invalid verdict carries no link.
    jpeg = image("JPEG")
    assert put(env, card, jpeg, "image/jpeg").status_code == 204
    fresh = env.wait_status(card["qr"], shop, "valid")
    assert env.client.get(fresh["photo_url"], headers=shop).content == jpeg
    env.action(card, "suspend")
    assert env.wait_status(card["qr"], shop, "suspended")["photo_url"] is None


def encodings(photo: bytes) -> list[bytes]:
    """The photo's bytes as they could leak: raw, base64 (standard and URL-safe), hex."""
    return [
        photo,
        base64.b64encode(photo),
        base64.urlsafe_b64encode(photo).rstrip(b"="),
        photo.hex().encode(),
    ]


def first_bundle(env: MerchantEnv, key: dict[str, str]) -> bytes:
    """Poll until the signer stored the region's first bundle (503 until then)."""
    deadline = time.monotonic() + 20
    while True:
        resp = env.client.get("/v1/offline-bundle", headers=key)
        if resp.status_code == 200:
            return resp.content
        assert resp.status_code == 503, resp.text
        assert time.monotonic() < deadline, "no bundle was ever signed"
        time.sleep(0.1)


def test_the_photo_is_never_in_a_bundle_or_a_qr(env: MerchantEnv) -> None:
    card = env.issue()
    png = image()
    assert put(env, card, png, "image/png").status_code == 204
    shop = env.merchant()
    assert env.wait_status(card["qr"], shop, "valid")["photo_url"]

    # A QR made after the upload (the phone binds its key: a reissue) carries no photo.
    bound = env.bind(card)
    parsed = credentials.parse_credential(bound)
    claims = cbor2.loads(parsed.payload)
    assert isinstance(claims, dict)
    assert not any("photo" in str(name).lower() for name in claims), claims.keys()
    for leaked in encodings(png):
        assert leaked not in parsed.card_bytes and leaked not in bound.encode()
    static = env.client.get(f"/v1/cards/{card['card_id']}", headers=holder(card))
    assert static.status_code == 200, static.text
    assert png not in static.content and base64.b64encode(png) not in static.content

    # The signed bundle, raw and decoded (its status list is zlib-compressed).
    bundle = first_bundle(env, shop)
    payload = cbor2.loads(credentials.parse_sign1(bundle).payload)
    assert not any("photo" in str(name).lower() for name in payload), payload.keys()
    inflated = zlib.decompress(payload["status_list"])
    for leaked in encodings(png):
        assert leaked not in bundle and leaked not in inflated


def test_photo_refusals(env: MerchantEnv) -> None:
    card = env.issue()
    png = image()
    assert put(env, card, png, "image/gif").status_code == 415
    assert put(env, card, png, "image/jpeg").status_code == 415  # PNG bytes, JPEG label
    assert put(env, card, b"not an image", "image/png").status_code == 415
    assert put(env, card, b"", "image/png").status_code == 415
    assert put(env, card, png, "application/json").status_code == 415
    big = image(size=(200, 200), noise=True)
    assert len(big) > 100 * 1024
    assert put(env, card, big, "image/png").status_code == 413
    path = f"/v1/admin/cards/{card['card_id']}/photo"
    assert (
        env.client.put(path, content=png, headers={"Content-Type": "image/png"}).status_code == 401
    )
    holder_put = {**holder(card), "Content-Type": "image/png"}
    assert env.client.put(path, content=png, headers=holder_put).status_code == 401
    for region, role in (
        ("110000", "issuer"),
        ("500112", "auditor"),
        ("500000", "catalog_manager"),
    ):
        headers = {**mint(env, region, role), "Content-Type": "image/png"}
        assert env.client.put(path, content=png, headers=headers).status_code == 403
    unknown = "/v1/admin/cards/00000000-0000-4000-8000-000000000000/photo"
    assert (
        env.client.put(
            unknown, content=png, headers={**ADMIN, "Content-Type": "image/png"}
        ).status_code
        == 404
    )
    issuer = {**mint(env, "500112", "issuer"), "Content-Type": "image/png"}
    assert env.client.put(path, content=png, headers=issuer).status_code == 204


@pytest.mark.skipif(shutil.which("pdfimages") is None, reason="poppler-utils missing")
def test_printed_card_has_the_photo_and_erasure_removes_it(
    env: MerchantEnv, tmp_path: Path
) -> None:
    card = env.issue()
    assert put(env, card, image(), "image/png").status_code == 204
    pdf = env.client.get(f"/v1/admin/cards/{card['card_id']}/card.pdf", headers=ADMIN)
    assert pdf.status_code == 200
    (tmp_path / "c.pdf").write_bytes(pdf.content)
    listing = subprocess.run(
        ["pdfimages", "-list", str(tmp_path / "c.pdf")], capture_output=True, check=True
    ).stdout.decode()
    assert len(listing.strip().splitlines()) - 2 == 2, listing  # the photo and the QR

    ledger = env.svc.ledger
    holder_id = ledger.card(UUID(card["card_id"])).holder_id
    assert ledger.photo_of(holder_id) is not None
    ledger.erase_holder(
        holder_id, "request", Actor(kind="admin", id="t", role="admin", region="000000")
    )
    assert ledger.photo_of(holder_id) is None
    with env.svc.db.read() as tx:
        assert tx.one("SELECT COUNT(*) FROM photo_view")[0] == 0  # type: ignore[index]
    assert (
        env.client.get(f"/v1/admin/cards/{card['card_id']}/card.pdf", headers=ADMIN).status_code
        == 409
    )


def wait_refused(env: MerchantEnv, path: str, headers: dict[str, str]) -> None:
    """Poll until the read side's session view (it lags the write) refuses the token."""
    deadline = time.monotonic() + 15
    while (status := env.client.get(path, headers=headers).status_code) != 401:
        assert status == 200, status
        assert time.monotonic() < deadline, "the read side still opens the session"
        time.sleep(0.05)


def test_unbind_reissues_without_the_device_key(env: MerchantEnv) -> None:
    card = env.issue()
    path = f"/v1/admin/cards/{card['card_id']}/unbind"
    assert env.client.post(path, json={"reason": "no phone"}, headers=ADMIN).status_code == 409
    bound = env.bind(card)
    shop = env.merchant()
    assert (
        env.client.get(f"/v1/admin/cards/{card['card_id']}/card.pdf", headers=ADMIN).status_code
        == 409
    )
    assert env.client.post(path, json={"reason": "x"}).status_code == 401
    assert (
        env.client.post(
            path, json={"reason": "x"}, headers=mint(env, "110000", "issuer")
        ).status_code
        == 403
    )
    assert env.client.post(path, json={"reason": 5}, headers=ADMIN).status_code == 422
    done = env.client.post(path, json={"reason": "交回手机"}, headers=ADMIN)
    assert done.status_code == 200, done.text
    assert done.json()["device_bound"] is False and done.json()["version"] == 3
    again = env.client.post(path, json={"reason": "交回手机"}, headers=ADMIN)
    assert again.status_code == 409
    # The given-up phone's session ended in the same save: its token shows no QR and
    # cannot bind its key again (that would undo the unbind).
    card_path = f"/v1/cards/{card['card_id']}"
    assert env.client.get(card_path, headers=holder(card)).status_code == 401
    rebind = env.client.post(
        f"{card_path}/device-key", json={"jwk": phone_jwk()}, headers=holder(card)
    )
    assert rebind.status_code == 401, rebind.text
    history = env.client.get(f"/v1/admin/cards/{card['card_id']}", headers=ADMIN).json()
    ended = [h for h in history["history"] if h["type"] == "SessionEnded"]
    assert [h["reason"] for h in ended] == ["card_unbound_from_phone"]
    wait_refused(env, f"{card_path}/verifications", holder(card))  # the read side too
    env.wait_status(bound, shop, "superseded")
    assert (
        env.client.get(f"/v1/admin/cards/{card['card_id']}/card.pdf", headers=ADMIN).status_code
        == 200
    )


def test_the_photo_follows_the_holder_to_a_new_card(env: MerchantEnv) -> None:
    from tests.factories import card_body

    first = env.client.post("/v1/admin/cards", json=card_body(41), headers=ADMIN).json()
    png = image()
    assert put(env, first, png, "image/png").status_code == 204
    body = card_body(41, category="martyr_family")
    second = env.client.post("/v1/admin/cards", json=body, headers=ADMIN)
    assert second.status_code == 201, second.text
    shop = env.merchant()

    def linked() -> Any:
        verdict = env.wait_status(second.json()["qr"], shop, "valid")
        return verdict["photo_url"] and verdict

    end = time.monotonic() + 15
    verdict = linked()
    while not verdict:
        assert time.monotonic() < end, "the new card never got the photo"
        time.sleep(0.05)
        verdict = linked()
    assert env.client.get(verdict["photo_url"], headers=shop).content == png
