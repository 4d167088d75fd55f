"""The instants being modelled, with their load, noise draws and the faults active at each."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from tamma_dash.config import DEFAULT_THRESHOLDS
from tamma_dash.demo import noise
from tamma_dash.demo.faults import Fault

Arr = np.ndarray
ServiceState = dict[str, Arr]
FleetState = dict[str, ServiceState]

Z95 = 1.6448536269514722
Z99 = 2.3263478740408408


class TickContext:
    """Vectorised view of a set of instants ``t`` for one seed.

    Noise and load use the tick start ``tq = floor(t / interval) * interval`` so that every
    instant of a tick agrees with the backfill; faults and countdowns use the exact ``t``.
    """

    def __init__(
        self, seed: int, interval_s: float, t: np.ndarray | float, faults: Sequence[Fault] = ()
    ) -> None:
        self.seed = seed
        self.t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        self.k = np.floor(self.t / interval_s).astype(np.int64)
        self.tq = self.k * interval_s
        self.faults = tuple(faults)
        self.load = self.load_at(self.tq)

    @property
    def n(self) -> int:
        return int(self.t.shape[0])

    def white(self, service: str, metric: str) -> Arr:
        """N(0, 1) per tick, independent per (service, metric)."""
        return self.white_at(service, metric, self.k)

    def white_at(self, service: str, metric: str, index: Arr) -> Arr:
        """N(0, 1) per ``index`` (e.g. a rate-limit window number)."""
        if index.shape[0] == 1:
            return np.array([_one("normal", self.seed, service, metric, int(index[0]))])
        return noise.normal(self.seed, service, metric, index)

    def load_at(self, t: Arr) -> Arr:
        """Fleet load at instants ``t`` (cached for a single instant)."""
        if t.shape[0] == 1:
            return np.array([_one("load", self.seed, "", "", 0, float(t[0]))])
        return noise.load(self.seed, t)

    def unif(self, service: str, metric: str) -> Arr:
        """U[0, 1) per tick, independent per (service, metric)."""
        if self.n == 1:
            return np.array([_one("uniform", self.seed, service, metric, int(self.k[0]))])
        return noise.uniform(self.seed, service, metric, self.k)

    def slow(self, service: str, metric: str, period_s: float = 600.0) -> Arr:
        """Noise that wanders over ``period_s`` instead of jumping every tick."""
        if self.n == 1:
            tq = float(self.tq[0])
            return np.array([_one("smooth", self.seed, service, metric, 0, tq, period_s)])
        return noise.smooth(self.seed, service, metric, self.tq, period_s)

    def fault(self, service: str, kind: str) -> Arr:
        """Boolean mask: a ``kind`` fault is active on ``service`` at each instant."""
        mask = np.zeros(self.n, dtype=bool)
        for f in self._matching(service, kind):
            mask |= (self.t >= f.started) & (self.t < f.ends)
        return mask

    def elapsed(self, service: str, kind: str) -> Arr:
        """Seconds since the active ``kind`` fault on ``service`` started (0 when none)."""
        out = np.zeros(self.n)
        for f in self._matching(service, kind):
            on = (self.t >= f.started) & (self.t < f.ends)
            out = np.where(on, np.maximum(out, self.t - f.started), out)
        return out

    def progress(self, service: str, kind: str) -> Arr:
        """0..1 through the active ``kind`` fault on ``service`` (0 when none)."""
        out = np.zeros(self.n)
        for f in self._matching(service, kind):
            on = (self.t >= f.started) & (self.t < f.ends)
            frac = (self.t - f.started) / max(f.ends - f.started, 1e-9)
            out = np.where(on, np.maximum(out, frac), out)
        return out

    def last_end(self, service: str, kind: str) -> Arr:
        """End of the latest ``kind`` fault on ``service`` finished by each instant (-inf)."""
        out = np.full(self.n, -np.inf)
        for f in self._matching(service, kind):
            out = np.where(self.t >= f.ends, np.maximum(out, f.ends), out)
        return out

    def _matching(self, service: str, kind: str) -> list[Fault]:
        return [f for f in self.faults if f.service == service and f.kind == kind]


@functools.lru_cache(maxsize=16384)
def _one(
    kind: str, seed: int, service: str, metric: str, k: int, tq: float = 0.0, period: float = 1.0
) -> float:
    """One draw, cached: the live servers ask for the same tick's noise many times."""
    idx = np.array([k], dtype=np.int64)
    if kind == "normal":
        return float(noise.normal(seed, service, metric, idx)[0])
    if kind == "uniform":
        return float(noise.uniform(seed, service, metric, idx)[0])
    if kind == "load":
        return float(noise.load(seed, np.array([tq]))[0])
    return float(noise.smooth(seed, service, metric, np.array([tq]), period)[0])


def level(values: Arr, metric: str) -> Arr:
    """0 pass / 1 warn / 2 fail for a percent metric, by the dashboard's default thresholds."""
    warn, fail = DEFAULT_THRESHOLDS[metric]
    return np.where(values >= fail, 2, np.where(values >= warn, 1, 0))


def quantiles_ms(median_s: Arr, sigma: Arr) -> tuple[Arr, Arr, Arr]:
    """p50, p95, p99 in milliseconds of a log-normal with ``median_s`` and ``sigma``."""
    p50 = median_s * 1000.0
    return p50, p50 * np.exp(Z95 * sigma), p50 * np.exp(Z99 * sigma)
