"""The analytics service: per-service models refitted and scored in one background worker.

The pipeline calls :meth:`AnalyticsService.on_tick` after each stored tick; that only wakes the
worker, so neither a refit nor scoring ever sits on the tick's path. The worker fits every
service's model right after :meth:`start` and every ``refit_every_s`` after, scores the newest
tick, feeds anomaly events, refreshes capacity forecasts every ``forecast_every_s`` and
publishes an immutable :class:`AnalyticsResults` (also to ``data_dir/analytics.json`` for
web-only processes, which read it with :class:`AnalyticsView`; see :func:`analytics_for`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from tamma_dash.analytics.anomaly import FittedAnomalyModel, ServiceAnomalyModel
from tamma_dash.analytics.capacity import CapacityForecast, forecast_all
from tamma_dash.analytics.events import EventTracker
from tamma_dash.analytics.fitpool import FitPool
from tamma_dash.analytics.hints import OnsetTracker, root_cause_hint
from tamma_dash.analytics.results import (
    RESULTS_FILE,
    AnalyticsResults,
    AnalyticsView,
    ResultQueries,
)
from tamma_dash.analytics.servicemodel import SERVICE_SETTINGS, ffill, fit_service, score_tick
from tamma_dash.analytics.status import service_status
from tamma_dash.config import ServiceConfig
from tamma_dash.models import Clock, M, split_key
from tamma_dash.store.base import Latest

log = logging.getLogger(__name__)

Fitter = Callable[[pd.DataFrame, ServiceAnomalyModel], FittedAnomalyModel]
SKIPPED_METRICS = frozenset({"check:uptime", M.RL_RESET_S, M.SCRAPE_OK})
MIN_FIT_ROWS = 60

__all__ = ["RESULTS_FILE", "AnalyticsService", "AnalyticsView", "analytics_for"]


class HistoryStore(Protocol):
    """What analytics read: series names, the newest points and wide frames."""

    def series(self) -> list[str]: ...

    def latest(self) -> dict[str, Latest]: ...

    def frame(self, keys: Sequence[str], start: float, end: float) -> pd.DataFrame: ...


class AnalyticsService(ResultQueries):
    """Background refits and per-tick scoring; thread-safe snapshots for pages and rules."""

    def __init__(
        self, store: HistoryStore, services: Sequence[ServiceConfig], *, interval_s: float,
        thresholds: Mapping[str, tuple[float, float]], clock: Clock = time.time,
        refit_every_s: float = 600.0, forecast_every_s: float = 60.0, train_s: float = 86_400.0,
        data_dir: Path | None = None, settings: ServiceAnomalyModel = SERVICE_SETTINGS,
        fitter: Fitter = fit_service, publish_every_s: float = 1.0, score_every_s: float = 1.0,
        pause_s: float = 0.02, fit_pool: FitPool | None = None,
    ) -> None:
        super().__init__(store.frame)
        self.store, self.services = store, tuple(services)
        self.interval_s, self.thresholds, self.clock = interval_s, dict(thresholds), clock
        self.refit_every_s, self.forecast_every_s = refit_every_s, forecast_every_s
        self.train_s, self.data_dir, self.settings = train_s, data_dir, settings
        self.fitter, self.publish_every_s = fitter, publish_every_s
        self.fit_pool = fit_pool  # fits in a worker process (see fitpool.py); None: this thread
        self.score_every_s, self.pause_s = max(interval_s, score_every_s), pause_s
        self.models: dict[str, FittedAnomalyModel] = {}
        self.fitted_at: dict[str, float] = {}
        self.tracker = EventTracker()
        self.onsets = OnsetTracker()
        self.last_refit_s = self.last_score_s = math.nan
        self.errors = 0
        self._results = AnalyticsResults()
        self._forecasts: tuple[CapacityForecast, ...] = ()
        self._lock = threading.Lock()
        self._wake, self._stop = threading.Event(), threading.Event()
        self._pending = False
        self._thread: threading.Thread | None = None
        self._refit_due, self._forecast_due, self._saved_at = -math.inf, -math.inf, -math.inf
        self._refit_gap = min(refit_every_s, max(60.0, 12 * interval_s))
        self._score_due = -math.inf
        self._restore()

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> AnalyticsService:
        """Start the worker; its first act is a fit, so start() itself returns at once."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="analytics", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.fit_pool is not None:
            self.fit_pool.close()

    def on_tick(self, _report: Any = None) -> None:
        """Pipeline listener: note that a tick arrived and wake the worker (microseconds)."""
        self._pending = True
        self._wake.set()

    def results(self) -> AnalyticsResults:
        with self._lock:
            return self._results

    def _run(self) -> None:
        while not self._stop.is_set():
            now = self.clock()
            if now >= self._refit_due:
                self._guard(self.refit)
                self._refit_due = now + self._refit_gap
                if self.models:  # 1, 2, 4 ... min: learn the first live data soon
                    self._refit_gap = min(2 * self._refit_gap, self.refit_every_s)
            if self._pending and now >= self._score_due:
                self._pending = False
                self._score_due = now + self.score_every_s
                self._guard(self.score)
            if now >= self._forecast_due:
                self._guard(self.forecast)
                self._forecast_due = now + self.forecast_every_s
            self._guard(self.publish)
            self._wake.wait(max(self.interval_s, 0.05))
            self._wake.clear()

    def _guard(self, step: Callable[[], object]) -> None:
        try:
            step()
        except Exception:  # analytics must never take the collector down
            self.errors += 1
            log.exception("analytics step %s failed", getattr(step, "__name__", step))

    # -- the work (also callable directly, e.g. with a fake clock in tests) ---------------

    def service_keys(self) -> dict[str, list[str]]:
        """The series modelled per service (counters of elapsed time and constants left out)."""
        names = {s.name for s in self.services}
        out: dict[str, list[str]] = {}
        for key in self.store.series():
            service, metric = split_key(key)
            if service in names and metric not in SKIPPED_METRICS:
                out.setdefault(service, []).append(key)
        return out

    def refit(self, now: float | None = None) -> dict[str, FittedAnomalyModel]:
        """Fit every service's model on the history up to ``now``; swaps models in one go."""
        now = self.clock() if now is None else now
        started = time.perf_counter()
        groups = self.service_keys()
        frame = self.store.frame([k for ks in groups.values() for k in ks], now - self.train_s,
                                 now)
        models = dict(self.models)
        for service, keys in groups.items():
            sub = frame[keys].dropna(axis=1, how="all")
            if sub.shape[1] == 0 or len(sub) < MIN_FIT_ROWS:
                continue
            models[service] = (self.fit_pool.run(self.fitter, sub, self.settings)
                               if self.fit_pool is not None else self.fitter(sub, self.settings))
            self.fitted_at[service] = now
            if self._thread is not None and self._stop.wait(self.pause_s):
                break  # between services: let the web and tick threads have the GIL
        self.models = models
        self.last_refit_s = time.perf_counter() - started
        return models

    def score(self, now: float | None = None) -> AnalyticsResults:
        """Score the newest tick of every fitted service and update events and the hint."""
        now = self.clock() if now is None else now
        started = time.perf_counter()
        models = self.models
        keys = list(dict.fromkeys(m for model in models.values() for m in model.metrics))
        span = (self.settings.long + 2) * self.interval_s * 2.0
        tail = self.store.frame(keys, now - span, now) if keys else pd.DataFrame()
        values = ffill(tail.to_numpy(dtype=float)[-(self.settings.long + 1):])
        column = {k: i for i, k in enumerate(keys)}
        service_scores, series_scores = {}, {}
        for service, model in models.items():
            rows = values[:, [column[m] for m in model.metrics]]
            if len(rows) == 0 or np.isnan(rows[-1]).all():
                continue
            tick = score_tick(model, rows)
            service_scores[service] = tick.result.score
            series_scores.update(tick.result.per_series)
            self.tracker.update(service, float(tail.index[-1]), tick.evidence, tick.result)
        results = self._assemble(now, service_scores, series_scores)
        self.last_score_s = time.perf_counter() - started
        return results

    def _assemble(self, now: float, service_scores: dict[str, float],
                  series_scores: dict[str, float]) -> AnalyticsResults:
        statuses, reasons = self._statuses(now)
        unhealthy = self.onsets.update(statuses, now)
        depends = {s.name: s.depends_on for s in self.services}
        hint = root_cause_hint(depends, statuses, reasons, unhealthy, self.tracker.open_events(),
                               together_s=self.interval_s)
        results = AnalyticsResults(now, service_scores, series_scores,
                                   tuple(self.tracker.events()), self._forecasts, hint,
                                   dict(self.fitted_at))
        with self._lock:
            self._results = results
        return results

    def _statuses(self, now: float) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
        """Each service's status word and reasons, as the status grid computes them."""
        grouped: dict[str, dict[str, Latest]] = {}
        for key, point in self.store.latest().items():
            service, metric = split_key(key)
            grouped.setdefault(service, {})[metric] = point
        words, reasons = {}, {}
        for svc in self.services:
            v = service_status(grouped.get(svc.name, {}), self.thresholds, now=now,
                               interval_s=self.interval_s)
            words[svc.name], reasons[svc.name] = v.status.word, v.reasons
        return words, reasons

    def forecast(self, now: float | None = None) -> list[CapacityForecast]:
        """Capacity forecasts of every target from history up to ``now``."""
        now = self.clock() if now is None else now
        found = forecast_all(self.store.frame, self.store.series(), self.thresholds, now)
        self._forecasts = tuple(found)
        with self._lock:
            r = self._results
            self._results = AnalyticsResults(r.generated_at, r.service_scores, r.series_scores,
                                             r.events, self._forecasts, r.hint, r.fitted,
                                             r.problems)
        return found

    def publish(self) -> None:
        """Write the newest results for web-only processes, at most every ``publish_every_s``."""
        if self.data_dir is None or time.monotonic() - self._saved_at < self.publish_every_s:
            return
        self._saved_at = time.monotonic()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.results().save(self.data_dir)

    def _restore(self) -> None:
        """Anomaly events from the last run's results file, so the timeline survives restarts."""
        if self.data_dir is None or not (self.data_dir / RESULTS_FILE).exists():
            return
        previous = AnalyticsResults.load(self.data_dir)
        self.tracker.restore(previous.events, previous.generated_at)
        self._forecasts = previous.forecasts
        with self._lock:
            self._results = AnalyticsResults(previous.generated_at,
                                             events=tuple(self.tracker.events()),
                                             forecasts=previous.forecasts)


def analytics_for(rt: Any) -> ResultQueries:
    """The runtime's analytics: its own service, else a reader of the collector's results."""
    if getattr(rt, "analytics", None) is not None:
        return rt.analytics  # type: ignore[no-any-return]
    view = getattr(rt, "_analytics_view", None)
    if view is None:
        view = AnalyticsView.load(Path(rt.settings.data_dir), rt.store.frame)
        rt._analytics_view = view
    return view  # type: ignore[no-any-return]
