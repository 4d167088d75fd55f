"""Causal feature rows for the single-series detector: one batch form, one newest-row form.

Four features per row, all against windows of the rows *before* it (so a spike does not hide
itself): the level, the size of the step from the previous row, a z-score against the short
window and one against the long window. Scales are robust (p10-p90 spread of the long window)
plus the long standard deviation, so a flat series with rare bursts and a noisy one both get
a usable scale. :func:`features` (pandas, whole series) and :func:`newest_features` (numpy,
last row only, for the streaming detector) compute the same numbers up to float rounding.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EPS = 1e-9
N_FEATURES = 4
LEVEL = 0  # column of the level feature (the one that earns out-of-range credit)
SPREAD_DIVISOR = 2.56  # p10-p90 of a normal distribution in standard deviations


def features(values: np.ndarray, short: int, long: int) -> np.ndarray:
    """Feature rows (n x 4) of a whole series; row ``i`` uses only values up to ``i``."""
    x = pd.Series(np.asarray(values, dtype=float))
    if len(x) == 0:
        return np.zeros((0, N_FEATURES))
    prev = x.shift(1)
    past_l = prev.rolling(long, min_periods=2)
    past_s = prev.rolling(short, min_periods=2)
    med = past_l.median()
    tiny = EPS * (1.0 + med.abs())
    spread = (past_l.quantile(0.9) - past_l.quantile(0.1)) / SPREAD_DIVISOR
    scale = spread + past_l.std(ddof=0) + tiny
    cols = [
        x,
        (x - prev).abs() / scale,
        (x - past_s.mean()) / (past_s.std(ddof=0) + spread + tiny),
        (x - med) / scale,
    ]
    out = np.column_stack([c.to_numpy(dtype=float) for c in cols])
    out[~np.isfinite(out)] = 0.0
    return out


def newest_features(tail: np.ndarray, short: int, long: int) -> np.ndarray:
    """The feature row of the last value of ``tail`` (which holds up to ``long + 1`` values)."""
    tail = np.asarray(tail, dtype=float)
    x = float(tail[-1])
    past_l = tail[:-1][-long:]
    if len(past_l) < 2:
        return np.array([x, 0.0, 0.0, 0.0]) if len(tail) else np.zeros(N_FEATURES)
    past_s = past_l[-short:]
    med = float(np.median(past_l))
    tiny = EPS * (1.0 + abs(med))
    q10, q90 = np.quantile(past_l, [0.1, 0.9])
    spread = (q90 - q10) / SPREAD_DIVISOR
    scale = spread + float(past_l.std()) + tiny
    row = np.array(
        [
            x,
            abs(x - past_l[-1]) / scale,
            (x - past_s.mean()) / (past_s.std() + spread + tiny),
            (x - med) / scale,
        ]
    )
    row[~np.isfinite(row)] = 0.0
    return row
