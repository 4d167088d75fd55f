"""Prometheus text for one demo service: gauges from the model now, counters from the book."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

from tamma_dash.demo.context import Arr, ServiceState
from tamma_dash.demo.counters import CODES, HISTOGRAMS
from tamma_dash.demo.topology import HTTP_SERVING, WORKERS

Totals = dict[str, Arr]

_HISTOGRAM_NAMES = {
    "http": ("tamma_http_request_duration_seconds", "HTTP request latency"),
    "task": ("tamma_task_duration_seconds", "Task run time on this worker"),
    "query": ("tamma_db_query_duration_seconds", "Database query latency"),
}


def _scalar(st: ServiceState, key: str) -> float:
    return float(np.nan_to_num(st[key][0], nan=0.0))


def _count(totals: Totals, key: str) -> float:
    return float(np.floor(totals.get(key, np.zeros(1)).sum()))


def _histogram(totals: Totals, kind: str) -> HistogramMetricFamily:
    """Cumulative buckets as whole counts (floored, which keeps them monotone in le and time)."""
    name, doc = _HISTOGRAM_NAMES[kind]
    bounds = HISTOGRAMS[kind].buckets
    cum = totals.get(f"{kind}_buckets", np.zeros(len(bounds)))
    count = _count(totals, f"{kind}_count")
    buckets = [(f"{b:g}", float(np.floor(c))) for b, c in zip(bounds, cum, strict=True)]
    buckets.append(("+Inf", count))
    total = float(totals.get(f"{kind}_sum", np.zeros(1)).sum())
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=round(total, 6))


def _families(service: str, st: ServiceState, totals: Totals) -> Iterator[object]:
    """The metric families ``service`` exports, by the names the collectors map."""
    if service == "orchestrator":
        yield GaugeMetricFamily("tamma_queue_depth", "Tasks waiting for a worker",
                                value=_scalar(st, "queue_depth"))
        yield GaugeMetricFamily("tamma_workers_active", "Workers running a task",
                                value=_scalar(st, "active_workers"))
        yield GaugeMetricFamily("tamma_workers_total", "Workers registered and alive",
                                value=_scalar(st, "workers_total"))
        yield CounterMetricFamily("tamma_tasks_completed_total", "Tasks finished successfully",
                                  value=_count(totals, "tasks_completed"))
        yield CounterMetricFamily("tamma_tasks_failed_total", "Tasks that failed",
                                  value=_count(totals, "tasks_failed"))
    if service in WORKERS:
        yield GaugeMetricFamily("tamma_worker_busy", "1 while this worker runs a task",
                                value=_scalar(st, "busy"))
        yield CounterMetricFamily("tamma_worker_tasks_total", "Tasks run by this worker",
                                  value=_count(totals, "worker_tasks"))
        yield _histogram(totals, "task")
    if service in HTTP_SERVING:
        yield _histogram(totals, "http")
        requests = CounterMetricFamily("tamma_http_requests_total", "HTTP requests by status",
                                       labels=["code"])
        for code in CODES:
            requests.add_metric([code], _count(totals, f"requests:{code}"))
        yield requests
    if service == "database":
        pool = GaugeMetricFamily("tamma_db_pool_connections", "Connection pool by state",
                                 labels=["state"])
        for state, key in (("active", "db_active"), ("idle", "db_idle"),
                           ("waiting", "db_waiting")):
            pool.add_metric([state], _scalar(st, key))
        yield pool
        yield GaugeMetricFamily("tamma_db_pool_max", "Connection pool size",
                                value=_scalar(st, "db_max"))
        yield _histogram(totals, "query")


class _Families(Collector):
    """A one-shot collector over precomputed families."""

    def __init__(self, families: list[object]) -> None:
        self._families = families

    def collect(self) -> Iterator[object]:  # type: ignore[override]
        yield from self._families


def render_metrics(service: str, st: ServiceState, totals: Totals) -> bytes:
    """Prometheus text exposition of ``service`` for one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(list(_families(service, st, totals))))
    return generate_latest(registry)
