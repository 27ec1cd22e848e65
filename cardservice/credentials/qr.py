"""QR rendering of credential texts with segno (its own PNG writer: no Pillow).

Error correction M, alphanumeric mode, no error boost: the version (size) then depends on
the text length only, which keeps the contract's "fits 10-M" promise checkable.
"""

from __future__ import annotations

import io
from typing import Any

import segno

ERROR_LEVEL = "M"
MAX_VERSION = 10
"""Contract: a PTC1 text fits version 10-M (311 alphanumeric characters)."""


def _make(text: str) -> Any:
    try:
        qr = segno.make(
            text, error=ERROR_LEVEL, mode="alphanumeric", boost_error=False, micro=False
        )
    except ValueError as exc:  # segno names the mode it would need instead
        raise ValueError(f"not QR alphanumeric text: {exc}") from None
    if qr.mode != "alphanumeric":
        raise ValueError("QR code is not in alphanumeric mode")
    return qr


def qr_version(text: str) -> int:
    """The QR version (1-40) the text needs at level M in alphanumeric mode."""
    version = _make(text).version
    assert isinstance(version, int)
    return version


def render_svg(text: str, scale: int = 4) -> str:
    """A standalone SVG document of the QR code (4-module quiet zone)."""
    out = io.BytesIO()
    _make(text).save(out, kind="svg", scale=scale, xmldecl=False, svgclass=None, lineclass=None)
    return out.getvalue().decode("utf-8")


def render_png(text: str, scale: int = 4) -> bytes:
    """PNG bytes of the QR code (4-module quiet zone)."""
    out = io.BytesIO()
    _make(text).save(out, kind="png", scale=scale)
    return out.getvalue()
