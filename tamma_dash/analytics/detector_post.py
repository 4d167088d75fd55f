"""Post-processing of the detector's raw scores: likelihood, the 0..1 level, one alarm per event.

Two views of the same raw forest scores are combined, because they catch different events:
the raw score itself (with out-of-range credit) fires at once on a sharp, unprecedented value;
the likelihood (the mean of the last few raw scores against the long history of such means, as
HTM's anomaly likelihood does) fires on a sustained change that no single row gives away. A
third view, the novelty of the latest short pattern (:mod:`detector_novelty`), fires on a
shape never seen before even when each of its values is ordinary; the detector passes the
stronger of it and the quiet-stretch score (:mod:`detector_quiet`) in its place. The strongest
is reported only where it beats every score of the rows just before it (and a recent alarm by a
margin), so one event raises one alarm; it is shown as a 0..1 level, 0 up to ``QUIET``.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd
from scipy.special import log_ndtr

QUIET = 0.9  # combined score (raw-score units) at level 0: the views' record points sit here
HALF_LIFE = 0.25  # each 0.25 of combined score above it halves the level's gap to 1
ALARM_P = 1e-5  # likelihood tail probability that reaches QUIET (HTM alarms at 0.99999)


def surprise(z: np.ndarray) -> np.ndarray:
    """Map a z-score to 0..1 through its normal tail: p = 1e-5 gives 0.63; NaN gives 0."""
    with np.errstate(all="ignore"):
        nlog10p = -log_ndtr(-np.asarray(z, dtype=float)) / np.log(10.0)
        out = 1.0 - np.exp(-nlog10p / 5.0)
    out[~np.isfinite(out)] = 0.0
    return out


def surprise_of_p(p: float) -> float:
    """:func:`surprise` of a z-score whose normal tail probability is ``p``."""
    return float(1.0 - np.exp(np.log10(p) / 5.0))


def likelihood(raw: np.ndarray, short: int, long: int, min_hist: int) -> np.ndarray:
    """Surprise (0..1) of the mean of the last ``short`` raw scores against earlier such means.

    The history is the ``long`` means that end ``short`` or more rows before (so it shares no
    raw score with the current mean); like HTM, the mean is judged against the spread of
    means, not of single scores, which is narrower where raw scores are not correlated. NaN
    until ``min_hist`` means of history exist.
    """
    recent = pd.Series(raw).rolling(short, min_periods=1).mean()
    hist = recent.shift(short).rolling(long, min_periods=min_hist)
    z = ((recent - hist.mean()) / hist.std(ddof=0).clip(lower=1e-4)).to_numpy(dtype=float)
    return np.where(np.isnan(z), np.nan, surprise(z))


def newest_likelihood(means: np.ndarray, short: int, long: int, min_hist: int) -> float:
    """:func:`likelihood` of the last row, from the retained recent means (NaN = none)."""
    recent, hist = means[-1], means[:-short][-long:]
    hist = hist[np.isfinite(hist)]
    if len(hist) < min_hist or not np.isfinite(recent):
        return float("nan")
    z = (recent - hist.mean()) / max(float(hist.std()), 1e-4)
    return float(surprise(np.array([z]))[0])


def combined(
    raw: np.ndarray, lik: np.ndarray, lik_offset: float, novelty: np.ndarray | None = None
) -> np.ndarray:
    """The strongest of raw score, shifted likelihood and novelty (raw-score units).

    0 until raw score and likelihood both exist; a NaN novelty (not speaking yet) is ignored.
    """
    both = np.maximum(np.asarray(raw, dtype=float), np.asarray(lik, dtype=float) + lik_offset)
    if novelty is not None:
        both = np.where(np.isfinite(both), np.fmax(both, np.asarray(novelty, dtype=float)), both)
    return np.where(np.isfinite(both), both, 0.0)


def to_level(score: np.ndarray) -> np.ndarray:
    """A combined score mapped to 0..1 (monotone, so alarms and their order are unchanged).

    0 up to ``QUIET``; above it each ``HALF_LIFE`` halves the gap to 1 (0.5 at 1.15).
    """
    return 1.0 - np.exp2(-np.maximum(np.asarray(score, dtype=float) - QUIET, 0.0) / HALF_LIFE)


def suppress(level: np.ndarray, rows: int, margin: float = 0.0) -> np.ndarray:
    """Keep a level only where it beats every level of the previous ``rows`` rows, else 0.

    A level that follows a kept one within ``rows`` rows must also beat it by ``margin``, so a
    slowly rising level raises one alarm, not one per row.
    """
    prev = pd.Series(level).shift(1).rolling(rows, min_periods=1).max().fillna(0.0)
    out = np.zeros(len(level))
    kept: deque[tuple[int, float]] = deque()  # (row, level to beat) of recent alarms
    for i in np.flatnonzero(level > prev.to_numpy()):
        while kept and kept[0][0] < i - rows:
            kept.popleft()
        if level[i] > max((bar for _, bar in kept), default=0.0):
            out[i] = level[i]
            kept.append((int(i), float(level[i]) + margin))
    return out


class Suppressor:
    """:func:`suppress` one row at a time, with memory bounded by ``rows``."""

    def __init__(self, rows: int, margin: float = 0.0) -> None:
        self.rows, self.margin, self.t = rows, margin, 0
        self._levels: deque[float] = deque(maxlen=rows)
        self._kept: deque[tuple[int, float]] = deque()

    def update(self, level: float) -> float:
        """The level if it raises an alarm, else 0."""
        t, self.t = self.t, self.t + 1
        beaten = max(self._levels, default=0.0)
        self._levels.append(level)
        while self._kept and self._kept[0][0] < t - self.rows:
            self._kept.popleft()
        if level <= beaten or level <= max((bar for _, bar in self._kept), default=0.0):
            return 0.0
        self._kept.append((t, level + self.margin))
        return level
