"""Baselines: rolling before there is history, by time of day after; never the future."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tamma_dash.analytics.baseline import baseline, distance_from_baseline

DAY = 86_400.0


def daily(days: float, step: float = 300.0, seed: int = 0) -> pd.Series:
    """A daily cycle of amplitude 5 around 10 with noise 0.5."""
    ts = np.arange(0.0, days * DAY, step)
    rng = np.random.default_rng(seed)
    return pd.Series(10 + 5 * np.sin(2 * np.pi * ts / DAY) + rng.normal(0, 0.5, len(ts)), index=ts)


def test_rolling_band_is_median_and_quantiles_of_the_past_window() -> None:
    ts = np.arange(0.0, 7200.0, 60.0)
    s = pd.Series(np.arange(len(ts), dtype=float), index=ts)
    band = baseline(s, now=ts[-1], window_s=600.0, min_periods=5)
    assert list(band.columns) == ["lower", "median", "upper"]
    assert band.index.equals(s.index)
    assert band.iloc[:5].isna().all().all()  # fewer than 5 past points
    row = band.loc[3600.0]  # the 10 minutes before: values 50..59
    assert row["median"] == pytest.approx(54.5)
    assert row["lower"] == pytest.approx(np.quantile(np.arange(50, 60), 0.05))
    assert row["upper"] == pytest.approx(np.quantile(np.arange(50, 60), 0.95))


def test_seasonal_band_follows_the_time_of_day_after_enough_history() -> None:
    s = daily(5)
    band = baseline(s, now=float(s.index[-1]))
    late = band.loc[band.index >= 4 * DAY]
    cycle = 10 + 5 * np.sin(2 * np.pi * late.index.to_numpy() / DAY)
    assert np.median(np.abs(late["median"].to_numpy() - cycle)) < 0.7
    inside = (s.loc[late.index] >= late["lower"]) & (s.loc[late.index] <= late["upper"])
    assert 0.75 <= inside.mean() <= 0.98


def test_rows_after_now_are_ignored_and_future_never_changes_the_past() -> None:
    s = daily(4)
    now = 3.5 * DAY
    band = baseline(s, now=now)
    assert band.index.max() <= now
    changed = s.copy()
    changed[changed.index > 3.0 * DAY] = 1e6
    past = baseline(changed, now=now).loc[: 3.0 * DAY]
    pd.testing.assert_frame_equal(past, band.loc[: 3.0 * DAY])


def test_gaps_and_unsorted_input_are_tolerated() -> None:
    s = daily(1).iloc[::-1].copy()
    s.iloc[10:20] = np.nan
    band = baseline(s, now=DAY)
    assert band.index.is_monotonic_increasing
    assert len(band) == len(s) - 10
    assert baseline(pd.Series(dtype=float), now=0.0).empty


def test_distance_from_baseline_in_band_widths() -> None:
    band = (10.0, 15.0, 20.0)
    assert distance_from_baseline(15.0, band) == 0.0
    assert distance_from_baseline(20.0, band) == 0.0
    assert distance_from_baseline(35.0, band) == pytest.approx(1.5)
    assert distance_from_baseline(5.0, band) == pytest.approx(-0.5)
    row = pd.Series({"lower": 1.0, "median": 2.0, "upper": 3.0})
    assert distance_from_baseline(4.0, row) == pytest.approx(0.5)
    assert math.isnan(distance_from_baseline(4.0, (math.nan, 2.0, 3.0)))
    assert distance_from_baseline(2.0 + 1e-6, (2.0, 2.0, 2.0)) > 100  # flat band: tiny width
