"""Post-processing of the detector's raw scores: likelihood, the 0..1 level, one alarm per event.

Two views of the same raw forest scores are combined, because they catch different events:
the raw score itself (with out-of-range credit) fires at once on a sharp, unprecedented value;
the likelihood (the mean of the last few raw scores against the long history of raw scores, as
HTM's anomaly likelihood does) fires on a sustained change that no single row gives away. A
third view, the novelty of the latest short pattern (:mod:`detector_novelty`), fires on a
shape never seen before even when each of its values is ordinary; the detector passes the
stronger of it and the quiet-stretch score (:mod:`detector_quiet`) in its place. The strongest
is reported only where it beats every score of the rows just before it (and a recent alarm by a
margin), so one event raises one alarm; it is shown as a 0..1 level.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd
from scipy.special import log_ndtr

ALARM_LIKELIHOOD = 0.5  # level 0.5 where the likelihood alone reaches this (or raw its match)
HALF_LIFE = 0.25  # each 0.25 of combined score halves the level's gap to 1


def surprise(z: np.ndarray) -> np.ndarray:
    """Map a z-score to 0..1 through its normal tail: p = 1e-5 gives 0.63; NaN gives 0."""
    with np.errstate(all="ignore"):
        nlog10p = -log_ndtr(-np.asarray(z, dtype=float)) / np.log(10.0)
        out = 1.0 - np.exp(-nlog10p / 5.0)
    out[~np.isfinite(out)] = 0.0
    return out


def likelihood(raw: np.ndarray, short: int, long: int, min_hist: int) -> np.ndarray:
    """Surprise (0..1) of the mean of the last ``short`` raw scores against the ``long`` before.

    NaN until ``min_hist`` raw scores of history exist.
    """
    r = pd.Series(raw)
    recent = r.rolling(short, min_periods=1).mean()
    hist = r.shift(short).rolling(long, min_periods=min_hist)
    z = ((recent - hist.mean()) / hist.std(ddof=0).clip(lower=1e-4)).to_numpy(dtype=float)
    return np.where(np.isnan(z), np.nan, surprise(z))


def newest_likelihood(raws: np.ndarray, short: int, long: int, min_hist: int) -> float:
    """:func:`likelihood` of the last row of ``raws`` (the retained raw scores, NaN = none)."""
    recent, hist = raws[-short:], raws[:-short][-long:]
    hist = hist[np.isfinite(hist)]
    if len(hist) < min_hist or not np.isfinite(recent).any():
        return float("nan")
    z = (np.nanmean(recent) - hist.mean()) / max(float(hist.std()), 1e-4)
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


def to_level(score: np.ndarray, lik_offset: float) -> np.ndarray:
    """A combined score mapped to 0..1 (monotone, so alarms and their order are unchanged).

    Level 0.5 sits where the likelihood alone reaches ``ALARM_LIKELIHOOD`` (or the raw score
    reaches ``lik_offset + ALARM_LIKELIHOOD``); a combined score a ``HALF_LIFE`` lower is 0.
    """
    quiet = lik_offset + ALARM_LIKELIHOOD - HALF_LIFE
    return 1.0 - np.exp2(-np.maximum(np.asarray(score, dtype=float) - quiet, 0.0) / HALF_LIFE)


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
