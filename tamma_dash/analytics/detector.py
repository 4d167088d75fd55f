"""The streaming single-series detector: causal features, a refitted IsolationForest, likelihood.

Per row: four causal features (level, step size, z-scores against a short and a long window);
an IsolationForest refitted every ``refit_every`` rows on the trailing ``train_rows``; the mean
raw score of the last ``lik_short`` rows compared with the ``lik_long`` raw scores before them
(a normal tail, as HTM's anomaly likelihood does); and a score reported only where it beats
every level of the previous ``suppress_rows`` rows, so one event raises one alarm.

Every score depends only on the rows up to it, so scoring a prefix gives exactly the prefix of
the scores; feeding rows one at a time (:class:`StreamingDetector`) gives the same scores up to
float rounding.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import log_ndtr
from sklearn.ensemble import IsolationForest

EPS = 1e-9
N_FEATURES = 4
OUTSIDE_CAP = 10.0


@dataclass(frozen=True)
class DetectorConfig:
    """One configuration for every series (row counts, so the tick interval does not matter)."""

    short: int = 12  # rows in the short z-score window
    long: int = 144  # rows in the long window (robust median and p10-p90 spread)
    train_rows: int = 1000  # trailing rows each forest is fitted on
    refit_every: int = 250  # refit at every multiple of this row count
    min_train: int = 200  # rows before the first fit (scores are 0 until then)
    n_estimators: int = 50
    max_samples: int = 256
    lik_short: int = 12  # rows averaged into the recent raw score
    lik_long: int = 2000  # rows of raw-score history the recent mean is compared with
    lik_min: int = 100  # raw scores needed before the likelihood speaks
    suppress_rows: int = 300  # a score must beat every level of this many rows before it
    outside_weight: float = 0.0  # out-of-range credit (see TrailingModel); off here
    seed: int = 0

    @property
    def lookback(self) -> int:
        """Rows of values a feature row needs (itself included)."""
        return self.long + 2


def features(values: np.ndarray, cfg: DetectorConfig) -> np.ndarray:
    """Causal feature rows: level, size of the step, z-scores against short and long windows.

    Scales are robust (p10-p90 of the long window) so one spike does not hide the next.
    """
    x = pd.Series(np.asarray(values, dtype=float))
    if len(x) == 0:
        return np.zeros((0, N_FEATURES))
    prev = x.shift(1)
    past_s = prev.rolling(cfg.short, min_periods=2)
    past_l = prev.rolling(cfg.long, min_periods=2)
    l_med = past_l.median()
    l_std = past_l.std(ddof=0)
    l_spread = (past_l.quantile(0.9) - past_l.quantile(0.1)) / 2.56 + EPS * (1.0 + l_med.abs())
    cols = [
        x,
        (x - prev).abs() / (l_spread + l_std),
        (x - past_s.mean()) / (past_s.std(ddof=0) + l_spread),
        (x - l_med) / l_spread,
    ]
    out = np.column_stack([c.to_numpy(dtype=float) for c in cols])
    out[~np.isfinite(out)] = 0.0
    return out


def _fit(train: np.ndarray, cfg: DetectorConfig, k: int) -> IsolationForest:
    """A forest for refit number ``k`` (its own seed, so the schedule is reproducible)."""
    forest = IsolationForest(
        n_estimators=cfg.n_estimators,
        max_samples=min(cfg.max_samples, len(train)),
        random_state=cfg.seed + k,
    )
    return forest.fit(train)


class TrailingModel:
    """A forest fitted on the trailing rows plus their range, for out-of-range credit.

    An isolation tree cannot tell a point far beyond the training range from the most
    extreme training point (both land in the same leaf), so the raw score adds how far
    outside the range each feature lies, in training ranges (capped at ``OUTSIDE_CAP``),
    times ``weight``. The single-series detector leaves it off (it scored worse on NAB);
    the service model uses it.
    """

    def __init__(self, forest: IsolationForest, train: np.ndarray, weight: float = 1.0) -> None:
        self.forest = FastForest(forest)
        self.weight = weight
        self.lo, self.hi = train.min(axis=0), train.max(axis=0)
        self.span = np.maximum(self.hi - self.lo, EPS)

    def raw(self, feats: np.ndarray) -> np.ndarray:
        """Forest score (0..1) plus the mean out-of-range distance of each row."""
        outside = np.maximum(feats - self.hi, 0.0) + np.maximum(self.lo - feats, 0.0)
        bonus = np.minimum(outside / self.span, OUTSIDE_CAP).mean(axis=1)
        return self.forest.raw(feats) + self.weight * bonus


def raw_scores(feats: np.ndarray, cfg: DetectorConfig) -> np.ndarray:
    """Raw anomaly scores per row (about 0.5 is ordinary); NaN before enough history."""
    n = len(feats)
    out = np.full(n, np.nan)
    start = cfg.min_train
    while start < n:
        k = start // cfg.refit_every
        train = feats[max(0, start - cfg.train_rows) : start]
        stop = min(n, (k + 1) * cfg.refit_every)
        model = TrailingModel(_fit(train, cfg, k), train, cfg.outside_weight)
        out[start:stop] = model.raw(feats[start:stop])
        start = stop
    return out


def likelihood(raw: np.ndarray, cfg: DetectorConfig) -> np.ndarray:
    """Surprise (0..1) of the recent mean raw score against the raw scores before it."""
    r = pd.Series(raw)
    recent = r.rolling(cfg.lik_short, min_periods=1).mean()
    hist = r.shift(cfg.lik_short).rolling(cfg.lik_long, min_periods=cfg.lik_min)
    z = (recent - hist.mean()) / hist.std(ddof=0).clip(lower=1e-4)
    return surprise(z.to_numpy(dtype=float))


def surprise(z: np.ndarray) -> np.ndarray:
    """Map a z-score to 0..1 through its normal tail: p = 1e-5 gives 0.63; NaN gives 0."""
    with np.errstate(all="ignore"):
        nlog10p = -log_ndtr(-np.asarray(z, dtype=float)) / np.log(10.0)
        out = 1.0 - np.exp(-nlog10p / 5.0)
    out[~np.isfinite(out)] = 0.0
    return out


def suppress(level: np.ndarray, rows: int) -> np.ndarray:
    """Keep a level only where it beats every level of the previous ``rows`` rows, else 0."""
    prev = pd.Series(level).shift(1).rolling(rows, min_periods=1).max().fillna(0.0)
    return np.where(level > prev.to_numpy(), level, 0.0)


def score_values(values: np.ndarray, cfg: DetectorConfig | None = None) -> np.ndarray:
    """Anomaly scores (0..1) for a whole series at once; equal to feeding it row by row."""
    cfg = cfg or DetectorConfig()
    x = _fill_gaps(np.asarray(values, dtype=float))
    return suppress(likelihood(raw_scores(features(x, cfg), cfg), cfg), cfg.suppress_rows)


def _fill_gaps(x: np.ndarray) -> np.ndarray:
    """Carry the last finite value forward over gaps (0 before the first one)."""
    ok = np.isfinite(x)
    idx = np.where(ok, np.arange(len(x)), 0)
    np.maximum.accumulate(idx, out=idx)
    out = x[idx]
    out[~np.isfinite(out)] = 0.0
    return out


class StreamingDetector:
    """One series scored tick by tick with the same maths as :func:`score_values`.

    Memory is bounded by the longest window; a refit (every ``refit_every`` rows) takes about
    as long as one IsolationForest fit, everything else is sub-millisecond.
    """

    def __init__(self, cfg: DetectorConfig | None = None) -> None:
        self.cfg = cfg or DetectorConfig()
        c = self.cfg
        self._values: deque[float] = deque(maxlen=c.lookback)
        self._feats: deque[np.ndarray] = deque(maxlen=c.train_rows)
        self._raw: deque[float] = deque(maxlen=c.lik_long + c.lik_short)
        self._levels: deque[float] = deque(maxlen=c.suppress_rows)
        self._model: TrailingModel | None = None
        self.rows = 0
        self.level = 0.0

    def update(self, value: float) -> float:
        """Score the next value: 0..1, non-zero only where it beats the recent levels."""
        c, t = self.cfg, self.rows
        last = self._values[-1] if self._values else 0.0
        self._values.append(float(value) if np.isfinite(value) else last)
        feat = features(np.array(self._values), c)[-1]
        if t >= c.min_train and (self._model is None or t % c.refit_every == 0):
            train = np.array(self._feats)
            forest = _fit(train, c, t // c.refit_every)
            self._model = TrailingModel(forest, train, c.outside_weight)
        raw = float(self._model.raw(feat[None])[0]) if self._model is not None else np.nan
        self._feats.append(feat)
        self._raw.append(raw)
        self.rows += 1
        self.level = self._level()
        beaten = max(self._levels, default=0.0)
        self._levels.append(self.level)
        return self.level if self.level > beaten else 0.0

    def _level(self) -> float:
        """The likelihood of the newest row from the retained raw scores."""
        c = self.cfg
        raws = np.array(self._raw)
        recent, hist = raws[-c.lik_short :], raws[: -c.lik_short][-c.lik_long :]
        hist = hist[np.isfinite(hist)]
        if len(hist) < c.lik_min or not np.isfinite(recent).any():
            return 0.0
        z = (np.nanmean(recent) - hist.mean()) / max(float(hist.std()), 1e-4)
        return float(surprise(np.array([z]))[0])


class FastForest:
    """Scores a few rows with a fitted IsolationForest without sklearn's per-call overhead.

    Walks every tree at once in numpy; gives the same numbers as ``-forest.score_samples``.
    """

    def __init__(self, forest: IsolationForest) -> None:
        trees = [e.tree_ for e in forest.estimators_]
        width = max(t.node_count for t in trees)
        shape = (len(trees), width)
        self.left = np.full(shape, -1, dtype=np.intp)
        self.right = np.full(shape, -1, dtype=np.intp)
        self.feature = np.zeros(shape, dtype=np.intp)
        self.threshold = np.zeros(shape)
        self.value = np.zeros(shape)
        paths = forest._decision_path_lengths
        averages = forest._average_path_length_per_tree
        for k, t in enumerate(trees):
            n = t.node_count
            self.left[k, :n], self.right[k, :n] = t.children_left, t.children_right
            self.feature[k, :n] = np.maximum(t.feature, 0)
            self.threshold[k, :n] = t.threshold
            self.value[k, :n] = paths[k] + averages[k] - 1.0
        self.depth = max(t.max_depth for t in trees)
        self.norm = len(trees) * float(_average_path_length(forest._max_samples))
        self.rows = np.arange(len(trees))

    def raw(self, x: np.ndarray) -> np.ndarray:
        """Anomaly score (0..1, higher is stranger) of each row of ``x``."""
        x32 = np.asarray(x, dtype=np.float32)
        out = np.empty(len(x32))
        for i, row in enumerate(x32):
            node = np.zeros(len(self.rows), dtype=np.intp)
            for _ in range(self.depth):
                f = self.feature[self.rows, node]
                go_left = row[f] <= self.threshold[self.rows, node]
                nxt = np.where(go_left, self.left[self.rows, node], self.right[self.rows, node])
                node = np.where(nxt < 0, node, nxt)
            out[i] = 2.0 ** (-self.value[self.rows, node].sum() / self.norm)
        return out


def _average_path_length(n: int) -> float:
    """Average unsuccessful-search path length in a BST of ``n`` nodes (iForest's c(n))."""
    if n <= 1:
        return 0.0
    if n == 2:
        return 1.0
    return 2.0 * (np.log(n - 1.0) + np.euler_gamma) - 2.0 * (n - 1.0) / n
