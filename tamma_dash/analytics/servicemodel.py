"""Fleet-speed fitting and batch scoring of the per-service anomaly model.

:meth:`ServiceAnomalyModel.fit` scores its calibration rows one at a time (the per-tick tree
walk), which costs about a second per service; :func:`fit_service` gives the same kind of
:class:`FittedAnomalyModel` from sklearn's vectorised ``score_samples`` and trains the forest on
a random subset of rows (the forest samples ``max_samples`` rows per tree anyway), so a refit of
the whole demo fleet stays within the two-second budget. :func:`score_rows` scores every row of
a frame at once, causally, for back-tests and for seeding the anomaly timeline.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

from tamma_dash.analytics.anomaly import (
    EPS,
    N_FEATURES,
    AnomalyResult,
    Driver,
    FittedAnomalyModel,
    ServiceAnomalyModel,
    frame_features,
)
from tamma_dash.analytics.baseline import distance_from_baseline
from tamma_dash.analytics.detector import OUTSIDE_CAP, TrailingModel

SERVICE_SETTINGS = ServiceAnomalyModel(n_estimators=30, calibration_rows=1500)
TRAIN_ROWS = 2048
MAX_EVIDENCE = 50.0
MIN_SPAN = 1.0


def fit_service(
    frame: pd.DataFrame, settings: ServiceAnomalyModel = SERVICE_SETTINGS,
    train_rows: int = TRAIN_ROWS,
) -> FittedAnomalyModel:
    """Train a service model on its wide history frame (float ts index, one column per metric).

    Raises ValueError when there are too few rows or no metric, like ``ServiceAnomalyModel.fit``.
    """
    s = settings
    if frame.shape[1] == 0 or len(frame) < 2 * s.short:
        raise ValueError(
            f"need at least {2 * s.short} rows and one metric to fit, got {frame.shape}")
    warm = min(s.long, len(frame) // 2)  # partial windows give wild z-scores
    feats = frame_features(frame, s.long, s.short)[warm:]
    rng = np.random.default_rng(s.seed)
    order = rng.permutation(len(feats))
    train = feats[order[: min(train_rows, len(feats) // 2)]]
    forest = IsolationForest(
        n_estimators=s.n_estimators, max_samples=min(s.max_samples, len(train)),
        random_state=s.seed,
    ).fit(train)
    pick = order[len(train) :][: s.calibration_rows]  # held out: in-sample rows look tamer
    model = TrailingModel(forest, feats)
    # calibration rows lie inside the range of ``feats``, so the out-of-range credit is 0 there
    raw_ref = np.sort(-forest.score_samples(feats[pick]))
    per_metric = np.abs(feats).reshape(len(feats), -1, N_FEATURES).max(axis=2)
    tail = frame.astype(float).iloc[-s.band_rows :]
    with np.errstate(all="ignore"):
        bands = np.nanquantile(tail.to_numpy(), [0.05, 0.5, 0.95], axis=0).T
    return FittedAnomalyModel(
        s, list(map(str, frame.columns)), model, raw_ref, np.sort(per_metric, axis=0), bands
    )


class TickScore(NamedTuple):
    """One tick of one service: the 0..1 scores with their drivers, and the event evidence."""

    result: AnomalyResult
    evidence: float


def combined_evidence(service_ev: float, series_ev: np.ndarray) -> float:
    """The stronger of the forest's and the strangest series' evidence (Bonferroni over series)."""
    if len(series_ev) == 0:
        return service_ev
    return max(service_ev, float(np.max(series_ev)) - float(np.log(len(series_ev))))


def score_tick(model: FittedAnomalyModel, tail: pd.DataFrame | np.ndarray,
               max_drivers: int = 5) -> TickScore:
    """Score the newest row of ``tail`` (``long + 1`` rows give full features).

    ``tail`` is a frame, or an array already forward-filled with ``model.metrics`` as columns
    (the service fills the whole fleet's tail once per tick).
    """
    s = model.settings
    if isinstance(tail, pd.DataFrame):
        tail = ffill(tail.reindex(columns=model.metrics).to_numpy(dtype=float))
    x = tail[-(s.long + 1) :]
    feats = tick_features(x, s.long, s.short)
    raw = batch_raw(model.forest, feats[None, :])
    per_metric = np.abs(feats).reshape(-1, N_FEATURES).max(axis=1)
    per, per_ev = column_tails(model.metric_ref, per_metric)
    latest = x[-1] if len(x) else np.full(len(per), np.nan)
    drivers = sorted(
        (Driver(m, float(latest[i]), float(model.bands[i, 1]),
                distance_from_baseline(float(latest[i]), model.bands[i]))
         for i, m in enumerate(model.metrics) if per[i] >= 0.5),
        key=lambda d: -per[model.metrics.index(d.metric)],
    )[:max_drivers]
    result = AnomalyResult(float(tail_scores(model.raw_ref, raw)[0]),
                           dict(zip(model.metrics, map(float, per), strict=True)), drivers)
    return TickScore(result, combined_evidence(float(evidence(model.raw_ref, raw)[0]), per_ev))


def ffill(a: np.ndarray) -> np.ndarray:
    """Forward-fill NaN down each column (leading NaN stay), in numpy."""
    if a.size == 0:
        return a
    rows = np.where(np.isnan(a), 0, np.arange(a.shape[0])[:, None])
    np.maximum.accumulate(rows, axis=0, out=rows)
    return a[rows, np.arange(a.shape[1])]


def tick_features(x: np.ndarray, long: int, short: int) -> np.ndarray:
    """``anomaly.last_row_features`` for rows that are already forward-filled (no pandas)."""
    cur = x[-1]
    prev = x[-2] if len(x) > 1 else np.full(x.shape[1], np.nan)
    past_l, past_s, now_s = x[-long - 1 : -1], x[-short - 1 : -1], x[-short:]
    with np.errstate(all="ignore"):
        mean_l, std_l = _stat(past_l, np.nanmean), _stat(past_l, np.nanstd)
        scale = std_l + EPS * (np.abs(mean_l) + 1.0)
        parts = [
            (cur - mean_l) / scale,
            (cur - _stat(past_s, np.nanmean)) / (_stat(past_s, np.nanstd) + scale),
            (cur - prev) / scale,
            np.log((_stat(now_s, np.nanstd) + scale) / scale),
        ]
    out = np.stack(parts, axis=1).reshape(-1)
    out[~np.isfinite(out)] = 0.0
    return out


def _stat(block: np.ndarray, fn: Any) -> np.ndarray:
    """Column statistic over columns with two finite points (NaN elsewhere)."""
    finite = np.isfinite(block)
    if finite.all() and len(block) >= 2:  # the usual case: skip the slow nan-aware path
        return np.asarray(np.mean(block, axis=0) if fn is np.nanmean else np.std(block, axis=0))
    ok = np.sum(finite, axis=0) >= 2
    out = np.full(block.shape[1], np.nan)
    if ok.any():
        out[ok] = fn(block[:, ok], axis=0)
    return out


def column_tails(ref: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column j, :func:`tail_scores` and :func:`evidence` of ``values[j]`` vs ``ref[:, j]``."""
    n = ref.shape[0]
    above = n - np.array([np.searchsorted(ref[:, j], v, side="left")
                          for j, v in enumerate(values)], dtype=float)
    scores = np.clip(np.log((above + 1) / (n + 1)) / np.log(1.0 / (n + 1)), 0.0, 1.0) + 0.0
    top = ref[int(0.95 * (n - 1)) :]
    scale = np.maximum(np.mean(top - top[0], axis=0), 1e-9 * (1.0 + np.abs(top[-1])))
    beyond = np.maximum(values - ref[-1], 0.0) / scale
    return scores, np.minimum(scores * np.log(n + 1) + beyond, MAX_EVIDENCE)


class Scored(NamedTuple):
    """Per-row service scores, per-series scores (rows x metrics) and event evidence."""

    service: np.ndarray
    per_series: np.ndarray
    evidence: np.ndarray


def score_rows(model: FittedAnomalyModel, frame: pd.DataFrame, first: int = 0) -> Scored:
    """Every row's scores from row ``first`` on, at once; row i uses rows up to i only."""
    s = model.settings
    x = frame.reindex(columns=model.metrics).astype(float)
    feats = frame_features(x, s.long, s.short)[first:]
    m = len(model.metrics)
    per_metric = np.abs(feats).reshape(len(feats), m, N_FEATURES).max(axis=2)
    ref = model.metric_ref
    per = np.column_stack([tail_scores(ref[:, i], per_metric[:, i]) for i in range(m)])
    per_ev = np.column_stack([evidence(ref[:, i], per_metric[:, i]) for i in range(m)])
    raw = batch_raw(model.forest, feats)
    svc_ev = evidence(model.raw_ref, raw)
    ev = np.array([combined_evidence(float(a), b) for a, b in zip(svc_ev, per_ev, strict=True)])
    return Scored(tail_scores(model.raw_ref, raw), per.reshape(len(feats), m), ev)


def evidence(sorted_ref: np.ndarray, values: np.ndarray) -> np.ndarray:
    """-log of the tail probability, extended past the reference's maximum by an exponential tail.

    Within the reference this is ``tail_scores * log(n + 1)``; beyond it every further mean
    excess of the top 5 % adds one, so a value far outside anything seen counts for more than
    one just past the edge (which 0..1 scores cannot say).
    """
    n = len(sorted_ref)
    base = tail_scores(sorted_ref, values) * np.log(n + 1)
    top = sorted_ref[int(0.95 * (n - 1)) :]
    scale = max(float(np.mean(top - top[0])), 1e-9 * (1.0 + abs(float(top[-1]))))
    beyond = np.maximum(np.asarray(values, dtype=float) - float(sorted_ref[-1]), 0.0) / scale
    return np.minimum(base + beyond, MAX_EVIDENCE)


def tail_scores(sorted_ref: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Vectorised ``anomaly._tail_score``: 0..1 from the share of reference values at or above."""
    n = len(sorted_ref)
    above = n - np.searchsorted(sorted_ref, values, side="left")
    p = (above + 1) / (n + 1)
    return np.clip(np.log(p) / np.log(1.0 / (n + 1)), 0.0, 1.0) + 0.0  # no -0.0


def batch_raw(model: TrailingModel, feats: np.ndarray) -> np.ndarray:
    """``model.raw(feats)`` for many rows, with a sturdier out-of-range credit.

    The credit counts in training ranges of at least ``MIN_SPAN`` (features are z-scores): a
    feature that never moved in training (a constant metric) has a range of ~0, and rounding
    noise of 1e-12 outside it must not count as ten ranges.
    """
    feats = np.asarray(feats, dtype=float)
    columns = getattr(model, "columns", None) or list(range(feats.shape[1]))
    picked = feats[:, columns]
    outside = np.maximum(picked - model.hi, 0.0) + np.maximum(model.lo - picked, 0.0)
    bonus = np.minimum(outside / np.maximum(model.span, MIN_SPAN), OUTSIDE_CAP).mean(axis=1)
    return np.asarray(model.forest.raw(feats) + model.weight * bonus, dtype=float)
