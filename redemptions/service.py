"""Wiring: the Redemptions application on the deployment's database, and the thread that
keeps its views current.

The store gets the deployment's persistence settings without the cipher: its events carry
no personal data. On PostgreSQL its tables are `redemptions_events` (and the library's
notification tracking) beside the other stores; on SQLite it is its own file in the data
folder. Every merchant API replica runs a projector: the runner's compare-and-set on the
view positions lets exactly one of them apply each window.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from cardservice.settings import Settings
from cardservice.storage import Database
from projections.runner import PositionMoved, Runner, seed_positions
from redemptions.application import Redemptions
from redemptions.views import redemption_views

log = logging.getLogger("redemptions")

MAX_BACKOFF_SECONDS = 5.0


def redemptions_env(settings: Settings) -> dict[str, str]:
    """No cipher: the read side holds no key (its events carry no personal data)."""
    return {
        "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor",
        **settings.persistence_env(Redemptions.name),
    }


class RedemptionContext:
    """The application, its views' runner and the projector thread, opened and closed
    together."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.db = db
        self.app = Redemptions(env=redemptions_env(settings))
        self.views = redemption_views()
        self.runner = Runner(db, self.app, self.views, batch_size=settings.projection_batch_size)
        self.poll_seconds = max(0.001, settings.projection_poll_seconds)
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def setup(self) -> None:
        seed_positions(self.db, self.views)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="projection-Redemptions", daemon=True
        )
        self._thread.start()

    def catch_up(self) -> None:
        """Apply everything recorded so far (tests, and a read that must see its write)."""
        self.runner.catch_up()

    def lag(self) -> dict[str, int]:
        return self.runner.lag()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                result = self.runner.step()
            except PositionMoved:
                continue
            except Exception as exc:  # supervised: log, back off, retry the same window
                self.failures += 1
                log.error("redemption projector failed (attempt %d): %s", self.failures, exc)
                self._stop.wait(min(MAX_BACKOFF_SECONDS, 0.1 * 2**self.failures))
                continue
            self.failures = 0
            if result.advanced == 0:
                self._stop.wait(self.poll_seconds)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self.app.close()

    def status(self) -> dict[str, Any]:
        return {"lag": self.lag(), "failures": self.failures}
