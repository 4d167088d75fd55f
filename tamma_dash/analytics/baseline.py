"""Per-series robust baselines: the usual value and a normal band, from the past only.

Before there are ``seasonal_after_s`` seconds of history the band is a trailing rolling one
(median and p5-p95 of the last ``window_s``); after that, the median and p5-p95 of the same
time-of-day bucket on earlier days. Each row's band uses rows strictly before it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

COLUMNS = ["lower", "median", "upper"]
DAY_S = 86_400.0


def baseline(
    series: pd.Series,
    *,
    now: float,
    window_s: float = 3600.0,
    bucket_s: float = 1800.0,
    seasonal_after_s: float = 3 * DAY_S,
    quantiles: tuple[float, float] = (0.05, 0.95),
    min_periods: int = 12,
) -> pd.DataFrame:
    """The normal band (lower, median, upper) at each timestamp of ``series`` up to ``now``.

    Parameters
    ----------
    series : float values on a float epoch-seconds index (NaN gaps allowed).
    now : rows after ``now`` are ignored (no future data).
    window_s : span of the rolling band used before there is enough history.
    bucket_s : width of a time-of-day bucket for the seasonal band.
    seasonal_after_s : history needed before a row switches to the seasonal band.
    quantiles : the band's lower and upper quantiles.
    min_periods : fewer past points than this leaves the row's band NaN.

    Returns
    -------
    DataFrame indexed like the kept rows of ``series`` with columns lower, median, upper.
    """
    s = _clean(series, now)
    if s.empty:
        return pd.DataFrame(columns=COLUMNS, index=s.index, dtype=float)
    ts = s.index.to_numpy(dtype=float)
    rolling = _band(_timed(s), f"{int(window_s * 1000)}ms", quantiles, min_periods)
    out = rolling
    if ts[-1] - ts[0] >= seasonal_after_s:
        seasonal = _seasonal(s, bucket_s, quantiles, max(3, min_periods // 4))
        use = (ts - ts[0] >= seasonal_after_s) & seasonal["median"].notna().to_numpy()
        out = pd.DataFrame(
            np.where(use[:, None], seasonal.to_numpy(), rolling.to_numpy()), columns=COLUMNS
        )
    out.index = s.index
    return out


def _clean(series: pd.Series, now: float) -> pd.Series:
    """Sorted float series up to ``now`` with finite values only."""
    s = pd.Series(series, dtype=float)
    s.index = pd.Index(np.asarray(s.index, dtype=float))
    s = s[(s.index <= now) & np.isfinite(s.to_numpy())]
    return s[~s.index.duplicated(keep="last")].sort_index()


def _timed(s: pd.Series) -> pd.Series:
    """The same values on a datetime index, for time-based rolling windows."""
    return pd.Series(s.to_numpy(), index=pd.to_datetime(s.index.to_numpy(), unit="s"))


def _band(
    s: pd.Series, window: str, quantiles: tuple[float, float], min_periods: int
) -> pd.DataFrame:
    """Rolling quantiles over the past ``window``, excluding the current row."""
    roll = s.rolling(window, closed="left", min_periods=min_periods)
    return pd.DataFrame(
        {
            "lower": roll.quantile(quantiles[0]).to_numpy(),
            "median": roll.median().to_numpy(),
            "upper": roll.quantile(quantiles[1]).to_numpy(),
        }
    )


def _seasonal(
    s: pd.Series, bucket_s: float, quantiles: tuple[float, float], min_periods: int
) -> pd.DataFrame:
    """Quantiles of earlier points in the same time-of-day bucket (positional rows)."""
    ts = s.index.to_numpy(dtype=float)
    bucket = np.floor((ts % DAY_S) / bucket_s).astype(int)
    out = pd.DataFrame(np.nan, index=range(len(s)), columns=COLUMNS)
    values = s.to_numpy()
    for b in np.unique(bucket):
        rows = np.flatnonzero(bucket == b)
        band = _band(
            _timed(pd.Series(values[rows], index=ts[rows])), "3650D", quantiles, min_periods
        )
        out.iloc[rows] = band.to_numpy()
    return out


def distance_from_baseline(value: float, band: Sequence[float] | pd.Series) -> float:
    """How far ``value`` is outside its band, in band widths: 0 inside, + above, - below.

    ``band`` is (lower, median, upper) or a row with those labels; NaN band gives NaN.
    """
    if isinstance(band, pd.Series):
        lower, upper = float(band["lower"]), float(band["upper"])
        median = float(band["median"])
    else:
        lower, median, upper = (float(v) for v in band)
    if not all(math.isfinite(v) for v in (value, lower, upper, median)):
        return math.nan
    width = max(upper - lower, 1e-9 * max(1.0, abs(median)))
    if value > upper:
        return (value - upper) / width
    if value < lower:
        return -(lower - value) / width
    return 0.0
