"""The read side's composition root: the merchant API over the views, and nothing secret.

Built from `DATABASE_URL` alone: no master secret, no private key, no write-side
Application. Inside `cardservice serve` the write side builds it on its own database and
probes (`WriteSide.read`); alone (`merchant_api.app:create_app`) it opens its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from cardservice.bootstrap.lifecycle import Lifecycle
from cardservice.clock import Clock, SystemClock
from cardservice.migrations import prepare_schema
from cardservice.settings import Settings
from cardservice.storage import Database
from merchant_api.service import MerchantApi
from projections.catalog import CatalogReader
from projections.heads import EventStoreHeads
from projections.health import Probes
from projections.registry import all_views


@dataclass
class ReadSide:
    settings: Settings
    clock: Clock
    db: Database
    catalog: CatalogReader
    probes: Probes
    merchant_api: MerchantApi
    lifecycle: Lifecycle

    @classmethod
    def build(
        cls,
        settings: Settings | None = None,
        clock: Clock | None = None,
        *,
        db: Database | None = None,
        probes: Probes | None = None,
        lifecycle: Lifecycle | None = None,
    ) -> ReadSide:
        """Given `db`, `probes` and `lifecycle`, the read side shares them (and closes none
        of what it was given); else it opens its own."""
        settings = settings or Settings()
        clock = clock or SystemClock()
        lifecycle = lifecycle or Lifecycle()
        if db is None:
            db = open_database(settings)
            lifecycle.add("read database", stop=db.close)
        views = db
        standby = settings.for_view_reads()
        if standby is not None:
            views = Database(standby)
            lifecycle.add("standby", stop=views.close)
        if probes is None or views is not db:
            heads = EventStoreHeads(settings, {view.source for view in all_views()})
            lifecycle.add("event store heads", stop=heads.close)
            probes = Probes(
                views, lambda: clock.now().timestamp(), heads, all_views(), lifecycle.checks
            )
        catalog = CatalogReader(views)
        api = MerchantApi(settings, clock, db, catalog, probes, views)
        api.setup()
        lifecycle.add("verification_log", stop=api.close, check=lambda: log_health(api))
        lifecycle.add_check("rate_limits", api.limiter.health)
        return cls(settings, clock, db, catalog, probes, api, lifecycle)

    async def loop_ending(self) -> None:
        """What an app's shutdown does on its own event loop, before the loop ends: close
        the card reader's asyncio pool there (an open pool's tasks would keep the loop from
        ending), and wait, off the loop, until the queued verifications are written."""
        await self.merchant_api.cards.aclose()
        await anyio.to_thread.run_sync(self.merchant_api.log.flush)

    def close(self) -> None:
        self.lifecycle.stop()


def open_database(settings: Settings) -> Database:
    """The database, migrated (or refused when behind this code and auto-migration is
    off); closed again when that fails, so a refused start leaves no pool open."""
    db = Database(settings)
    try:
        prepare_schema(db)
    except BaseException:
        db.close()
        raise
    return db


def log_health(api: MerchantApi) -> dict[str, Any]:
    """The verification log writer (a detail; a full queue shows as back-pressure)."""
    return {"queue_depth": api.log.depth, "written": api.log.written, "failures": api.log.failures}
