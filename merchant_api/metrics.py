"""Prometheus metrics of one merchant API instance (its own registry, so several apps can
live in one process): the project's metrics, all named `cardservice_*` (verifications by
status, latency, projection lag in events and seconds, events set aside, log queue depth),
beside prometheus_client's standard `process_*` and `python_*` collectors.

`/metrics` is open unless `CARDSERVICE_METRICS_TOKEN` is set; then it needs that token as
a Bearer token (compared in constant time)."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from merchant_api.core import STATUSES

log = logging.getLogger("merchant_api.metrics")

NAMESPACE = "cardservice"
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

LagFn = Callable[[], Mapping[str, Mapping[str, float]]]
"""Per view: {"events": notifications not yet applied, "seconds": for how long}."""
CountsFn = Callable[[], Mapping[str, int]]


class _Views(Collector):
    """Read at scrape time from the database, so every replica reports the same figures."""

    def __init__(self, lag: LagFn, set_aside: CountsFn, depth: Callable[[], int]) -> None:
        self._lag = lag
        self._set_aside = set_aside
        self._depth = depth

    def collect(self) -> Iterator[Metric]:
        events = GaugeMetricFamily(
            f"{NAMESPACE}_projection_lag_events",
            "Notifications of the source log not yet applied to the view",
            labels=["view"],
        )
        seconds = GaugeMetricFamily(
            f"{NAMESPACE}_projection_lag_seconds",
            "How long the oldest notification not yet applied to the view has waited "
            "(as this process saw it)",
            labels=["view"],
        )
        aside = CounterMetricFamily(
            f"{NAMESPACE}_projection_set_aside",
            "Events the view could not apply, set aside (a rebuild of the view resets it)",
            labels=["view"],
        )
        try:  # a scrape must not fail because the database blinked
            for view, lag in sorted(self._lag().items()):
                events.add_metric([view], float(lag["events"]))
                seconds.add_metric([view], float(lag["seconds"]))
            for view, count in sorted(self._set_aside().items()):
                aside.add_metric([view], float(count))
        except Exception as exc:
            log.warning("projection figures unavailable for /metrics: %s", exc)
        yield events
        yield seconds
        yield aside
        yield GaugeMetricFamily(
            f"{NAMESPACE}_verification_log_queue_depth",
            "Verification records waiting to be written",
            value=float(self._depth()),
        )


class Metrics:
    def __init__(self, lag: LagFn, set_aside: CountsFn, depth: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        for standard in (ProcessCollector, PlatformCollector, GCCollector):
            standard(registry=self.registry)
        self.verifications = Counter(
            "verifications",
            "Verifications by verdict status",
            ["status"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self._by_status = {status: self.verifications.labels(status) for status in STATUSES}
        self.latency = Histogram(
            "verify_latency_seconds",
            "Time to decide a verdict (server side)",
            buckets=LATENCY_BUCKETS,
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.registry.register(_Views(lag, set_aside, depth))

    def observe(self, status: str, seconds: float) -> None:
        self._by_status[status].inc()
        self.latency.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def scrape_allowed(required: str | None, presented: str | None) -> bool:
    """No token configured: open. Otherwise the presented Bearer token must equal it,
    compared in constant time (as bytes, so any header text compares without an error)."""
    if not required:
        return True
    if presented is None:
        return False
    return hmac.compare_digest(presented.encode(), required.encode())
