"""Readiness and health, computed once for both apps (served by `cardservice.http.probes`).

- `GET /livez`: the process answers; no dependency is asked (a database blip must not
  restart every pod).
- `GET /readyz`: 503 only when the database does not answer. Otherwise 200, with
  `"degraded"` naming every check that is not well: projections lagging over 5 s, events
  set aside, and any check another part registers with its composition root's lifecycle
  (`cardservice.bootstrap.lifecycle`; the shared rate limit registers `"rate_limits"`).
  Status `ok`, `degraded` or `down`.
- `GET /healthz`: as /readyz, with each check's detail under `"checks"`.

Lag in seconds is measured without reading any event (the read side holds no key to decode
them): the probe remembers when it first saw each head position, and a view is as late as
the oldest head it has not reached yet. So it is a lower bound, and a process that has
just started reports 0 s until its second look.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cardservice.storage import Database
from projections import setaside
from projections.heads import Heads
from projections.runner import read_positions
from projections.view import View

log = logging.getLogger("projections.health")

LAG_LIMIT_SECONDS = 5.0
MAX_SIGHTINGS = 256


@dataclass(frozen=True)
class Check:
    """One check's verdict: `ok` False puts its name in `"degraded"`; `detail` is shown by
    /healthz (keep it free of secrets and personal data)."""

    ok: bool
    detail: Any = None


CheckFn = Callable[[], Any]
"""Returns a Check (or, for older probes, a dict meaning ok, or the string "ok")."""


def as_check(value: Any) -> Check:
    if isinstance(value, Check):
        return value
    if isinstance(value, Mapping):
        return Check(True, dict(value))
    return Check(value == "ok", value)


class LagTracker:
    """Seconds each view has been behind, from when this process first saw each head."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._seen: dict[str, list[tuple[int, float]]] = {}
        self._lock = threading.Lock()

    def observe(self, view: str, position: int, head: int) -> float:
        now = self._now()
        with self._lock:
            seen = self._seen.setdefault(view, [])
            if head > position and (not seen or head > seen[-1][0]):
                seen.append((head, now))
            seen[:] = [(h, at) for h, at in seen if h > position]
            if len(seen) > MAX_SIGHTINGS:
                seen[:] = [seen[0], *seen[-(MAX_SIGHTINGS - 1) :]]
            return max(0.0, now - seen[0][1]) if seen else 0.0


class Probes:
    """The checks of one process (one per composition root, shared by the apps on it)."""

    def __init__(
        self,
        db: Database,
        now: Callable[[], float],
        heads: Heads,
        views: Sequence[View[Any]],
        checks: Mapping[str, CheckFn],
    ) -> None:
        self.db = db
        self.heads = heads
        self.by_source: dict[str, list[View[Any]]] = {}
        for view in views:
            self.by_source.setdefault(view.source, []).append(view)
        self.tracker = LagTracker(now)
        self.views = [v.name for v in views]
        self.checks = checks
        """The other parts' checks (for example `"rate_limits"`), looked up at each report:
        a part registers its check with the composition root's lifecycle."""

    def lag(self) -> dict[str, dict[str, float]]:
        """Per view: notifications not yet applied and for how long (seconds)."""
        heads = self.heads()
        with self.db.read() as tx:
            positions = {
                name: position
                for group in self.by_source.values()
                for name, position in read_positions(tx, group).items()
            }
        out: dict[str, dict[str, float]] = {}
        for source, group in sorted(self.by_source.items()):
            head = heads.get(source, 0)
            for view in sorted(group, key=lambda v: v.name):
                position = positions.get(view.name, 0)
                out[view.name] = {
                    "events": max(0, head - position),
                    "seconds": round(self.tracker.observe(view.name, position, head), 3),
                }
        return out

    def set_aside(self) -> dict[str, int]:
        """Per view, events set aside: every view this process knows (0 if none), and any
        other view a worker set events aside for."""
        with self.db.read() as tx:
            return {**dict.fromkeys(self.views, 0), **setaside.counts(tx)}

    def report(self) -> tuple[int, dict[str, Any]]:
        """(HTTP status, body with status, degraded and checks)."""
        if not self.db.ping():
            # The other checks read the database too: with it down they would only wait
            # for their own timeouts, and a probe must answer fast exactly then.
            body = {"status": "down", "degraded": ["database"], "checks": {"database": "down"}}
            return 503, body
        checks: dict[str, Check] = {"database": Check(True, "ok")}
        checks["projection_lag"] = self._guard(self._lag_check)
        checks["projection_set_aside"] = self._guard(self._set_aside_check)
        for name, check in dict(self.checks).items():
            checks[name] = self._guard(check)
        degraded = sorted(name for name, check in checks.items() if not check.ok)
        return 200, {
            "status": "degraded" if degraded else "ok",
            "degraded": degraded,
            "checks": {name: check.detail for name, check in checks.items()},
        }

    def _lag_check(self) -> Check:
        lag = self.lag()
        late = any(v["seconds"] > LAG_LIMIT_SECONDS for v in lag.values())
        return Check(not late, lag)

    def _set_aside_check(self) -> Check:
        counts = self.set_aside()
        return Check(not any(counts.values()), counts)

    @staticmethod
    def _guard(check: CheckFn) -> Check:
        try:
            return as_check(check())
        except Exception as exc:  # a probe answers; a failing check is a degraded check
            log.warning("health check failed: %s", exc)
            return Check(False, f"error: {type(exc).__name__}")
