"""Our own Prometheus metrics, in a registry of our own (nothing registered at import time)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from tamma_dash.models import split_key
from tamma_dash.pipeline import TickReport
from tamma_dash.store.base import Latest, StoreStats

SAMPLE_FAMILY = "tamma_sample"
"""Every series the collector stores, as ``tamma_sample{service="api",metric="cpu_percent"}``:
what the Prometheus history backend (store/promhistory.py) reads back."""


class SelfMetrics:
    """Tick duration, samples stored, collector errors, and the store's size and health."""

    def __init__(
        self,
        store_stats: Callable[[], StoreStats],
        latest: Callable[[], dict[str, Latest]] | None = None,
    ) -> None:
        """``latest`` (the store's newest point per series) adds the ``tamma_sample`` family."""
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.tick_seconds = Histogram(
            "tamma_dash_tick_duration_seconds",
            "Time one tick took (collect + store).",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.samples = Counter(
            "tamma_dash_samples_stored", "Samples handed to the store.", registry=r
        )
        self.dropped = Counter(
            "tamma_dash_samples_dropped", "Samples dropped as NaN or inf.", registry=r
        )
        self.errors = Counter(
            "tamma_dash_collector_errors",
            "Collector runs that failed or timed out.",
            ["collector"],
            registry=r,
        )
        self.collector_seconds = Gauge(
            "tamma_dash_collector_duration_seconds",
            "Duration of the last run of each collector.",
            ["collector"],
            registry=r,
        )
        self.last_tick = Gauge(
            "tamma_dash_last_tick_timestamp_seconds", "When the last tick ran.", registry=r
        )
        r.register(_StoreCollector(store_stats))
        if latest is not None:
            r.register(_SampleCollector(latest))

    def observe(self, report: TickReport) -> None:
        """Record one tick (a pipeline listener)."""
        self.tick_seconds.observe(report.seconds)
        self.samples.inc(report.samples)
        self.dropped.inc(report.dropped)
        self.last_tick.set(report.ts)
        for outcome in report.outcomes:
            self.collector_seconds.labels(outcome.name).set(outcome.seconds)
            if not outcome.ok:
                self.errors.labels(outcome.name).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StoreCollector:
    def __init__(self, stats: Callable[[], StoreStats]) -> None:
        self._stats = stats

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        s = self._stats()
        for name, doc, value in (
            ("tamma_dash_store_series", "Series held.", s.series),
            (
                "tamma_dash_store_points_in_memory",
                "Points in the in-memory window.",
                s.points_in_memory,
            ),
            (
                "tamma_dash_store_memory_bytes",
                "Bytes held by the in-memory window.",
                s.memory_bytes,
            ),
            ("tamma_dash_store_disk_bytes", "Bytes used by the SQLite files.", s.disk_bytes),
            (
                "tamma_dash_store_persist_ok",
                "1 when the last write reached disk.",
                int(s.persist_ok),
            ),
            ("tamma_dash_store_pending_ticks", "Ticks waiting to be written.", s.pending_ticks),
        ):
            yield GaugeMetricFamily(name, doc, value=float(value))


class _SampleCollector:
    """The newest value of every stored series, so that Prometheus scraping us gets them all."""

    def __init__(self, latest: Callable[[], dict[str, Latest]]) -> None:
        self._latest = latest

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            SAMPLE_FAMILY,
            "Newest value of each series tamma-dash collects (service/metric).",
            labels=["service", "metric"],
        )
        for key, point in sorted(self._latest().items()):
            family.add_metric(list(split_key(key)), point.value)
        yield family
