"""Alerting on our own /metrics: alerts by state and severity, notifier deliveries and failures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from tamma_dash.alerts.engine import AlertManager
from tamma_dash.alerts.tick import AlertTicker

_COUNTS = ("sent", "failed", "dropped", "attempts", "retries")


class AlertMetrics:
    """A prometheus_client collector over a live AlertManager (read at scrape time)."""

    def __init__(self, manager: AlertManager, ticker: AlertTicker | None = None) -> None:
        self.manager, self.ticker = manager, ticker

    def describe(self) -> list[Metric]:
        return []  # unchecked: families come from collect() at scrape time

    def collect(self) -> Iterator[Metric]:
        active = GaugeMetricFamily("tamma_dash_alerts", "Active alerts by state and severity.",
                                   labels=["state", "severity"])
        counts: dict[tuple[str, str], int] = {}
        for a in self.manager.active():
            key = (a["state"], a["severity"])
            counts[key] = counts.get(key, 0) + 1
        for (state, severity), n in sorted(counts.items()):
            active.add_metric([state, severity], n)
        yield active
        yield from _notifier_families([n.status() for n in self.manager.notifiers.values()])
        if self.ticker is not None:
            yield GaugeMetricFamily("tamma_dash_alert_evaluation_seconds",
                                    "Time the last rule evaluation took.",
                                    value=self.ticker.last_seconds)
            yield CounterMetricFamily("tamma_dash_alert_evaluation_errors",
                                      "Rule evaluations that raised.", value=self.ticker.errors)
        yield GaugeMetricFamily("tamma_dash_alert_store_ok",
                                "1 when alert state is saved, 0 while saving fails.",
                                value=0.0 if self.manager.persist_error else 1.0)


def _notifier_families(status: list[dict[str, Any]]) -> Iterator[Metric]:
    fams = {c: CounterMetricFamily(f"tamma_dash_notifications_{c}",
                                   f"Notifications {c} per notifier.", labels=["notifier"])
            for c in _COUNTS}
    queued = GaugeMetricFamily("tamma_dash_notifications_queued",
                               "Notifications waiting per notifier.", labels=["notifier"])
    for s in status:
        for c in _COUNTS:
            fams[c].add_metric([s["name"]], float(s.get(c, 0)))
        queued.add_metric([s["name"]], float(s.get("queued", 0)))
    yield from fams.values()
    yield queued
