"""Server-side downsampling and the point encoding every figure and patch shares.

Gaps: NaN rows are dropped, the rest is downsampled with MinMaxLTTB (time-aware, so the gap's
width is respected), then one break point (``y = None``, at the time of the first missing row)
is reinserted wherever the kept neighbours had missing rows between them. Breaks count against
the point budget. The series' global minimum and maximum are always kept, so a spike is never
averaged away.

Encoding: x is a list of ISO 8601 UTC strings with milliseconds (plotly reads them as dates)
and y a list of floats with ``None`` for gaps. Plain lists, not numpy arrays: plotly would
base64-encode arrays, and ``dash.Patch`` extend/delete cannot act on encoded arrays.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from tsdownsample import MinMaxLTTBDownsampler

MIN_POINTS = 10  # the smallest budget for which every guarantee below holds
_DOWNSAMPLER = MinMaxLTTBDownsampler()


def iso(ts: np.ndarray | Sequence[float]) -> list[str]:
    """Epoch seconds as ISO 8601 UTC strings with milliseconds (no zone suffix: plotly is naive)."""
    arr = np.asarray(ts, dtype=np.float64)
    ms = np.round(arr * 1000.0).astype("int64").astype("datetime64[ms]")
    return [str(s) for s in np.datetime_as_string(ms, unit="ms")]


def column(frame: pd.DataFrame, key: str) -> np.ndarray:
    """One series of a wide frame as floats; a key the frame lacks is all gap, not an error."""
    if key in frame.columns:
        return frame[key].to_numpy(dtype=np.float64)
    return np.full(len(frame.index), np.nan)


def y_values(values: np.ndarray | Sequence[float]) -> list[float | None]:
    """Floats as a JSON-ready list with ``None`` for NaN/inf (a plotly line break)."""
    arr = np.asarray(values, dtype=np.float64)
    return [float(v) if math.isfinite(v) else None for v in arr.tolist()]


def to_epoch(value: float | str | None) -> float | None:
    """Epoch seconds from a number or a plotly date string (read as UTC); None stays None."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        stamp = pd.Timestamp(str(value).strip().replace(" ", "T"))
    except ValueError:
        raise ValueError(f"not a date/time: {value!r}; expected e.g. 2024-05-01 12:00:00") from None
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return float(stamp.timestamp())


def _pick(x: np.ndarray, y: np.ndarray, n_out: int) -> np.ndarray:
    """Indices of at most ``n_out`` points by MinMaxLTTB, always including argmin and argmax."""
    if x.shape[0] <= n_out:
        return np.arange(x.shape[0])
    extremes = np.array([int(np.argmin(y)), int(np.argmax(y))])
    chosen = _DOWNSAMPLER.downsample(x, y, n_out=max(3, n_out - 2)).astype(np.int64)
    return np.union1d(chosen, extremes)


def _breaks(pos: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """Which consecutive selected points had missing rows between them in the original."""
    return (pos[sel[1:]] - pos[sel[:-1]]) != (sel[1:] - sel[:-1])


def downsample_series(
    ts: np.ndarray, values: np.ndarray, max_points: int
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` (x, y) pairs; series that fit are returned whole, NaN rows kept."""
    if max_points < MIN_POINTS:
        raise ValueError(f"max_points must be at least {MIN_POINTS}, got {max_points}")
    ts = np.asarray(ts, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if ts.shape[0] <= max_points:
        return ts, values
    pos = np.flatnonzero(np.isfinite(values))
    if pos.shape[0] == 0:
        return ts[:0], values[:0]
    x, y = ts[pos], values[pos]
    budget = max_points
    for _ in range(4):
        sel = _pick(x, y, budget)
        gaps = _breaks(pos, sel)
        overflow = sel.shape[0] + int(gaps.sum()) - max_points
        if overflow <= 0:
            return _with_breaks(ts, values, pos, sel, gaps)
        budget -= overflow
    sel = _pick(x, y, (max_points + 1) // 2)  # n points have at most n - 1 breaks between them
    return _with_breaks(ts, values, pos, sel, _breaks(pos, sel))


def _with_breaks(
    ts: np.ndarray, values: np.ndarray, pos: np.ndarray, sel: np.ndarray, gaps: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Selected points in time order, with a NaN point at the start of each skipped gap."""
    rows = pos[sel]
    missing = np.flatnonzero(~np.isfinite(values))
    gap_rows = missing[np.searchsorted(missing, rows[:-1][gaps], side="right")]
    out_rows = np.sort(np.concatenate([rows, gap_rows]))
    return ts[out_rows], values[out_rows]
