"""Per-service anomaly model: an IsolationForest over every metric plus derived features.

Features per metric (all causal): its z-score against the trailing long window, its z-score
against the short window, its change since the previous row, and the ratio of short to long
volatility. Scores are tail probabilities against the training rows mapped to 0..1 (0 is
ordinary, 1 is beyond anything seen in training), so a threshold means the same everywhere.
Fitting is a pure function returning a new model, so the pipeline can refit in a worker thread
and swap the model in without blocking a tick.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

from tamma_dash.analytics.baseline import distance_from_baseline
from tamma_dash.analytics.detector import TrailingModel

N_FEATURES = 4
EPS = 1e-6


class Driver(NamedTuple):
    """A metric that drove an anomaly, with its value, usual value and distance (band widths)."""

    metric: str
    value: float
    median: float
    distance: float


@dataclass(frozen=True)
class AnomalyResult:
    """Service score (0..1), per-series scores (0..1) and the metrics that explain it."""

    score: float
    per_series: dict[str, float]
    drivers: list[Driver] = field(default_factory=list)


def frame_features(frame: pd.DataFrame, long: int, short: int) -> np.ndarray:
    """Feature matrix (rows x metrics*4) for every row of a wide frame (vectorised, causal)."""
    x = frame.astype(float).ffill()
    prev = x.shift(1)
    past_l = prev.rolling(long, min_periods=2)
    past_s = prev.rolling(short, min_periods=2)
    now_s = x.rolling(short, min_periods=2)
    mean_l, std_l = past_l.mean(), past_l.std(ddof=0)
    scale = std_l + EPS * (mean_l.abs() + 1.0)
    ratio = ((now_s.std(ddof=0) + scale) / scale).to_numpy(dtype=float)
    parts = [
        ((x - mean_l) / scale).to_numpy(dtype=float),
        ((x - past_s.mean()) / (past_s.std(ddof=0) + scale)).to_numpy(dtype=float),
        ((x - prev) / scale).to_numpy(dtype=float),
        np.log(ratio),
    ]
    with np.errstate(all="ignore"):
        return _stack(parts)


def last_row_features(values: np.ndarray, long: int, short: int) -> np.ndarray:
    """The last row of :func:`frame_features` from a (rows x metrics) array, fast."""
    x = pd.DataFrame(values).ffill().to_numpy(dtype=float)
    cur, prev = x[-1], x[-2] if len(x) > 1 else np.full(x.shape[1], np.nan)
    past_l, past_s, now_s = x[-long - 1 : -1], x[-short - 1 : -1], x[-short:]
    with np.errstate(all="ignore"):
        mean_l, std_l = _nanstat(past_l, np.nanmean), _nanstat(past_l, np.nanstd)
        scale = std_l + EPS * (np.abs(mean_l) + 1.0)
        std_now = np.where(
            np.sum(np.isfinite(now_s), axis=0) >= 2, _nanstat(now_s, np.nanstd), np.nan
        )
        parts = [
            (cur - mean_l) / scale,
            (cur - _nanstat(past_s, np.nanmean)) / (_nanstat(past_s, np.nanstd) + scale),
            (cur - prev) / scale,
            np.log((std_now + scale) / scale),
        ]
    return _stack([p[None, :] for p in parts])[0]


def _nanstat(block: np.ndarray, fn: object) -> np.ndarray:
    """Column statistic needing two finite points (NaN otherwise), like pandas min_periods=2."""
    ok = np.sum(np.isfinite(block), axis=0) >= 2
    out = np.full(block.shape[1], np.nan)
    if ok.any():
        out[ok] = fn(block[:, ok], axis=0)  # type: ignore[operator]
    return out


def _stack(parts: list[np.ndarray]) -> np.ndarray:
    """Interleave per-metric features as metric-major columns; non-finite becomes 0."""
    out = np.stack(parts, axis=2).reshape(parts[0].shape[0], -1)
    out[~np.isfinite(out)] = 0.0
    return out


def _tail_score(sorted_ref: np.ndarray, value: float) -> float:
    """0..1 from the share of reference values at or above ``value`` (log scale)."""
    n = len(sorted_ref)
    above = n - int(np.searchsorted(sorted_ref, value, side="left"))
    p = (above + 1) / (n + 1)
    return float(min(1.0, max(0.0, math.log(p) / math.log(1.0 / (n + 1)))))


@dataclass(frozen=True)
class ServiceAnomalyModel:
    """Unfitted settings; :meth:`fit` returns a :class:`FittedAnomalyModel`."""

    long: int = 720
    short: int = 12
    n_estimators: int = 100
    max_samples: int = 256
    calibration_rows: int = 2000
    band_rows: int = 720
    seed: int = 0

    def fit(self, frame: pd.DataFrame) -> FittedAnomalyModel:
        """Train on a service's wide history frame (float ts index, one column per metric)."""
        if frame.shape[1] == 0 or len(frame) < 2 * self.short:
            raise ValueError(
                f"need at least {2 * self.short} rows and one metric to fit, got {frame.shape}"
            )
        warm = min(self.long, len(frame) // 2)  # partial windows give wild z-scores
        feats = frame_features(frame, self.long, self.short)[warm:]
        rng = np.random.default_rng(self.seed)
        forest = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=min(self.max_samples, len(feats)),
            random_state=self.seed,
        ).fit(feats)
        pick = rng.choice(len(feats), size=min(self.calibration_rows, len(feats)), replace=False)
        model = TrailingModel(forest, feats)
        raw_ref = np.sort(model.raw(feats[pick]))
        per_metric = np.abs(feats).reshape(len(feats), -1, N_FEATURES).max(axis=2)
        tail = frame.astype(float).iloc[-self.band_rows :]
        bands = np.nanquantile(tail.to_numpy(), [0.05, 0.5, 0.95], axis=0).T
        return FittedAnomalyModel(
            self, list(map(str, frame.columns)), model, raw_ref, np.sort(per_metric, axis=0), bands
        )


@dataclass(frozen=True)
class FittedAnomalyModel:
    """A trained service model; :meth:`score` is cheap enough for every tick."""

    settings: ServiceAnomalyModel
    metrics: list[str]
    forest: TrailingModel
    raw_ref: np.ndarray
    metric_ref: np.ndarray
    bands: np.ndarray

    def score(self, frame_tail: pd.DataFrame, max_drivers: int = 5) -> AnomalyResult:
        """Score the newest row of ``frame_tail`` (needs ``long + 1`` rows for full features)."""
        tail = frame_tail.reindex(columns=self.metrics).astype(float)
        s = self.settings
        feats = last_row_features(tail.to_numpy()[-(s.long + 1) :], s.long, s.short)
        raw = float(self.forest.raw(feats[None, :])[0])
        per_metric = np.abs(feats).reshape(-1, N_FEATURES).max(axis=1)
        per_series = {
            m: _tail_score(self.metric_ref[:, i], float(per_metric[i]))
            for i, m in enumerate(self.metrics)
        }
        latest = (
            tail.ffill().iloc[-1].to_numpy() if len(tail) else np.full(len(self.metrics), np.nan)
        )
        drivers = [
            Driver(
                m,
                float(latest[i]),
                float(self.bands[i, 1]),
                distance_from_baseline(float(latest[i]), self.bands[i]),
            )
            for i, m in enumerate(self.metrics)
            if per_series[m] >= 0.5
        ]
        drivers.sort(key=lambda d: -per_series[d.metric])
        return AnomalyResult(_tail_score(self.raw_ref, raw), per_series, drivers[:max_drivers])
