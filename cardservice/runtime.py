"""What runs beside the HTTP app in one process: projections, pages, the merchant API.

Kept apart from `create_app` so tests can build the bare admin API, and so `serve` and
`worker` share one definition of the background machinery.
"""

from __future__ import annotations

from cardservice.services import Services


def install_runtime(svc: Services, *, run_projections: bool) -> None:
    """Attach the optional parts that are installed; each registers its own hooks."""
    svc.extras.setdefault("starters", [])
    svc.extras.setdefault("closers", [])
    svc.extras.setdefault("health", {})
    svc.extras["run_projections"] = run_projections
    _add_app_hook_for_pages()


def _add_app_hook_for_pages() -> None:
    from cardservice.api.app import EXTENSIONS
    from cardservice.web import install as install_pages

    if install_pages not in EXTENSIONS:
        EXTENSIONS.append(install_pages)
