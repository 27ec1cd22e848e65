"""Prometheus metrics of one merchant API instance (its own registry, so several apps can
live in one process): verifications by status, latency, projection lag and log queue depth."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from merchant_api.core import STATUSES

log = logging.getLogger("merchant_api.metrics")

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _Gauges(Collector):
    def __init__(self, lag: Callable[[], Mapping[str, int]], depth: Callable[[], int]) -> None:
        self._lag = lag
        self._depth = depth

    def collect(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "projection_lag_events",
            "Notifications of the source log not yet applied to the view",
            labels=["view"],
        )
        try:
            for view, value in sorted(self._lag().items()):
                lag.add_metric([view], float(value))
        except Exception as exc:  # a scrape must not fail because the database blinked
            log.warning("projection lag unavailable for /metrics: %s", exc)
        yield lag
        yield GaugeMetricFamily(
            "verification_log_queue_depth",
            "Verification records waiting to be written",
            value=float(self._depth()),
        )


class Metrics:
    def __init__(self, lag: Callable[[], Mapping[str, int]], depth: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.verifications = Counter(
            "verifications",
            "Verifications by verdict status",
            ["status"],
            registry=self.registry,
        )
        self._by_status = {status: self.verifications.labels(status) for status in STATUSES}
        self.latency = Histogram(
            "verify_latency_seconds",
            "Time to decide a verdict (server side)",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_Gauges(lag, depth))

    def observe(self, status: str, seconds: float) -> None:
        self._by_status[status].inc()
        self.latency.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
