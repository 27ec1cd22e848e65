"""Support for the browser tests: a real server in a thread, Debian's Chromium, fake camera.

The server is exactly what `cardservice serve` runs (`served_app`) on a free localhost port,
over a fresh SQLite data dir or (`backend="postgres"`) a throwaway schema in the test
PostgreSQL database, dropped afterwards. Chromium is /usr/bin/chromium driven by
Playwright for Python; nothing is downloaded at test time.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CARDSERVICE_CHROMIUM", "/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
VENDOR = ROOT / "cardservice" / "web" / "static" / "vendor" / "qrcode-generator" / "qrcode.mjs"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_TOKEN = "adm_pages_test_token_0123456789abcdef"
PHONE = {"width": 360, "height": 740}


def missing_browser_parts() -> str | None:
    """Why the browser tests cannot run here, or None (scripts/setup_browser.sh fixes it)."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (run scripts/setup_browser.sh)"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (run scripts/setup_browser.sh)"
    if not VENDOR.exists() or not AXE.exists():
        return "front-end dependencies missing (run scripts/setup_frontend.sh)"
    return None


def require_browser() -> None:
    problem = missing_browser_parts()
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser tests cannot run under CI: {problem}")
        pytest.skip(problem)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


ENGINES = ["sqlite", "postgres"]


@dataclass
class LiveServer:
    url: str
    svc: Any
    http: httpx.Client
    background: Any
    backend: str = "sqlite"

    def artifact(self, name: str) -> Path:
        """`artifact(name)`, with `-postgres` before the extension on PostgreSQL, so the two
        engines' screenshots sit side by side (SQLite keeps the plain names)."""
        if self.backend != "sqlite":
            stem, dot, ext = name.rpartition(".")
            name = f"{stem}-{self.backend}{dot}{ext}" if dot else f"{name}-{self.backend}"
        return artifact(name)

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def issue(self, seq: int, **kw: Any) -> dict[str, Any]:
        """A new card, not yet on any phone (its `activation_url` still works)."""
        from tests.factories import card_body

        resp = self.http.post("/v1/admin/cards", json=card_body(seq, **kw), headers=self.admin())
        assert resp.status_code == 201, resp.text
        data: dict[str, Any] = resp.json()
        return data

    def issue_activated(self, seq: int, **kw: Any) -> dict[str, Any]:
        """A new card whose code this test redeemed (through the API): it has `holder_token`."""
        from tests.factories import activated

        return activated(self.http, self.issue(seq, **kw))

    def holder_token_of(self, page: Any) -> str:
        """The holder token the page's phone holds for its current card (IndexedDB)."""
        token: str = page.evaluate(
            """async () => {
                const { currentCard } = await import('/static/js/wallet.js');
                return (await currentCard()).token;
            }"""
        )
        return token

    def merchant(self, **kw: Any) -> dict[str, Any]:
        body = {
            "name": "渝北测试商店",
            "region": "500112",
            "kind": "merchant",
            "categories": ["dining"],
            **kw,
        }
        resp = self.http.post("/v1/admin/merchants", json=body, headers=self.admin())
        assert resp.status_code == 201, resp.text
        data: dict[str, Any] = resp.json()
        return data

    def verify(self, key: str, qr: str) -> dict[str, Any]:
        resp = self.http.post(
            "/v1/verify", json={"qr": qr}, headers={"Authorization": f"Bearer {key}"}
        )
        assert resp.status_code == 200, resp.text
        data: dict[str, Any] = resp.json()
        return data

    def verify_until(self, key: str, qr: str, status: str, timeout: float = 10.0) -> dict[str, Any]:
        """The verification path reads views that lag writes (a new merchant key is 401
        until the merchants view has it): poll until they caught up."""
        deadline = time.monotonic() + timeout
        while True:
            resp = self.http.post(
                "/v1/verify", json={"qr": qr}, headers={"Authorization": f"Bearer {key}"}
            )
            verdict: dict[str, Any] = resp.json()
            done = resp.status_code == 200 and verdict["status"] == status
            if done or time.monotonic() > deadline:
                assert resp.status_code == 200, resp.text
                return verdict
            time.sleep(0.1)


