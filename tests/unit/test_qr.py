"""QR images made with `qrcode` (+ pypng), read back by an independent decoder (ZXing-C++)."""

from __future__ import annotations

import re
import subprocess
import sys

import png
import pytest
import zxingcpp

from cardservice import credentials as cred
from cardservice.credentials import qr
from tests.unit.test_credentials import ALL_CATEGORY_WORST_CASES, ISSUER


def _worst_per_category() -> dict[str, str]:
    """Per category, the longest text of its worst cases (longest names, maximal fields)."""
    worst: dict[str, str] = {}
    for claims in ALL_CATEGORY_WORST_CASES:
        text = cred.issue_ptc1(claims, ISSUER)
        if len(text) > len(worst.get(claims.category, "")):
            worst[claims.category] = text
    return worst


WORST = _worst_per_category()


def _read(grey: bytes, width: int, height: int) -> list[zxingcpp.Result]:
    image = memoryview(grey).cast("B", (height, width))
    return list(zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode))


def decode_png(data: bytes) -> list[zxingcpp.Result]:
    width, height, rows, info = png.Reader(bytes=data).asDirect()
    top = (1 << info["bitdepth"]) - 1
    grey = bytes(255 * v // top for row in rows for v in row[:: info["planes"]])
    return _read(grey, width, height)


_RECT = re.compile(r"M(\d+),(\d+)H(\d+)V(\d+)H\d+z")


def decode_svg(svg: str) -> list[zxingcpp.Result]:
    """Rasterise the SVG's path (axis-aligned rectangles) on white and decode it."""
    size = re.search(r'width="(\d+)" height="(\d+)"', svg)
    assert size is not None
    width, height = int(size.group(1)), int(size.group(2))
    grey = bytearray(b"\xff" * (width * height))
    rects = _RECT.findall(svg)
    assert rects
    for x0, y0, x1, y1 in ((int(v) for v in r) for r in rects):
        for y in range(y0, y1):
            grey[y * width + x0 : y * width + x1] = b"\x00" * (x1 - x0)
    return _read(bytes(grey), width, height)


def test_every_category_has_a_worst_case() -> None:
    assert set(WORST) == set(cred.CATEGORIES)


@pytest.mark.parametrize("category", sorted(WORST))
def test_worst_case_of_each_category_is_version_10_m_and_decodes(category: str) -> None:
    text = WORST[category]
    version = cred.qr_version(text)
    assert version <= qr.MAX_VERSION
    made = qr._make(text)
    assert [d.mode for d in made.data_list] == [qr.qrcode.util.MODE_ALPHA_NUM]
    assert made.error_correction == qr.qrcode.constants.ERROR_CORRECT_M
    for results in (decode_png(cred.render_png(text, scale=2)), decode_svg(cred.render_svg(text))):
        assert [r.text for r in results] == [text]
        assert results[0].extra["ECLevel"] == "M"
        assert int(results[0].extra["Version"]) == version


def test_the_longest_worst_case_is_exactly_version_10() -> None:
    longest = max(WORST.values(), key=len)
    assert len(longest) == 311  # the alphanumeric capacity of 10-M
    assert cred.qr_version(longest) == 10
    assert cred.qr_version(longest + "A") == 11  # one more character no longer fits


def test_sizes_follow_the_scale_with_a_4_module_quiet_zone() -> None:
    text = WORST["veteran"]
    modules = 4 * cred.qr_version(text) + 17
    side = (modules + 2 * qr.BORDER) * 3
    svg = cred.render_svg(text, scale=3)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert f'width="{side}" height="{side}"' in svg
    width, height, _, _ = png.Reader(bytes=cred.render_png(text, scale=3)).read()
    assert (width, height) == (side, side)
    assert len(qr.qr_matrix(text)) == modules


def test_png_and_svg_need_no_pillow() -> None:
    """Pillow made unimportable: both writers still work (pypng writes the PNG)."""
    code = (
        "import sys; sys.modules['PIL'] = None\n"
        "from cardservice import credentials as c\n"
        "t = 'PTC1:' + 'A1' * 150\n"
        "assert c.render_png(t).startswith(b'\\x89PNG')\n"
        "assert c.render_svg(t).startswith('<svg')\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


@pytest.mark.parametrize("text", ["", "ptc1:abc", "PTC1:ÄB", "PTC1:{}", "PTC1:\x00", "PTC1:a"])
def test_text_outside_the_alphanumeric_set_is_refused(text: str) -> None:
    for render in (cred.qr_version, cred.render_svg, cred.render_png, qr.qr_matrix):
        with pytest.raises(ValueError):
            render(text)
