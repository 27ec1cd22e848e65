"""What a composition root starts, stops and checks, in one typed place.

Parts are started in the order they were added and stopped in reverse, each once. A part
that fails to start fails the start (a missing dependency shows then, not at the first
request). Checks are the readiness checks beside the probes' own (database, lag,
set-aside events): a check returns a `projections.health.Check` (or a dict, meaning ok).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("cardservice.lifecycle")

Action = Callable[[], Any]


@dataclass(frozen=True)
class Part:
    name: str
    start: Action | None
    stop: Action | None


class Lifecycle:
    def __init__(self) -> None:
        self._parts: list[Part] = []
        self._started: set[str] = set()
        self._running = False
        self._stopped = False
        self._lock = threading.Lock()
        self.checks: dict[str, Action] = {}

    def add(
        self,
        name: str,
        *,
        start: Action | None = None,
        stop: Action | None = None,
        check: Action | None = None,
    ) -> None:
        """Register a part; started at once if the lifecycle already runs."""
        if any(part.name == name for part in self._parts):
            raise ValueError(f"part {name!r} is already registered")
        part = Part(name, start, stop)
        self._parts.append(part)
        if check is not None:
            self.checks[name] = check
        if self._running:
            self._start(part)

    def add_check(self, name: str, check: Action) -> None:
        """A readiness check with no start or stop of its own (registering again replaces)."""
        self.checks[name] = check

    def has(self, name: str) -> bool:
        return any(part.name == name for part in self._parts)

    def start(self) -> None:
        """Start every part not started yet (idempotent: apps started again start nothing)."""
        with self._lock:
            self._stopped = False
            self._running = True
            for part in list(self._parts):
                if part.name not in self._started:
                    self._start(part)

    def _start(self, part: Part) -> None:
        if part.start is not None:
            part.start()
        self._started.add(part.name)

    def stop(self) -> None:
        """Stop every part, newest first; one failing to stop does not keep the rest up."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            self._running = False
            for part in reversed(self._parts):
                if part.stop is None:
                    continue
                try:
                    part.stop()
                except Exception:
                    log.exception("stopping %s failed", part.name)
            self._started.clear()
