"""Capacity forecasts: a robust linear trend, its uncertainty, and the time to a threshold.

Theil–Sen (median of pairwise slopes) on the recent window, restarted after the last
saw-tooth clean-up (a drop far larger than the usual step), with Sen's rank-based confidence
interval on the slope and the residual spread on the level. Used for disk, memory, queue
depth, DB pool and rate limits (compare ``eta_s`` with the reset time).

A short window on a series with a daily cycle mistakes the cycle's morning rise for a trend
("DB pool exhausted in 7 h" on a pool that peaks at 14 of 20 every day). Once a full cycle of
history lies before the window, :func:`forecast_cyclic` fits the trend of the difference from
the same time one cycle earlier instead, and walks the next cycle as last cycle's smoothed
curve plus that difference: exact within one cycle whether the trend began today or runs for
days. Each later cycle repeats it, higher by the day-over-day rise when that beats how much
days differ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

Z_90 = 1.6449
MAX_POINTS = 300
LONG_PAIRS = 0.5
DAY_S = 86_400.0
SMOOTH_S = 1800.0  # last cycle's curve is a rolling median over this long
WALK_STEPS = 2000  # points on which the next cycle is walked
MIN_SPAN, MIN_SPAN_S = 0.25, 3600.0  # history a trend needs: a quarter window, at most 1 h
ROBUST_90 = 2.44  # 90th over 50th percentile of |normal|: a q90 the leak itself cannot inflate


@dataclass(frozen=True)
class Forecast:
    """Seconds from ``fitted_at`` until the threshold: best guess and a 90 % range.

    ``eta_s`` is None when the trend does not head for the threshold; ``high_s`` is ``inf``
    when the slow end of the range never gets there; 0 means it is already there.
    """

    eta_s: float | None
    low_s: float | None
    high_s: float | None
    slope_per_s: float
    fitted_at: float

    def describe(self, what: str, threshold: float) -> str:
        """A sentence such as 'disk 90 % in 3 d 4 h (between 2 d and 5 d)'."""
        if self.eta_s is None:
            return f"{what} not heading for {threshold:g}"
        text = f"{what} {threshold:g} in {human_duration(self.eta_s)}"
        if self.low_s is not None and self.high_s is not None:
            text += f" (between {human_duration(self.low_s)} and {human_duration(self.high_s)})"
        return text


def human_duration(seconds: float) -> str:
    """Two most significant units: '3 d 4 h', '12 min', 'never'."""
    if not math.isfinite(seconds):
        return "never"
    s = max(0, round(seconds))
    parts = [(s // 86400, "d"), (s % 86400 // 3600, "h"), (s % 3600 // 60, "min"), (s % 60, "s")]
    shown = [f"{n} {u}" for n, u in parts if n][:2]
    return " ".join(shown) or "0 s"


def forecast_time_to(
    series: pd.Series,
    threshold: float,
    *,
    now: float,
    window_s: float = 86_400.0,
    min_points: int = 10,
    drop_factor: float = 8.0,
    rising: bool = True,
    period_s: float = DAY_S,
) -> Forecast | None:
    """Time until ``series`` reaches ``threshold`` (from below or above) after ``now``.

    Parameters
    ----------
    series : values on a float epoch-seconds index; rows after ``now`` are ignored.
    threshold : the limit (e.g. 90 for disk %, 0 for rate-limit remaining).
    now : the time the forecast is made.
    window_s : how far back to fit.
    min_points : fewer usable points than this gives None.
    drop_factor : a fall bigger than this many typical steps counts as a clean-up.
    period_s : a daily (or other) cycle is fitted and removed once the fit spans 90 % of it;
        its amplitude widens the range.
    rising : True when the limit is reached from below (disk, queue), False from above
        (rate-limit remaining falling to 0); clean-ups are then rises, not drops.

    Returns
    -------
    Forecast, or None when there is too little data (fewer than ``min_points``, or spanning
    less than a quarter of the window or an hour, whichever is shorter).
    """
    t, y = _recent(series, now, window_s)
    if len(t) < min_points or t[-1] - t[0] < min(MIN_SPAN * window_s, MIN_SPAN_S):
        return None  # minutes after a start, a line through them says nothing about hours
    t, y = _since_last_drop(t, y if rising else -y, drop_factor)
    y = y if rising else -y
    if len(t) < min_points:
        return None
    y, amplitude = _deseasonalise(t, y, period_s)
    slope, lo, hi = _theil_sen(t, y)
    level = float(np.median(y - slope * t)) + slope * now
    spread = Z_90 * 1.4826 * float(np.median(np.abs(y - (level + slope * (t - now)))))
    return _arrival(threshold - level, (slope, lo, hi), spread + amplitude, rising, now)


def _arrival(
    gap: float, slopes: tuple[float, float, float], spread: float, rising: bool, now: float
) -> Forecast:
    """ETA and its range from the gap to the limit, the slope (best, low, high) and the spread."""
    slope, lo, hi = slopes
    sign = 1.0 if rising else -1.0
    gap *= sign  # > 0: still short of the limit
    eta = _eta(gap, sign * slope)
    if eta is None:
        return Forecast(None, None, None, slope, now)
    fast, slow = (hi, lo) if rising else (-lo, -hi)
    low = _eta(gap - spread, fast)
    high = _eta(gap + spread, slow)
    return Forecast(
        eta,
        0.0 if low is None else min(low, eta),
        math.inf if high is None else max(high, eta),
        slope,
        now,
    )


def _eta(gap: float, speed: float) -> float | None:
    """Seconds to close ``gap`` (<= 0: already there) at ``speed``; None if never."""
    if gap <= 0:
        return 0.0
    return gap / speed if speed > 0 else None


def _recent(series: pd.Series, now: float, window_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Finite points in (now - window_s, now], sorted by time."""
    t = np.asarray(series.index, dtype=float)
    y = np.asarray(series.to_numpy(), dtype=float)
    keep = (t <= now) & (t > now - window_s) & np.isfinite(y) & np.isfinite(t)
    order = np.argsort(t[keep], kind="stable")
    return t[keep][order], y[keep][order]


