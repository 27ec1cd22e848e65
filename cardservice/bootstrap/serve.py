"""What `cardservice serve` and `cardservice worker` run: the apps and the background work.

- `served_app`: the admin and holder API, the pages and the merchant API in one app; with
  `run_projections`, the background work runs in the same process.
- `add_background`: the projections, the write side's data migrations that need keys (the
  credential digests of cards issued before the ledger recorded them), the offline-bundle
  signer and the notice delivery, each a part of the write side's lifecycle.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from cardservice.api.app import create_app
from cardservice.bootstrap.write import WriteSide
from cardservice.bundles import BundleSigner
from cardservice.digests import backfill_credential_digests
from cardservice.outbox import NoticeDelivery, OutboxMetrics, backlog
from cardservice.web import install as install_pages
from merchant_api.app import install as install_merchant_api
from projections.service import ProjectionService

log = logging.getLogger("cardservice.serve")


def served_app(write: WriteSide, *, run_projections: bool, own: bool = True) -> FastAPI:
    """Everything in one app. `own`: the app's shutdown closes the write side. With
    `run_projections` the background work is registered here (unless it already is)."""
    if run_projections and not write.lifecycle.has("projections"):
        add_background(write)
    app = create_app(write, own_services=own)
    install_pages(app, write)
    read = write.read
    install_merchant_api(app, read)
    if write.settings.notify_url:
        register_outbox_metrics(read.merchant_api.metrics.registry, write)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[None]:
        async with inner(served):
            try:
                yield
            finally:
                await read.loop_ending()

    app.router.lifespan_context = lifespan
    return app


@dataclass(frozen=True)
class Background:
    """The write side's background parts, once registered with its lifecycle."""

    projections: ProjectionService
    signer: BundleSigner
    delivery: NoticeDelivery | None


def add_background(write: WriteSide) -> Background:
    """Register the projections, the bundle signer and (when a gateway is configured) the
    notice delivery with the write side's lifecycle; they run once it starts."""
    service = ProjectionService(write.sources())

    def start() -> None:
        backfill(write)
        service.start()

    write.lifecycle.add("projections", start=start, stop=service.stop, check=service.health_probe)
    signer = BundleSigner(write)
    write.lifecycle.add("bundle_signer", start=signer.start, stop=signer.stop, check=signer.health)
    delivery = None
    if write.settings.notify_url:
        delivery = NoticeDelivery(write)
        write.lifecycle.add(
            "notice_delivery",
            start=delivery.start,
            stop=delivery.stop,
            check=lambda: backlog(write),
        )
    return Background(service, signer, delivery)


def backfill(write: WriteSide) -> None:
    """Data migrations that need the write side's keys, before the views run. A failure is
    logged and retried at the next start; it never keeps the projections from running."""
    try:
        backfill_credential_digests(write.ledger, write.db)
    except Exception:
        log.exception("credential digest backfill failed; verifying those cards by signature")


def register_outbox_metrics(registry: CollectorRegistry, write: WriteSide) -> None:
    """The outbox's pending and failed rows on this app's `/metrics` (once per registry)."""
    try:
        registry.register(OutboxMetrics(write))
    except ValueError:  # registered already: prometheus_client refuses duplicate names
        return