@contextmanager
def live_server(data_dir: Path, backend: str = "sqlite") -> Iterator[LiveServer]:
    """The served app on `backend`: "sqlite" (files under `data_dir`) or "postgres" (a fresh
    schema; skipped when PostgreSQL is unreachable, a failure under CI=true)."""
    if backend == "postgres":
        from tests.conftest import PG_URL, PgSchema, require_postgres

        require_postgres()
        schema: Any = PgSchema()
        try:
            with _live_server(data_dir, backend, PG_URL, schema.name) as live:
                yield live
        finally:
            schema.drop()
        return
    if backend != "sqlite":
        raise ValueError(f"unknown backend {backend!r}")
    with _live_server(data_dir, backend, None, "") as live:
        yield live


@contextmanager
def _live_server(
    data_dir: Path, backend: str, database_url: str | None, schema: str
) -> Iterator[LiveServer]:
    import uvicorn

    from cardservice.bootstrap.serve import add_background, served_app
    from cardservice.bootstrap.write import WriteSide
    from cardservice.settings import Settings

    settings = Settings(
        database_url=database_url,
        postgres_schema=schema,
        data_dir=data_dir,
        admin_token=ADMIN_TOKEN,
        secret="pages-test-secret",
        projection_poll_seconds=0.02,
        merchant_rate=0,
        bundle_rate_per_minute=0,
    )
    svc = WriteSide.build(settings)
    background = add_background(svc)
    app = served_app(svc, run_projections=True)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, name="pages-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=10) as http:
            yield LiveServer(url=url, svc=svc, http=http, background=background, backend=backend)
    finally:
        server.should_exit = True
        thread.join(15)


def launch(playwright: Any, *extra_args: str) -> Any:
    return playwright.chromium.launch(
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args], headless=True
    )


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


def run_axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now, of every impact (minor included)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, so the pages' CSP stays as served.
        page.evaluate(AXE.read_text("utf-8") + "\n;undefined")
    violations: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
    )
    return violations


def png_to_grey(png: bytes) -> tuple[bytes, int, int]:
    """Decode an 8-bit, non-interlaced PNG (what Chromium's screenshots are) to grey pixels.

    Plain zlib and the PNG row filters, so the tests need no imaging library.
    """
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, bytearray(), b""
    while pos < len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = data
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    width, height = int.from_bytes(header[0:4], "big"), int.from_bytes(header[4:8], "big")
    depth, colour, interlace = header[8], header[9], header[12]
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    assert depth == 8 and interlace == 0, "only 8-bit, non-interlaced PNGs"
    raw = zlib.decompress(bytes(idat))
    stride = width * channels
    prev = bytearray(stride)
    grey = bytearray(width * height)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 0xFF
        row = y * width
        if channels >= 3:
            for x in range(width):
                o = x * channels
                grey[row + x] = (299 * line[o] + 587 * line[o + 1] + 114 * line[o + 2]) // 1000
        else:
            grey[row : row + width] = line[::channels]
        prev = line
    return bytes(grey), width, height


def decode_qr_png(png: bytes) -> list[str]:
    """Decode QR codes in a screenshot with ZXing-C++ (independent of the page's decoder)."""
    import zxingcpp

    grey, width, height = png_to_grey(png)
    image = memoryview(grey).cast("B", (height, width))
    return [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def qr_y4m(text: str, path: Path, width: int = 640, height: int = 480, frames: int = 2) -> Path:
    """A Y4M video of `text` as a QR code, for Chromium's fake camera (4:2:0, grey)."""
    from cardservice.credentials.qr import qr_matrix

    matrix = qr_matrix(text)
    n = len(matrix) + 8  # quiet zone of 4 modules
    scale = max(1, min(width, height) * 9 // 10 // n)
    size = n * scale
    left, top = (width - size) // 2, (height - size) // 2
    luma = bytearray(b"\xff" * (width * height))
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if not dark:
                continue
            y0, x0 = top + (r + 4) * scale, left + (c + 4) * scale
            for y in range(y0, y0 + scale):
                luma[y * width + x0 : y * width + x0 + scale] = b"\x00" * scale
    chroma = b"\x80" * ((width // 2) * (height // 2) * 2)
    with path.open("wb") as fh:
        fh.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            fh.write(b"FRAME\n")
            fh.write(luma)
            fh.write(chroma)
    return path


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, step: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=1, default=str)


def clean_artifacts() -> None:
    if ARTIFACTS.exists():
        for png in ARTIFACTS.glob("page-*.png"):
            png.unlink()


__all__ = ["ADMIN_TOKEN", "ENGINES", "PHONE", "LiveServer", "shutil"]
