"""What `cardservice serve` and `cardservice worker` run: the apps and the background work.

- `served_app`: the admin and holder API, the pages and the merchant API in one app; with
  `run_projections`, the background work runs in the same process.
- `add_background`: the projections, the write side's data migrations that need keys (the
  credential digests of cards issued before the ledger recorded them) and the notice
  delivery, each a part of the write side's lifecycle.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI

from cardservice.api.app import create_app
from cardservice.bootstrap.write import WriteSide
from cardservice.digests import backfill_credential_digests
from cardservice.outbox import NoticeDelivery, backlog
from cardservice.web import install as install_pages
from merchant_api.app import install as install_merchant_api
from projections.service import ProjectionService

log = logging.getLogger("cardservice.serve")


def served_app(write: WriteSide, *, run_projections: bool, own: bool = True) -> FastAPI:
    """Everything in one app. `own`: the app's shutdown closes the write side."""
    if run_projections:
        add_background(write)
    app = create_app(write, own_services=own)
    install_pages(app, write)
    install_merchant_api(app, write.read)
    return app


def add_background(write: WriteSide) -> ProjectionService:
    """Register the projections (and the notice delivery, when a gateway is configured)."""
    service = ProjectionService(write.sources())

    def start() -> None:
        backfill(write)
        service.start()

    write.lifecycle.add("projections", start=start, stop=service.stop, check=service.health_probe)
    if write.settings.notify_url:
        delivery = NoticeDelivery(write)
        write.lifecycle.add(
            "notice_delivery",
            start=delivery.start,
            stop=delivery.stop,
            check=lambda: backlog(write),
        )
    return service


def backfill(write: WriteSide) -> None:
    """Data migrations that need the write side's keys, before the views run. A failure is
    logged and retried at the next start; it never keeps the projections from running."""
    try:
        backfill_credential_digests(write.ledger, write.db)
    except Exception:
        log.exception("credential digest backfill failed; verifying those cards by signature")
