"""Routes for `/`, `/holder`, `/merchant`, `/admin`, the service worker and static files."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from cardservice.bootstrap.write import WriteSide
from cardservice.web.policy import policy_document

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"
VENDOR_DIR = STATIC_DIR / "vendor"

# The pages load only their own origin's files; WebAssembly (the QR reader) needs
# 'wasm-unsafe-eval'. Camera only where the merchant page asks for it.
CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self'; "
    "worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

PAGES = {
    "index": "/",
    "holder": "/holder",
    "merchant": "/merchant",
    "admin": "/admin",
}

# What the service worker keeps for offline use: the pages and everything they load.
PRECACHE_PAGES = ["/", "/holder", "/merchant", "/web/regions.json", "/web/policy.json"]
PLACES_LIMIT = 200


class RevalidatedStaticFiles(StaticFiles):
    """Static files that browsers revalidate (ETag) on every use, so a deploy shows at once."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


@lru_cache(maxsize=1)
def translations() -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads((STATIC_DIR / "i18n.json").read_text("utf-8"))
    return data


def t(key: str) -> str:
    """The default (Chinese) text of a key; the page script swaps in English when chosen."""
    return translations()["zh-CN"].get(key, key)


@lru_cache(maxsize=1)
def static_files() -> list[str]:
    """Every file the pages may load, as URL paths (vendor files included once installed)."""
    files = []
    for path in sorted(STATIC_DIR.rglob("*")):
        if not path.is_file() or path.name.startswith(".") or path.suffix in {".map", ".md"}:
            continue
        rel = path.relative_to(STATIC_DIR).as_posix()
        if rel.startswith("vendor/") and path.suffix not in {".js", ".mjs", ".wasm"}:
            continue
        if rel == "js/sw.js":
            continue
        files.append("/static/" + rel)
    return files


@lru_cache(maxsize=1)
def asset_version() -> str:
    digest = hashlib.sha256()
    for url in static_files():
        digest.update(url.encode())
        digest.update((STATIC_DIR / url.removeprefix("/static/")).read_bytes())
    for template in sorted(TEMPLATES_DIR.glob("*.html")):
        digest.update(template.read_bytes())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["t"] = t
    env.globals["vendor_missing"] = vendor_missing
    return env


def vendor_missing() -> bool:
    return not (VENDOR_DIR / "qrcode-generator" / "qrcode.mjs").is_file()


def page_headers(*, camera: bool = False) -> dict[str, str]:
    return {
        "Content-Security-Policy": CSP,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Permissions-Policy": f"camera=({'self' if camera else ''}), microphone=(), geolocation=()",
    }


def render(page: str, **context: Any) -> HTMLResponse:
    html = environment().get_template(f"{page}.html").render(page=page, **context)
    return HTMLResponse(html, headers=page_headers(camera=page == "merchant"))


router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def index_page() -> HTMLResponse:
    return render("index")


@router.get("/holder", response_class=HTMLResponse)
def holder_page() -> HTMLResponse:
    return render("holder")


@router.get("/merchant", response_class=HTMLResponse)
def merchant_page() -> HTMLResponse:
    return render("merchant")


@router.get("/admin", response_class=HTMLResponse)
def admin_page() -> HTMLResponse:
    return render("admin")


@router.get("/sw.js")
def service_worker() -> Response:
    """The service worker, with this deployment's asset list and version written in."""
    source = (STATIC_DIR / "js" / "sw.js").read_text("utf-8")
    config = {"version": asset_version(), "precache": PRECACHE_PAGES + static_files()}
    body = f"const SW_CONFIG = {json.dumps(config)};\n{source}"
    return Response(
        body,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


@router.get("/manifest.webmanifest")
def manifest() -> Response:
    body = {
        "name": t("app.name"),
        "short_name": "优待证",
        "lang": "zh-CN",
        "start_url": "/holder",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#9b1c1c",
        "icons": [{"src": "/static/img/icon.svg", "sizes": "any", "type": "image/svg+xml"}],
    }
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/manifest+json")


def subtree_prefix(region: str) -> str:
    """The code prefix shared by a region's subtree: 500000 → "50", 500100 → "5001"."""
    if region == "000000":
        return ""
    if region.endswith("0000"):
        return region[:2]
    if region.endswith("00"):
        return region[:4]
    return region


def places_in(svc: WriteSide, region: str) -> list[dict[str, Any]]:
    """Active merchants and scenic sites in a region's subtree, from the merchants view.

    Public facts only (name, kind, A-level, categories); never a key hash. The view lags
    writes slightly, like every read model; before it exists the list is empty.
    """
    prefix = subtree_prefix(region)
    try:
        with svc.db.transaction(write=False) as tx:
            rows = tx.all(
                "SELECT name, region, kind, a_level, categories FROM view_merchants "
                "WHERE active AND region LIKE ? ORDER BY kind DESC, a_level DESC, name LIMIT ?",
                (prefix + "%", PLACES_LIMIT),
            )
    except Exception:  # the view is not there yet (projections not installed)
        return []
    return [
        {
            "name": row[0],
            "region": row[1],
            "kind": row[2],
            "a_level": None if row[3] is None else int(row[3]),
            "categories": json.loads(row[4]) if isinstance(row[4], str) else list(row[4] or []),
        }
        for row in rows
    ]


def region_names() -> dict[str, str]:
    """Code → Chinese name for every region in the shipped table (GB/T 2260)."""
    try:
        from cardservice.domain.regions import regions

        table = regions()
    except (ImportError, OSError, ValueError):  # no table shipped (yet): names stay codes
        return {}
    return {code: table.name(code) for code in table}


def install(app: FastAPI, svc: WriteSide) -> None:
    """Mount the pages and static files (`cardservice.bootstrap.serve` does)."""
    app.include_router(router)

    @app.get("/web/places/{region}", include_in_schema=False)
    def places(region: str) -> JSONResponse:
        if len(region) != 6 or not region.isdigit():
            return JSONResponse({"error": "invalid", "detail": "region: 6 digits"}, 422)
        return JSONResponse({"region": region, "places": places_in(svc, region)})

    @app.get("/web/policy.json", include_in_schema=False)
    def policy_json() -> JSONResponse:
        return JSONResponse(policy_document(svc.settings), headers={"Cache-Control": "no-cache"})

    @app.get("/web/regions.json", include_in_schema=False)
    def regions_json() -> JSONResponse:
        return JSONResponse(region_names(), headers={"Cache-Control": "public, max-age=86400"})

    app.mount("/static", RevalidatedStaticFiles(directory=STATIC_DIR), name="static")
