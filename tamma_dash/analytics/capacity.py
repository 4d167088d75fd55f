"""Capacity forecasts for the fleet: which series run out, their limits, and when they get there.

Disk and memory against their degraded threshold, the orchestrator's queue against its backlog
limit, the database pool's active connections against its size, and each rate limit's
remaining quota against zero, compared with when it resets (running out after the reset does
not count). Pure functions of frames and latest values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tamma_dash.analytics.forecast import (
    DAY_S,
    SMOOTH_S,
    Forecast,
    forecast_cyclic,
    forecast_time_to,
    human_duration,
)
from tamma_dash.models import M, series_key, split_key
from tamma_dash.store.base import Latest

FrameFn = Callable[[Sequence[str], float, float], pd.DataFrame]
DEFAULT_LIMITS = {M.DISK: 85.0, M.MEMORY: 85.0, M.QUEUE_DEPTH: 30.0}
WINDOW_S = {M.DISK: 86_400.0, M.MEMORY: 6 * 3600.0, M.QUEUE_DEPTH: 3600.0, M.DB_ACTIVE: 3600.0,
            M.RL_REMAINING: 1800.0}
LABELS = {M.DISK: "disk", M.MEMORY: "memory", M.QUEUE_DEPTH: "queue depth",
          M.DB_ACTIVE: "DB pool", M.RL_REMAINING: "rate limit"}
UNITS = {M.DISK: "%", M.MEMORY: "%"}
CYCLIC = frozenset({M.MEMORY, M.QUEUE_DEPTH, M.DB_ACTIVE})  # they follow the daily load


@dataclass(frozen=True)
class Target:
    """One series to forecast: its limit, which way it heads there, and how far back to fit."""

    key: str
    limit: float
    rising: bool
    window_s: float
    reset_s: float | None = None  # rate limits: seconds until the quota resets

    @property
    def resource(self) -> str:
        return split_key(self.key)[1]

    @property
    def cyclic(self) -> bool:
        """Follows the daily load, so it is forecast against its own last day."""
        return self.rising and self.resource in CYCLIC

    @property
    def lookback_s(self) -> float:
        """History a forecast reads: the window, plus two days for cyclic metrics."""
        return self.window_s + (2 * DAY_S + SMOOTH_S if self.cyclic else 0.0)


@dataclass(frozen=True)
class CapacityForecast:
    """A target's forecast in words and numbers (JSON-able via :meth:`as_dict`)."""

    key: str
    service: str
    resource: str
    label: str
    unit: str
    limit: float
    rising: bool
    value: float
    eta_s: float | None
    low_s: float | None
    high_s: float | None
    slope_per_s: float
    fitted_at: float
    reset_s: float | None
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> CapacityForecast:
        data: dict[str, Any] = {k: raw.get(k) for k in cls.__dataclass_fields__}
        if data["high_s"] is None and data["eta_s"] is not None:
            data["high_s"] = math.inf
        return cls(**data)

    @property
    def runs_out(self) -> bool:
        """Heads for its limit (for rate limits: before the quota resets)."""
        if self.eta_s is None:
            return False
        return self.reset_s is None or self.eta_s < self.reset_s


def targets(latest: Mapping[str, Latest],
            thresholds: Mapping[str, tuple[float, float]]) -> list[Target]:
    """Every forecastable series among the newest points, with its limit."""
    out: list[Target] = []
    for key in sorted(latest):
        service, metric = split_key(key)
        if metric in DEFAULT_LIMITS:
            limit = thresholds.get(metric, (DEFAULT_LIMITS[metric],))[0]
            out.append(Target(key, float(limit), True, WINDOW_S[metric]))
        elif metric == M.DB_ACTIVE:
            size = latest.get(series_key(service, M.DB_MAX))
            if size is not None and size.value > 0:
                out.append(Target(key, size.value, True, WINDOW_S[metric]))
        elif metric.startswith(M.RL_REMAINING):
            suffix = metric[len(M.RL_REMAINING):]
            reset = latest.get(series_key(service, M.RL_RESET_S + suffix))
            out.append(Target(key, 0.0, False, WINDOW_S[M.RL_REMAINING],
                              reset.value if reset is not None else None))
    return out


