"""The streaming single-series detector: refitted IsolationForest, likelihood, novelty, quiet.

Per row: four causal features (:mod:`detector_features`); an IsolationForest refitted every
``refit_every`` rows on the trailing ``train_rows``, whose score gets extra credit when the
value lies outside the range it was trained on (an isolation tree cannot see beyond it); the
novelty of the last few values' pattern against every earlier one (:mod:`detector_novelty`);
a quiet stretch longer than any recent one (:mod:`detector_quiet`); then :mod:`detector_post`
combines the raw score, its anomaly likelihood, the novelty and the quiet stretch into a 0..1
level and reports a level only where it beats every level of the previous ``suppress_rows`` rows
and every alarm among them by ``rearm_margin``.

Every score depends only on the rows up to it, so scoring a prefix gives exactly the prefix of
the scores; feeding rows one at a time (:class:`StreamingDetector`) gives the same scores up to
float rounding.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import IsolationForest

from tamma_dash.analytics.detector_features import LEVEL, features, newest_features
from tamma_dash.analytics.detector_novelty import NoveltyScorer, NoveltySettings, novelty_scores
from tamma_dash.analytics.detector_post import (
    ALARM_P,
    QUIET,
    Suppressor,
    combined,
    likelihood,
    newest_likelihood,
    suppress,
    surprise,
    surprise_of_p,
    to_level,
)
from tamma_dash.analytics.detector_quiet import QuietScorer, QuietSettings, quiet_scores

__all__ = [
    "DetectorConfig",
    "FastForest",
    "StreamingDetector",
    "TrailingModel",
    "score_values",
    "suppress",
    "surprise",
]

EPS = 1e-9
OUTSIDE_CAP = 10.0
CHUNK_ROWS = 2048  # rows walked through the trees at once (bounds temporary memory)


@dataclass(frozen=True)
class DetectorConfig:
    """One configuration for every series (row counts, so the tick interval does not matter)."""

    short: int = 12  # rows in the short z-score window
    long: int = 144  # rows in the long window (robust median and p10-p90 spread)
    train_rows: int = 1000  # trailing rows each forest is fitted on
    refit_every: int = 250  # refit at every multiple of this row count
    min_train: int = 200  # rows before the first fit (scores are 0 until then)
    n_estimators: int = 100  # 50 gave the same mean NAB score but lost a window on 1 seed in 10
    max_samples: int = 256
    lik_short: int = 12  # rows averaged into the recent raw score
    lik_long: int = 2000  # earlier recent means (one per row) the newest is compared with
    lik_min: int = 100  # earlier means needed before the likelihood speaks
    # the likelihood shifted onto the raw-score scale before the max: it lifts the level off 0
    # where its tail probability falls below ALARM_P (1e-5), so the shift is QUIET - 0.632
    lik_offset: float = QUIET - surprise_of_p(ALARM_P)
    suppress_rows: int = 300  # a score must beat every level of this many rows before it
    rearm_margin: float = 0.1  # ... and every alarm among them by this much (raw-score units)
    outside_weight: float = 1.0  # out-of-range credit of the level, in training ranges
    novelty_window: int = 6  # values in the pattern whose novelty is scored
    novelty_history: int = 2000  # rows searched for its nearest earlier pattern
    novelty_min: int = 200  # pattern distances needed before novelty speaks
    novelty_offset: float = QUIET  # novelty at a distance equal to the recent record ...
    novelty_weight: float = 0.5  # ... plus this times log(distance / record)
    quiet_quantile: float = 0.95  # a value above this quantile of the previous rows ends a gap
    quiet_history: int = 2000  # rows whose quantile and longest gap count
    quiet_min: int = 200  # rows before the quiet view speaks
    quiet_offset: float = QUIET  # quiet score at a gap equal to the recent record ...
    quiet_weight: float = 0.5  # ... plus this times log(gap / record)
    seed: int = 0

    def novelty(self) -> NoveltySettings:
        """The settings of the pattern-novelty view."""
        return NoveltySettings(
            self.novelty_window,
            self.novelty_history,
            self.novelty_min,
            self.novelty_offset,
            self.novelty_weight,
        )

    def quiet(self) -> QuietSettings:
        """The settings of the quiet-stretch view."""
        return QuietSettings(
            self.quiet_quantile,
            self.quiet_history,
            self.quiet_min,
            self.quiet_offset,
            self.quiet_weight,
        )


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
    outside the range the ``columns`` lie (all when None), in training ranges (capped at
    ``OUTSIDE_CAP``), averaged and times ``weight``. The single-series detector credits the
    level only (a new record high or low); the service model credits every feature.
    """

    def __init__(
        self,
        forest: IsolationForest,
        train: np.ndarray,
        weight: float = 1.0,
        columns: tuple[int, ...] | None = None,
    ) -> None:
        self.forest = FastForest(forest)
        self.weight = weight
        self.columns = list(columns) if columns is not None else list(range(train.shape[1]))
        picked = train[:, self.columns]
        self.lo, self.hi = picked.min(axis=0), picked.max(axis=0)
        self.span = np.maximum(self.hi - self.lo, EPS)

    def raw(self, feats: np.ndarray) -> np.ndarray:
        """Forest score (0..1) plus the mean out-of-range distance of each row."""
        picked = feats[:, self.columns]
        outside = np.maximum(picked - self.hi, 0.0) + np.maximum(self.lo - picked, 0.0)
        bonus = np.minimum(outside / self.span, OUTSIDE_CAP).mean(axis=1)
        return self.forest.raw(feats) + self.weight * bonus


