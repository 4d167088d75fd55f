"""The bridge between the pipeline's tick and the AlertManager: statuses in, evaluation out."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tamma_dash.alerts.engine import AlertManager, TickOutcome
from tamma_dash.analytics.status import Verdict, service_status
from tamma_dash.api.snapshot import by_service
from tamma_dash.config import ServiceConfig
from tamma_dash.models import Clock
from tamma_dash.store.base import Latest

log = logging.getLogger(__name__)

Scores = Callable[[], Mapping[str, float]]


def service_verdicts(
    services: Sequence[ServiceConfig], latest: Mapping[str, Latest],
    thresholds: Mapping[str, tuple[float, float]], *, now: float, interval_s: float,
) -> dict[str, Verdict]:
    """Each service's status and why, as the status grid shows them."""
    grouped = by_service(latest)
    return {s.name: service_status(grouped.get(s.name, {}), thresholds, now=now,
                                   interval_s=interval_s) for s in services}


class AlertTicker:
    """A pipeline listener: evaluates every rule on each stored tick; never raises into it."""

    def __init__(
        self, manager: AlertManager, latest: Callable[[], Mapping[str, Latest]],
        services: Callable[[], Sequence[ServiceConfig]], *,
        thresholds: Mapping[str, tuple[float, float]], interval_s: float, clock: Clock,
        anomalies: Scores | None = None, forecasts: Scores | None = None,
    ) -> None:
        self.manager, self._latest, self._services = manager, latest, services
        self.thresholds, self.interval_s, self.clock = thresholds, interval_s, clock
        self.anomalies, self.forecasts = anomalies, forecasts
        self.last: TickOutcome | None = None
        self.last_seconds = 0.0
        self.errors = 0

    def __call__(self, _report: Any = None) -> TickOutcome | None:
        started = time.perf_counter()
        try:
            now = self.clock()
            latest = self._latest()
            verdicts = service_verdicts(self._services(), latest, self.thresholds, now=now,
                                        interval_s=self.interval_s)
            self.last = self.manager.evaluate(
                latest, {n: v.status.word for n, v in verdicts.items()}, now=now,
                anomalies=_call(self.anomalies), forecasts=_call(self.forecasts),
                reasons={n: v.reasons for n, v in verdicts.items()})
        except Exception:  # a bug here must not stop the collector
            self.errors += 1
            log.exception("alert evaluation failed")
            return None
        finally:
            self.last_seconds = time.perf_counter() - started
        return self.last


def _call(source: Scores | None) -> Mapping[str, float]:
    if source is None:
        return {}
    try:
        return source()
    except Exception:
        log.exception("analytics scores unavailable for alert rules")
        return {}