def forecast_target(target: Target, series: pd.Series, now: float) -> CapacityForecast | None:
    """One target's forecast from its history up to ``now`` (None with too little data).

    Metrics that follow the daily load (memory, queue depth, DB pool) are forecast against
    their own last day (:func:`forecast_cyclic`) once a day of history precedes the window.
    """
    if target.cyclic:
        f = forecast_cyclic(series, target.limit, now=now, window_s=target.window_s)
    else:
        f = forecast_time_to(series, target.limit, now=now, window_s=target.window_s,
                             rising=target.rising)
    if f is None:
        return None
    service, metric = split_key(target.key)
    base = M.RL_REMAINING if metric.startswith(M.RL_REMAINING) else metric
    label, unit = LABELS.get(base, metric), UNITS.get(base, "")
    finite = series[series.index <= now].dropna()
    value = float(finite.iloc[-1]) if len(finite) else math.nan
    return CapacityForecast(
        target.key, service, metric, label, unit, target.limit, target.rising, value,
        f.eta_s, f.low_s, f.high_s, f.slope_per_s, f.fitted_at, target.reset_s,
        describe(label, unit, target, f))


def describe(label: str, unit: str, target: Target, f: Forecast) -> str:
    """'disk 85 % in 3 d 4 h, between 2 d and 5 d' (or why not)."""
    what = f"{label} {target.limit:g}{' ' + unit if unit else ''}"
    if f.eta_s is None:
        return f"{label} not heading for {target.limit:g}{' ' + unit if unit else ''}"
    text = f"{what} in {human_duration(f.eta_s)}"
    if f.low_s is not None and f.high_s is not None:
        text += f", between {human_duration(f.low_s)} and {human_duration(f.high_s)}"
    if target.reset_s is not None:
        fits = f.eta_s >= target.reset_s
        text += f" ({'resets first' if fits else 'before its reset'}, in " \
                f"{human_duration(target.reset_s)})"
    return text


def relevant(keys: Sequence[str]) -> list[str]:
    """The series a capacity forecast may need: targets plus pool sizes and reset times."""
    wanted = (*DEFAULT_LIMITS, M.DB_ACTIVE, M.DB_MAX, M.RL_REMAINING, M.RL_RESET_S)
    return [k for k in keys if split_key(k)[1].startswith(wanted)]


def latest_before(frame_fn: FrameFn, keys: Sequence[str], now: float,
                  lookback_s: float = 3600.0) -> dict[str, Latest]:
    """The newest point at or before ``now`` of each key (the store's latest may be later)."""
    frame = frame_fn(list(keys), now - lookback_s, now)
    out: dict[str, Latest] = {}
    for key in frame.columns:
        column = frame[key].dropna()
        if len(column):
            out[str(key)] = Latest(float(column.index[-1]), float(column.iloc[-1]))
    return out


def forecast_all(frame_fn: FrameFn, keys: Sequence[str],
                 thresholds: Mapping[str, tuple[float, float]], now: float,
                 ) -> list[CapacityForecast]:
    """Forecasts of every target among ``keys`` from history up to ``now`` only."""
    out: list[CapacityForecast] = []
    found = targets(latest_before(frame_fn, relevant(keys), now), thresholds)
    for lookback in sorted({t.lookback_s for t in found}):
        group = [t for t in found if t.lookback_s == lookback]
        frame = frame_fn([t.key for t in group], now - lookback, now)
        for t in group:
            if t.key in frame:
                fc = forecast_target(t, frame[t.key], now)
                if fc is not None:
                    out.append(fc)
    return out


def etas(forecasts: Sequence[CapacityForecast]) -> dict[str, float]:
    """``{series_key: seconds to its limit}`` for those that get there (the forecast rule kind)."""
    return {f.key: float(f.eta_s) for f in forecasts if f.runs_out and f.eta_s is not None}