def _model(train: np.ndarray, cfg: DetectorConfig, k: int) -> TrailingModel:
    """The detector's model for refit number ``k``: a forest crediting out-of-range levels."""
    return TrailingModel(_fit(train, cfg, k), train, cfg.outside_weight, (LEVEL,))


def raw_scores(feats: np.ndarray, cfg: DetectorConfig) -> np.ndarray:
    """Raw anomaly scores per row (about 0.5 is ordinary); NaN before enough history."""
    n = len(feats)
    out = np.full(n, np.nan)
    start = cfg.min_train
    while start < n:
        k = start // cfg.refit_every
        stop = min(n, (k + 1) * cfg.refit_every)
        model = _model(feats[max(0, start - cfg.train_rows) : start], cfg, k)
        out[start:stop] = model.raw(feats[start:stop])
        start = stop
    return out


def combined_scores(raw: np.ndarray, novelty: np.ndarray, cfg: DetectorConfig) -> np.ndarray:
    """The strongest of raw score, shifted likelihood and ``novelty`` (the stronger of pattern
    novelty and quiet stretch) per row, before suppression."""
    lik = likelihood(raw, cfg.lik_short, cfg.lik_long, cfg.lik_min)
    return combined(raw, lik, cfg.lik_offset, novelty)


def score_values(values: np.ndarray, cfg: DetectorConfig | None = None) -> np.ndarray:
    """Anomaly scores (0..1) for a whole series at once; equal to feeding it row by row."""
    cfg = cfg or DetectorConfig()
    x = _fill_gaps(np.asarray(values, dtype=float))
    raw = raw_scores(features(x, cfg.short, cfg.long), cfg)
    views = np.fmax(novelty_scores(x, cfg.novelty()), quiet_scores(x, cfg.quiet()))
    both = combined_scores(raw, views, cfg)
    kept = suppress(both, cfg.suppress_rows, cfg.rearm_margin)
    return np.where(kept > 0.0, to_level(kept), 0.0)


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
    as long as one IsolationForest fit, everything else is well under a millisecond.
    """

    def __init__(self, cfg: DetectorConfig | None = None) -> None:
        self.cfg = cfg or DetectorConfig()
        c = self.cfg
        self._values: deque[float] = deque(maxlen=c.long + 1)
        self._feats: deque[np.ndarray] = deque(maxlen=c.train_rows)
        self._raw: deque[float] = deque(maxlen=c.lik_short)
        self._means: deque[float] = deque(maxlen=c.lik_long + c.lik_short)  # of lik_short raws
        self._alarms = Suppressor(c.suppress_rows, c.rearm_margin)
        self._novelty = NoveltyScorer(c.novelty())
        self._quiet = QuietScorer(c.quiet())
        self._model: TrailingModel | None = None
        self.rows = 0
        self.level = 0.0

    def update(self, value: float) -> float:
        """Score the next value: 0..1, non-zero only where it beats the recent levels."""
        c, t = self.cfg, self.rows
        last = self._values[-1] if self._values else 0.0
        self._values.append(float(value) if np.isfinite(value) else last)
        novelty = np.fmax(
            self._novelty.update(self._values[-1]), self._quiet.update(self._values[-1])
        )
        feat = newest_features(np.array(self._values), c.short, c.long)
        if t >= c.min_train and (self._model is None or t % c.refit_every == 0):
            self._model = _model(np.array(self._feats), c, t // c.refit_every)
        raw = float(self._model.raw(feat[None])[0]) if self._model is not None else np.nan
        self._feats.append(feat)
        self._raw.append(raw)
        raws = np.array(self._raw)
        raws = raws[np.isfinite(raws)]
        self._means.append(float(raws.mean()) if len(raws) else np.nan)
        self.rows += 1
        lik = newest_likelihood(np.array(self._means), c.lik_short, c.lik_long, c.lik_min)
        both = combined(np.array([raw]), np.array([lik]), c.lik_offset, np.array([novelty]))
        self.level = float(to_level(both)[0])
        return self.level if self._alarms.update(float(both[0])) > 0.0 else 0.0


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
        parts = [self._walk(x32[i : i + CHUNK_ROWS]) for i in range(0, len(x32), CHUNK_ROWS)]
        return np.concatenate(parts) if parts else np.zeros(0)

    def _walk(self, x32: np.ndarray) -> np.ndarray:
        """Scores of a block of rows: every row down every tree at once."""
        trees, at = self.rows, np.arange(len(x32))[:, None]
        node = np.zeros((len(x32), len(trees)), dtype=np.intp)
        for _ in range(self.depth):
            go_left = x32[at, self.feature[trees, node]] <= self.threshold[trees, node]
            nxt = np.where(go_left, self.left[trees, node], self.right[trees, node])
            node = np.where(nxt < 0, node, nxt)
        return 2.0 ** (-self.value[trees, node].sum(axis=1) / self.norm)


def _average_path_length(n: int) -> float:
    """Average unsuccessful-search path length in a BST of ``n`` nodes (iForest's c(n))."""
    if n <= 1:
        return 0.0
    if n == 2:
        return 1.0
    return 2.0 * (np.log(n - 1.0) + np.euler_gamma) - 2.0 * (n - 1.0) / n
