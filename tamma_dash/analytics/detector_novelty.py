"""Context novelty for the single-series detector: is the latest short pattern unlike any before?

The isolation forest judges each row's features on their own; this judges the shape of the
last ``window`` values. Its distance is the RMS gap between that pattern and its nearest
neighbour among every earlier pattern of the trailing ``history`` rows, in units of the
trailing spread (p10-p90 plus standard deviation). The score compares that distance with the
largest distance of the previous ``history`` rows: ``offset + weight * log(distance / record)``,
so it passes ``offset`` only on a pattern more novel than any recent one. Per row the cost is
bounded by ``history`` (one nearest-neighbour scan and one quantile).

:class:`NoveltyScorer` works one value at a time; :func:`novelty_scores` runs it over a whole
series, so both give exactly the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EPS = 1e-9
TINY = 1e-12  # floor of a distance before its logarithm
MIN_PATTERNS = 50  # earlier patterns needed before a distance is measured


@dataclass(frozen=True)
class NoveltySettings:
    """Pattern length, rows searched and record rule (row counts, one setting for every series)."""

    window: int = 6
    history: int = 2000
    min_distances: int = 200  # distances needed before the record speaks
    offset: float = 0.9
    weight: float = 0.5


class NoveltyScorer:
    """Novelty of each new value's pattern; memory bounded by ``history`` rows."""

    def __init__(self, settings: NoveltySettings | None = None) -> None:
        self.s = settings or NoveltySettings()
        self._values = TrailingBuffer(self.s.history + self.s.window)
        self._distances = TrailingBuffer(self.s.history)

    def update(self, value: float) -> float:
        """Score of the pattern ending at ``value`` (raw-score units); NaN until enough history."""
        s = self.s
        self._values.append(float(value))
        dist = _nearest_distance(self._values.view(), s.window, s.history)
        known = self._distances.finite
        record = max(float(np.nanmax(self._distances.view())), TINY) if known else TINY
        self._distances.append(dist)
        if not np.isfinite(dist) or known < s.min_distances:
            return float("nan")
        return s.offset + s.weight * float(np.log(max(dist, TINY) / record))


class TrailingBuffer:
    """The last ``size`` floats as one contiguous array view, appended in amortised O(1)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data = np.empty(2 * size)
        self._start = self._stop = 0
        self.finite = 0  # finite values among the retained ones

    def append(self, value: float) -> None:
        """Add ``value``, dropping the oldest once ``size`` are held."""
        if self._stop - self._start == self.size:
            self.finite -= bool(np.isfinite(self._data[self._start]))
            self._start += 1
        if self._stop == len(self._data):
            kept = self._stop - self._start
            self._data[:kept] = self._data[self._start : self._stop]
            self._start, self._stop = 0, kept
        self._data[self._stop] = value
        self._stop += 1
        self.finite += bool(np.isfinite(value))

    def view(self) -> np.ndarray:
        """The retained values, oldest first (a view: do not keep it past the next append)."""
        return self._data[self._start : self._stop]


def _nearest_distance(tail: np.ndarray, window: int, history: int) -> float:
    """Scaled RMS distance from the last ``window`` values to the nearest earlier pattern."""
    before = tail[:-window]
    prev = tail[:-1][-history:]
    count = len(before) - window + 1  # earlier patterns that end before this one starts
    if count < MIN_PATTERNS or len(prev) < MIN_PATTERNS:
        return float("nan")
    q10, q90 = _quantiles(prev, 0.1, 0.9)
    scale = (q90 - q10) + float(prev.std()) + EPS * (1.0 + abs(float(tail[-1])))
    gaps = np.zeros(count)
    for k, value in enumerate(tail[-window:]):
        gaps += (before[k : k + count] - value) ** 2
    return float(np.sqrt(gaps.min() / window)) / scale


def _quantiles(x: np.ndarray, low: float, high: float) -> tuple[float, float]:
    """``np.quantile(x, [low, high])`` (linear) from one partial sort."""
    at = [(len(x) - 1) * q for q in (low, high)]
    idx = sorted({min(int(a) + d, len(x) - 1) for a in at for d in (0, 1)})
    part = np.partition(x, idx)
    out = []
    for a in at:
        lo = int(a)
        hi = min(lo + 1, len(x) - 1)
        out.append(float(part[lo] + (a - lo) * (part[hi] - part[lo])))
    return out[0], out[1]


def novelty_scores(values: np.ndarray, settings: NoveltySettings | None = None) -> np.ndarray:
    """:class:`NoveltyScorer` over a whole series (NaN where it has not spoken yet)."""
    scorer = NoveltyScorer(settings)
    return np.array([scorer.update(v) for v in np.asarray(values, dtype=float)])
