"""The printed card (`card.pdf`) for a holder without a smartphone, made with fpdf2.

An A6 page, landscape: the full name, category, card number, the photo if there is one, and
the static PTC1 QR 40 mm wide (the contract asks at least 25 mm; a cheap scanner reads a
version-10 code on paper from that size). Chinese text needs a CJK font: the project's
setup (`scripts/setup_print.sh`) installs WenQuanYi Micro Hei, found at the path below or
at `CARDSERVICE_PRINT_FONT`.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from fpdf import FPDF

from cardservice.credentials import render_png

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
)
QR_MM = 40.0
"""Printed width of the QR code, quiet zone included (contract: at least 25 mm)."""
PAGE = (148.0, 105.0)  # A6 landscape, mm


class PrintUnavailable(RuntimeError):
    """No CJK font installed: the service cannot print cards until setup_print.sh ran."""


@dataclass(frozen=True)
class PrintedCard:
    full_name: str
    category: str
    card_number: str
    region_name: str
    expires: str
    qr: str
    photo: bytes | None = None


@cache
def category_labels() -> dict[str, dict[str, str]]:
    """The pages' own category names (zh-CN and en): one place for both."""
    text = resources.files("cardservice.web").joinpath("static/i18n.json").read_text("utf-8")
    data = json.loads(text)
    return {
        lang: {k.removeprefix("category."): v for k, v in d.items() if k.startswith("category.")}
        for lang, d in data.items()
    }


def font_path() -> Path:
    configured = os.environ.get("CARDSERVICE_PRINT_FONT")
    for candidate in ([configured] if configured else []) + list(FONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise PrintUnavailable("no CJK font for printed cards: run scripts/setup_print.sh")


def render_card_pdf(card: PrintedCard) -> bytes:
    pdf = FPDF(orientation="L", unit="mm", format=(PAGE[1], PAGE[0]))
    pdf.set_auto_page_break(False)
    pdf.set_margins(8, 8, 8)
    pdf.add_page()
    pdf.add_font("cjk", fname=str(font_path()))
    pdf.set_title("优待证 " + card.card_number)
    pdf.set_creator("cardservice")
    labels = category_labels()
    zh = labels.get("zh-CN", {}).get(card.category, card.category)
    en = labels.get("en", {}).get(card.category, card.category)

    pdf.set_font("cjk", size=16)
    pdf.set_xy(8, 8)
    pdf.cell(0, 8, "中华人民共和国优待证", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=9)
    pdf.cell(0, 5, "Preferential Treatment Certificate", new_x="LMARGIN", new_y="NEXT")

    text_x, top = 8.0, 26.0
    if card.photo:
        pdf.image(io.BytesIO(card.photo), x=8, y=top, w=26, h=34, keep_aspect_ratio=True)
        text_x = 38.0
    lines = [
        ("姓名 Name", card.full_name, 14),
        ("类别 Category", f"{zh}  {en}", 11),
        ("证号 Card number", card.card_number, 12),
        ("发证地 Issued in", card.region_name, 10),
        ("有效期至 Valid until", card.expires, 10),
    ]
    y = top
    width = PAGE[0] - QR_MM - 12 - text_x
    for label, value, size in lines:
        pdf.set_xy(text_x, y)
        pdf.set_font("cjk", size=7)
        pdf.cell(width, 4, label)
        pdf.set_xy(text_x, y + 4)
        pdf.set_font("cjk", size=size)
        pdf.cell(width, 6, value)
        y += 12

    qr_png = render_png(card.qr, scale=8)
    qr_x, qr_y = PAGE[0] - QR_MM - 6, (PAGE[1] - QR_MM) / 2 + 4
    pdf.image(io.BytesIO(qr_png), x=qr_x, y=qr_y, w=QR_MM, h=QR_MM)
    pdf.set_font("cjk", size=7)
    pdf.set_xy(qr_x, qr_y + QR_MM + 1)
    pdf.cell(QR_MM, 4, "出示此码核验 Show this code", align="C")
    return bytes(pdf.output())
