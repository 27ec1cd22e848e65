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
    _add_merchant_api_and_projections(svc, run_projections=run_projections)


def _add_app_hook_for_pages() -> None:
    from cardservice.api.app import EXTENSIONS
    from cardservice.web import install as install_pages

    if install_pages not in EXTENSIONS:
        EXTENSIONS.append(install_pages)


def _add_merchant_api_and_projections(svc: Services, *, run_projections: bool) -> None:
    """Mount the merchant API on the app; run the projections here unless a worker does."""
    from cardservice.api.app import EXTENSIONS
    from merchant_api.app import install as install_merchant_api
    from projections.service import ProjectionService

    if install_merchant_api not in EXTENSIONS:
        EXTENSIONS.append(install_merchant_api)
    if run_projections and "projections" not in svc.extras:
        service = ProjectionService(svc)
        svc.extras["projections"] = service
        svc.extras["starters"].append(service.start)
        svc.extras["closers"].append(service.stop)
        svc.extras["health"]["projections"] = service.health_probe
    if run_projections:
        from cardservice.bundles import install_signer
        from cardservice.outbox import install_delivery

        install_delivery(svc)
        install_signer(svc)
