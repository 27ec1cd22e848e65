"""Supervised projection runners: one thread per source Application, polling its log.

A window the database fails (connection lost, a missing table) is logged with its positions
and retried with exponential backoff until the database is back. An event a view cannot
apply is set aside by the runner and never stops it (`projections.setaside`). Used
in-process by `cardservice serve` and on its own by `cardservice worker`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eventsourcing.application import Application

from cardservice.clock import Clock
from cardservice.settings import Settings
from cardservice.storage import Database
from projections import setaside
from projections.registry import all_views
from projections.runner import BatchFailed, PositionMoved, Runner, reset, seed_positions
from projections.view import View

if TYPE_CHECKING:
    from projections.health import Check

log = logging.getLogger("projections")

MAX_BACKOFF_SECONDS = 5.0
FIRST_BACKOFF_SECONDS = 0.1


@dataclass(frozen=True)
class Sources:
    """What the runners need: the views' database, the source Applications by name, and
    the deployment's batch size, poll interval and clock."""

    db: Database
    apps: Mapping[str, Application[Any]]
    settings: Settings
    clock: Clock


def runners_for(sources: Sources, views: Sequence[View[Any]] | None = None) -> list[Runner]:
    """One runner per source Application, each with all the views that source feeds."""
    views = list(views) if views is not None else all_views()
    apps = sources.apps
    by_source: dict[str, list[View[Any]]] = {}
    for view in views:
        if view.source not in apps:
            raise RuntimeError(f"view {view.name} reads unknown source {view.source}")
        by_source.setdefault(view.source, []).append(view)
    return [
        Runner(
            sources.db,
            apps[source],
            group,
            batch_size=sources.settings.projection_batch_size,
            now=sources.clock.now,
        )
        for source, group in sorted(by_source.items())
    ]


@dataclass
class RunnerHealth:
    failures: int = 0
    last_error: str | None = None
    last_error_at: float | None = None
    last_success_at: float | None = None
    applied: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class ProjectionService:
    """Keeps every view up to date until stopped."""

    def __init__(self, sources: Sources, views: Sequence[View[Any]] | None = None) -> None:
        self.db = sources.db
        self.runners = runners_for(sources, views)
        self.poll_seconds = max(0.001, sources.settings.projection_poll_seconds)
        self.health = {r.source: RunnerHealth() for r in self.runners}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def setup(self) -> None:
        seed_positions(self.db, [v for r in self.runners for v in r.views])

    def start(self) -> None:
        if self._threads:
            return
        self.setup()
        self._stop.clear()
        for runner in self.runners:
            thread = threading.Thread(
                target=self._run, args=(runner,), name=f"projection-{runner.source}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def _run(self, runner: Runner) -> None:
        health = self.health[runner.source]
        while not self._stop.is_set():
            try:
                result = runner.step()
            except PositionMoved:
                continue  # another runner advanced: re-read positions and go on
            except Exception as exc:  # supervised: log, back off, retry the same position
                self._failed(runner, health, exc)
                backoff = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2**health.failures)
                self._stop.wait(backoff)
                continue
            if health.failures:
                log.warning("projection runner %s recovered", runner.source)
            with health.lock:
                health.failures = 0
                health.last_success_at = time.monotonic()
                health.applied += result.events
            if result.advanced == 0:
                self._stop.wait(self.poll_seconds)

    @staticmethod
    def _failed(runner: Runner, health: RunnerHealth, exc: BaseException) -> None:
        with health.lock:
            health.failures += 1
            health.last_error = str(exc)
            health.last_error_at = time.monotonic()
        if isinstance(exc, BatchFailed):
            log.error(
                "projection runner %s failed at %s (attempt %d); retrying",
                runner.source,
                exc,
                health.failures,
                exc_info=exc.cause,
            )
        else:
            log.error(
                "projection runner %s failed (attempt %d): %s; retrying",
                runner.source,
                health.failures,
                exc,
                exc_info=exc,
            )

    def status(self) -> dict[str, Any]:
        """Per view: source, position, lag and the number of events it set aside."""
        views: dict[str, Any] = {}
        for runner in self.runners:
            try:
                head = runner.head()
                positions = runner.positions()
                with self.db.read() as tx:
                    aside = setaside.counts(tx, [v.name for v in runner.views])
            except Exception as exc:
                for view in runner.views:
                    views[view.name] = {"source": runner.source, "error": str(exc)}
                continue
            for view in runner.views:
                position = positions.get(view.name, 0)
                views[view.name] = {
                    "source": runner.source,
                    "position": position,
                    "head": head,
                    "lag": max(0, head - position),
                    "set_aside": aside[view.name],
                }
        return views

    def health_probe(self) -> Check:
        """The runner threads of this process: stopped, or failing on the database (lag
        and set-aside events are the probes' own checks, read from the database)."""
        from projections.health import Check

        failing = {source: h.last_error for source, h in self.health.items() if h.failures >= 3}
        if self._threads and not self.running:
            return Check(False, "projection threads stopped")
        if failing:
            return Check(False, "failing: " + "; ".join(f"{s}: {e}" for s, e in failing.items()))
        return Check(True, {s: {"applied": h.applied} for s, h in self.health.items()})


def rebuild(
    sources: Sources, view: View[Any], progress: Callable[[int, int], None] | None = None
) -> None:
    """Empty one view and replay its source's whole log into it."""
    (runner,) = runners_for(sources, [view])
    runner.setup()
    reset(sources.db, view)
    runner.catch_up(progress=progress)
