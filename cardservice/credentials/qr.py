"""QR rendering of credential texts with `qrcode` (PNG through pypng: no Pillow).

Error correction M, alphanumeric mode forced for the whole text: the version (size) then
depends on the text length only, which keeps the contract's "fits 10-M" promise checkable.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import qrcode
import qrcode.constants
import qrcode.image.pure
import qrcode.image.svg
import qrcode.util

MAX_VERSION = 10
"""Contract: a PTC1 text fits version 10-M (311 alphanumeric characters)."""
BORDER = 4
"""The quiet zone, in modules (the QR standard's minimum)."""


class _PixelSvg(qrcode.image.svg.SvgPathImage):  # type: ignore[misc]
    """One path, sized in pixels (qrcode's default unit is millimetres)."""

    def units(self, pixels: int | Decimal, text: bool = True) -> Decimal | str:
        return str(int(pixels)) if text else Decimal(pixels)


def _make(text: str, scale: int = 4, *, matrix: bool = True) -> Any:
    if not text:
        raise ValueError("not QR alphanumeric text: empty")
    try:
        data = qrcode.util.QRData(text.encode("ascii"), mode=qrcode.util.MODE_ALPHA_NUM)
    except (UnicodeEncodeError, TypeError) as exc:  # outside the 45-character alphabet
        raise ValueError(f"not QR alphanumeric text: {exc}") from None
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=scale, border=BORDER
    )
    qr.add_data(data)
    if matrix:
        qr.make(fit=True)
    else:  # the version alone: no mask evaluation (8 full matrices, most of make's time)
        qr.best_fit()
    return qr


def qr_version(text: str) -> int:
    """The QR version (1-40) the text needs at level M in alphanumeric mode."""
    version = _make(text, matrix=False).version
    assert isinstance(version, int)
    return version


def qr_matrix(text: str) -> list[list[bool]]:
    """The module matrix without the quiet zone (True = dark)."""
    qr = _make(text)
    return [list(row) for row in qr.modules]


def render_svg(text: str, scale: int = 4) -> str:
    """A standalone SVG document of the QR code (4-module quiet zone), sized in pixels."""
    image = _make(text, scale).make_image(image_factory=_PixelSvg)
    svg = image.to_string(encoding="unicode")
    assert isinstance(svg, str)
    return svg.removeprefix("<?xml version='1.0' encoding='UTF-8'?>\n")


def render_png(text: str, scale: int = 4) -> bytes:
    """PNG bytes of the QR code (4-module quiet zone), written by pypng."""
    image = _make(text, scale).make_image(image_factory=qrcode.image.pure.PyPNGImage)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()
