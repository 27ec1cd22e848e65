"""The printed card on both engines: fpdf2 makes it, pdftoppm renders it, zxing decodes the
QR back to the card's PTC1, the Chinese name is real text in a CJK font, the code is at
least 25 mm wide; a card bound to a phone is 409 `card_bound`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.factories import activated, card_body
from tests.merchant_support import phone_jwk

pytestmark = pytest.mark.skipif(
    shutil.which("pdftoppm") is None, reason="poppler-utils missing: run scripts/setup_print.sh"
)
DPI = 200


def issue(client: Any, headers: dict[str, str], seq: int = 1, **kw: Any) -> dict[str, Any]:
    resp = client.post("/v1/admin/cards", json=card_body(seq, **kw), headers=headers)
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


def mint(client: Any, admin: dict[str, str], region: str, role: str) -> dict[str, str]:
    resp = client.post("/v1/admin/tokens", json={"region": region, "role": role}, headers=admin)
    assert resp.status_code == 201, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


def render(pdf: bytes, tmp_path: Path) -> Path:
    source = tmp_path / "card.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", str(DPI), "-png", "-singlefile", str(source), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    return tmp_path / "page.png"


def test_printed_card_decodes_to_the_cards_qr(
    client: Any, admin_headers: dict[str, str], tmp_path: Path
) -> None:
    import zxingcpp
    from PIL import Image

    card = issue(client, admin_headers, name="欧阳建国")
    resp = client.get(f"/v1/admin/cards/{card['card_id']}/card.pdf", headers=admin_headers)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/pdf"
    assert resp.headers["cache-control"] == "no-store"
    assert resp.content.startswith(b"%PDF-")

    page = Image.open(render(resp.content, tmp_path))
    found = zxingcpp.read_barcodes(page)
    assert [b.text for b in found] == [card["qr"]]
    assert found[0].format == zxingcpp.BarcodeFormat.QRCode
    pos = found[0].position
    width_px = max(pos.top_right.x, pos.bottom_right.x) - min(pos.top_left.x, pos.bottom_left.x)
    assert width_px / DPI * 25.4 >= 25, f"QR only {width_px / DPI * 25.4:.1f} mm wide"

    text = subprocess.run(
        ["pdftotext", str(tmp_path / "card.pdf"), "-"], capture_output=True, check=True
    ).stdout.decode()
    assert "欧阳建国" in text and card["card_number"] in text and "退役军人" in text
    fonts = subprocess.run(
        ["pdffonts", str(tmp_path / "card.pdf")], capture_output=True, check=True
    ).stdout.decode()
    assert "WenQuanYi" in fonts or "wqy" in fonts.lower()


def test_refusals(client: Any, admin_headers: dict[str, str]) -> None:
    card = issue(client, admin_headers)
    path = f"/v1/admin/cards/{card['card_id']}/card.pdf"
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401
    holder = {"Authorization": f"Bearer {activated(client, card)['holder_token']}"}
    assert client.get(path, headers=holder).status_code == 401
    elsewhere = mint(client, admin_headers, "110000", "issuer")
    assert client.get(path, headers=elsewhere).status_code == 403
    auditor = mint(client, admin_headers, "500000", "auditor")
    assert client.get(path, headers=auditor).status_code == 403
    assert client.get("/v1/admin/cards/nope/card.pdf", headers=admin_headers).status_code == 404
    unknown = "/v1/admin/cards/00000000-0000-4000-8000-000000000000/card.pdf"
    assert client.get(unknown, headers=admin_headers).status_code == 404

    bound = client.post(
        f"/v1/cards/{card['card_id']}/device-key", json={"jwk": phone_jwk()}, headers=holder
    )
    assert bound.status_code == 200, bound.text
    refused = client.get(path, headers=admin_headers)
    assert refused.status_code == 409 and refused.json()["error"] == "card_bound"

    other = issue(client, admin_headers, seq=2)
    revoke = client.post(
        f"/v1/admin/cards/{other['card_id']}/revoke", json={"reason": "x"}, headers=admin_headers
    )
    assert revoke.status_code == 200
    gone = client.get(f"/v1/admin/cards/{other['card_id']}/card.pdf", headers=admin_headers)
    assert gone.status_code == 409