def _since_last_drop(t: np.ndarray, y: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """Points after the last clean-up drop, if there was one."""
    if len(y) < 3:
        return t, y
    steps = np.diff(y)
    typical = float(np.median(np.abs(steps))) or float(np.mean(np.abs(steps))) or 0.0
    big = np.flatnonzero(steps < -factor * typical) if typical > 0 else np.array([], int)
    big = big[np.abs(steps[big]) > 0.1 * (np.max(y) - np.min(y))]
    if len(big) == 0:
        return t, y
    start = int(big[-1]) + 1
    return t[start:], y[start:]


def _deseasonalise(t: np.ndarray, y: np.ndarray, period_s: float) -> tuple[np.ndarray, float]:
    """Remove a cycle of ``period_s`` (two harmonics, fitted with a line) once observable."""
    if len(t) < 8 or t[-1] - t[0] < 0.9 * period_s:
        return y, 0.0
    phase = 2 * np.pi * (t - t[0]) / period_s
    waves = [f(k * phase) for k in (1, 2) for f in (np.sin, np.cos)]  # daily + 12 h shape
    design = np.column_stack([np.ones_like(t), t - t[0], *waves])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    cycle = design[:, 2:] @ coef[2:]
    return y - cycle, float(np.max(cycle) - np.min(cycle)) / 2.0


def _theil_sen(t: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Median slope of pairs at least half the span apart, with a Sen-style 90 % interval."""
    if len(t) > MAX_POINTS:
        pick = np.linspace(0, len(t) - 1, MAX_POINTS).round().astype(int)
        t, y = t[pick], y[pick]
    i, j = np.triu_indices(len(t), k=1)
    dt = t[j] - t[i]
    ok = dt >= LONG_PAIRS * (t[-1] - t[0])  # long baselines: noise and cycles cancel
    slopes = np.sort((y[j] - y[i])[ok] / dt[ok])
    n, m = len(t), len(slopes)
    c = Z_90 * math.sqrt(n * (n - 1) * (2 * n + 5) / 18.0) * m / (n * (n - 1) / 2.0)
    lo_k = int(max(0, math.floor((m - c) / 2.0)))
    hi_k = int(min(m - 1, math.ceil((m + c) / 2.0)))
    return float(np.median(slopes)), float(slopes[lo_k]), float(slopes[hi_k])


def forecast_cyclic(
    series: pd.Series,
    threshold: float,
    *,
    now: float,
    window_s: float,
    period_s: float = DAY_S,
    min_points: int = 10,
    horizon_periods: int = 30,
) -> Forecast | None:
    """Time until a rising ``series`` with a cycle of ``period_s`` reaches ``threshold``.

    With less than a cycle and a quarter of the window of history this is
    :func:`forecast_time_to` on the window (the window shrinks to the history there is).
    Otherwise the next cycle is ``y(t - period) + z(now) + slope * (t - now)``: last
    cycle's curve (a rolling median) plus the level and Theil–Sen trend of its difference
    ``z`` (the steepest of the window and its last half and quarter, so a leak that began an
    hour ago counts in full). The slope counts for one cycle; each later cycle repeats the
    first, higher by the day-over-day rise ``z(now)``. A trend that moved ``z`` less than its
    noise, or a day-over-day rise within that noise, counts as none: a slope from an hour of
    noise is not extrapolated over a day. The first crossing within ``horizon_periods`` cycles
    is the ETA; its range comes from the slope's interval and the larger of the spread of
    ``z`` and how much it varied over the last cycle (days that differ widen it).
    """
    # two cycles when there are: the second says how much today-minus-yesterday usually moves
    t, y = _recent(series, now, window_s + 2 * period_s + SMOOTH_S)
    # a window shortened to the history there is, down to a quarter, before giving up the cycle
    usable = min(window_s, now - period_s - SMOOTH_S / 2 - (t[0] if len(t) else now))
    if len(t) < min_points or usable < window_s / 4:
        return forecast_time_to(series, threshold, now=now, window_s=window_s,
                                min_points=min_points, period_s=period_s)
    curve = _rolling_median(t, y, SMOOTH_S)
    known = t >= t[0] + period_s + SMOOTH_S / 2  # where last cycle's curve has no edge
    tz = t[known & (t > now - period_s)]
    z_all = y[known & (t > now - period_s)] - np.interp(tz - period_s, t, curve)
    recent = tz > now - usable
    tw, z = tz[recent], z_all[recent]
    if len(tw) < min_points:
        return None
    trend = _steepest_trend(tw, z, now, min_points, tz[~recent], z_all[~recent])
    if float(y[-1]) >= threshold:
        return Forecast(0.0, 0.0, 0.0, trend.slope, now)
    h = np.linspace(0.0, period_s, WALK_STEPS + 1)[1:]
    base = np.interp(now + h - period_s, t, curve) + trend.level
    k = np.arange(horizon_periods)[:, None]
    ahead = (h + k * period_s).ravel()
    # a day-over-day rise beyond the noise and beyond how much today-minus-yesterday varies
    usual_gap = ROBUST_90 * float(np.median(np.abs(z_all - np.median(z_all))))
    above = trend.level > max(trend.spread, usual_gap)  # today is higher than days differ
    drift = trend.level if above else 0.0

    def arrival(rate: float, shift: float) -> float | None:
        if drift <= 0.0 and not np.any(base + rate * h + shift >= threshold):
            return None  # the next cycle stays short of the limit and the next are no higher
        walk = base + shift + k * drift + rate * np.minimum(h + k * period_s, period_s)
        return _first(ahead, (walk >= threshold).ravel())

    # a rise counts only from above yesterday: a rise back from a dip is not a leak
    counts = trend.significant and above
    eta = arrival(trend.slope if counts else 0.0, 0.0)
    if eta is None:
        return Forecast(None, None, None, trend.slope, now)
    band = max(trend.spread, usual_gap)  # the range also spans how much days differ
    low = arrival(trend.hi if counts else 0.0, band)
    high = arrival(trend.lo if counts else 0.0, -band)
    return Forecast(eta, min(low if low is not None else 0.0, eta),
                    math.inf if high is None else max(high, eta), trend.slope, now)


@dataclass(frozen=True)
class _Trend:
    slope: float
    lo: float
    hi: float
    level: float  # at now
    spread: float  # 90 % of the residuals
    significant: bool  # it moved the level by more than its noise over its span


def _steepest_trend(t: np.ndarray, z: np.ndarray, now: float, min_points: int,
                    t_ref: np.ndarray, z_ref: np.ndarray) -> _Trend:
    """Theil–Sen on the window and on its last half and quarter: the steepest that moved the
    level by more than its residuals' 90 % spread and by more than the (robust) 90 % of the moves of
    ``z_ref`` (today-minus-yesterday over the rest of the last cycle) over as long a span (a
    leak that began within the window is not averaged away; a morning rise that came an hour
    later than yesterday's, or a slow wander, is not taken for one)."""
    fits = []
    for share in (1.0, 0.5, 0.25):
        keep = t >= t[-1] - share * (t[-1] - t[0])
        if keep.sum() < min_points:
            continue
        tt, zz = t[keep], z[keep]
        slope, lo, hi = _theil_sen(tt, zz)
        level = float(np.median(zz - slope * tt)) + slope * now
        spread = Z_90 * 1.4826 * float(np.median(np.abs(zz - (level + slope * (tt - now)))))
        span = float(tt[-1] - tt[0])
        moves = np.zeros(0)
        if len(t_ref) > 1:
            moves = z_ref - np.interp(t_ref - span, t_ref, z_ref, left=np.nan)
            moves = np.abs(moves[np.isfinite(moves)])
        usual = ROBUST_90 * float(np.median(moves)) if len(moves) else 0.0
        fits.append(_Trend(slope, lo, hi, level, spread, slope * span > max(spread, usual)))
    beat = [f for f in fits if f.significant]
    return max(beat, key=lambda f: f.slope) if beat else fits[0]


def _first(h: np.ndarray, hit: np.ndarray) -> float | None:
    """The first ``h`` where ``hit`` holds, or None."""
    at = np.flatnonzero(hit)
    return float(h[at[0]]) if len(at) else None


def _rolling_median(t: np.ndarray, y: np.ndarray, width_s: float) -> np.ndarray:
    """A centred rolling median over ``width_s`` seconds of an irregular series."""
    s = pd.Series(y, index=pd.to_datetime(t, unit="s"))
    return s.rolling(pd.Timedelta(seconds=width_s), center=True, min_periods=1).median().to_numpy()
