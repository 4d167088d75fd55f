"""Quiet-stretch view of the single-series detector: the longest stretch without a high value.

The forest, the likelihood and the pattern novelty all look at the rows that are there; none
of them sees a burst that did not come (a cron job that stopped, traffic that never picked up
again). This view counts the rows since the series last rose above the ``quantile`` of the
previous ``history`` rows (the gap) and scores it by the same record rule as the pattern
novelty: ``offset + weight * log(gap / record)``, where the record is the longest gap of the
previous ``history`` rows, and only while the gap beats it (NaN otherwise). The record includes
the current stretch so far, so the view speaks once, at the row where the stretch outgrows every
earlier one (``log((record + 1) / record)``: strongest where high values usually come often),
and fades while the stretch goes on; with ``offset`` at the level's quiet point that is a weak
alarm, which suppression keeps only where nothing stronger happened just before. Per row the
cost is one partial sort of ``history`` values and one maximum over as many gaps.

:class:`QuietScorer` works one value at a time; :func:`quiet_scores` runs it over a whole
series, so both give exactly the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tamma_dash.analytics.detector_novelty import TrailingBuffer


@dataclass(frozen=True)
class QuietSettings:
    """High-value quantile, rows searched and record rule (one setting for every series)."""

    quantile: float = 0.95  # a value above this quantile of the previous rows ends a gap
    history: int = 2000
    min_rows: int = 200  # earlier rows needed before the view speaks
    offset: float = 0.9  # score at a gap equal to the recent record ...
    weight: float = 0.5  # ... plus this times log(gap / record)


class QuietScorer:
    """Score of the current quiet stretch; memory bounded by ``history`` rows."""

    def __init__(self, settings: QuietSettings | None = None) -> None:
        self.s = settings or QuietSettings()
        if not 0.0 < self.s.quantile < 1.0:
            raise ValueError(f"quiet quantile {self.s.quantile}: use a value between 0 and 1")
        self._values = TrailingBuffer(self.s.history)
        self._gaps = TrailingBuffer(self.s.history)
        self._last_high: int | None = None
        self.rows = 0

    def update(self, value: float) -> float:
        """Score of the gap ending at ``value`` (raw-score units); NaN while not a record."""
        s, t = self.s, self.rows
        value = float(value)
        if t >= s.min_rows and value > _quantile(self._values.view(), s.quantile):
            self._last_high = t
        gap = 0 if self._last_high is None else t - self._last_high
        record = max(float(self._gaps.view().max()), 1.0) if t else 1.0
        self._values.append(value)
        self._gaps.append(float(gap))
        self.rows += 1
        if t < s.min_rows or self._last_high is None or gap <= record:
            return float("nan")
        return s.offset + s.weight * float(np.log(gap / record))


def _quantile(x: np.ndarray, q: float) -> float:
    """``np.quantile(x, q)`` (linear) from one partial sort."""
    at = (len(x) - 1) * q
    lo = int(at)
    hi = min(lo + 1, len(x) - 1)
    part = np.partition(x, [lo, hi])
    return float(part[lo] + (at - lo) * (part[hi] - part[lo]))


def quiet_scores(values: np.ndarray, settings: QuietSettings | None = None) -> np.ndarray:
    """:class:`QuietScorer` over a whole series (NaN where it does not speak)."""
    scorer = QuietScorer(settings)
    return np.array([scorer.update(v) for v in np.asarray(values, dtype=float)])
