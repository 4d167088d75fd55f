"""Cumulative counters and histograms of the demo fleet, integrated tick by tick since start.

Each tick contributes the model's rates at the tick's start times ``interval_s``; requests are
spread over histogram buckets by a log-normal with the model's median and spread, so the
bucket-interpolated quantiles of an increase match the model's p50/p95/p99.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tamma_dash.demo.context import Arr, FleetState
from tamma_dash.demo.faults import Fault
from tamma_dash.demo.model import FleetModel
from tamma_dash.demo.topology import FLEET_NAMES, HTTP_SERVING, WORKERS

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TASK_BUCKETS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
CODES = ("200", "404", "500", "503")
_CHUNK_TICKS = 20_000


@dataclass(frozen=True)
class HistogramSpec:
    """Which model arrays feed one histogram: events per second, median seconds, spread."""

    rate: str
    median: str
    sigma: str
    buckets: tuple[float, ...]


HISTOGRAMS: dict[str, HistogramSpec] = {
    "http": HistogramSpec("request_rate", "lat_median_s", "lat_sigma", HTTP_BUCKETS),
    "task": HistogramSpec("tasks_rate", "task_median_s", "task_sigma", TASK_BUCKETS),
    "query": HistogramSpec("query_rate", "query_median_s", "query_sigma", DB_BUCKETS),
}


def erf(x: Arr) -> Arr:
    """Vectorised error function (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7)."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
                + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def lognormal_cdf(x: Arr, median: Arr, sigma: Arr) -> Arr:
    """P(X <= x) for log-normal X with ``median`` and ``sigma`` (log-space spread)."""
    z = (np.log(x) - np.log(median)) / (sigma * np.sqrt(2.0))
    return 0.5 * (1.0 + erf(z))


def histogram_increments(events: Arr, median: Arr, sigma: Arr, buckets: Sequence[float]) -> dict[
    str, Arr
]:
    """Per-tick cumulative bucket counts (n, B), sums and counts for ``events`` per tick."""
    bounds = np.asarray(buckets, dtype=np.float64)[None, :]
    med = np.where(np.isfinite(median) & (median > 0), median, 1.0)[:, None]
    sig = np.where(np.isfinite(sigma) & (sigma > 0), sigma, 1.0)[:, None]
    cum = events[:, None] * lognormal_cdf(bounds, med, sig)
    mean = med[:, 0] * np.exp(sig[:, 0] ** 2 / 2.0)
    return {"buckets": cum, "sum": events * mean, "count": events}


def tick_increments(state: FleetState, interval_s: float) -> dict[str, dict[str, Arr]]:
    """What each tick adds to every counter of every fleet service (arrays over ticks)."""
    out: dict[str, dict[str, Arr]] = {}
    for name in FLEET_NAMES:
        st = {k: np.nan_to_num(v, nan=0.0) for k, v in state[name].items()}
        inc: dict[str, Arr] = {}
        if name in HTTP_SERVING:
            n = st["request_rate"] * interval_s
            share, s404 = st["error_share"], st["share_404"]
            for code, part in zip(CODES, (1.0 - share - s404, s404, 0.7 * share, 0.3 * share),
                                  strict=True):
                inc[f"requests:{code}"] = n * np.maximum(part, 0.0)
        if name == "orchestrator":
            inc["tasks_completed"] = st["tasks_completed_rate"] * interval_s
            inc["tasks_failed"] = st["tasks_failed_rate"] * interval_s
        if name in WORKERS:
            inc["worker_tasks"] = st["tasks_rate"] * interval_s
        for hname, hs in HISTOGRAMS.items():
            if hs.rate in st:
                hist = histogram_increments(st[hs.rate] * interval_s, st[hs.median],
                                            st[hs.sigma], hs.buckets)
                inc.update({f"{hname}_{k}": v for k, v in hist.items()})
        out[name] = inc
    return out


class CounterBook:
    """Totals since ``start_ts``; advances lazily to the current tick, never goes back."""

    def __init__(
        self, model: FleetModel, start_ts: float, timeline: Callable[[], Sequence[Fault]]
    ) -> None:
        self._model = model
        self._timeline = timeline
        self._last_tick = int(np.floor(start_ts / model.interval_s)) - 1
        self._totals: dict[str, dict[str, Arr]] = {}
        self._lock = threading.Lock()

    def totals(self, now: float) -> dict[str, dict[str, Arr]]:
        """Every service's counters including the tick that contains ``now`` (copies)."""
        target = int(np.floor(now / self._model.interval_s))
        with self._lock:
            while self._last_tick < target:
                last = min(target, self._last_tick + _CHUNK_TICKS)
                self._advance(np.arange(self._last_tick + 1, last + 1))
                self._last_tick = last
            return {s: {k: v.copy() for k, v in c.items()} for s, c in self._totals.items()}

    def _advance(self, ticks: np.ndarray) -> None:
        state = self._model.state(ticks * self._model.interval_s, self._timeline())
        for name, inc in tick_increments(state, self._model.interval_s).items():
            into = self._totals.setdefault(name, {})
            for key, values in inc.items():
                added = values.sum(axis=0)
                into[key] = into[key] + added if key in into else np.asarray(added, dtype=float)
