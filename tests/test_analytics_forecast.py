"""Capacity forecasts back-tested on noisy linear, seasonal and saw-tooth series."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tamma_dash.analytics.forecast import Forecast, forecast_time_to, human_duration

DAY = 86_400.0
STEP = 300.0


def back_test(seed: int, *, seasonal: bool) -> tuple[Forecast, float]:
    """Disk filling at 20 %/day from 40 %, noise 1 %; forecast 90 % from a day of history."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, 2 * DAY, STEP)
    y = 40 + t * (20 / DAY) + rng.normal(0, 1.0, len(t))
    if seasonal:
        y += 3 * np.sin(2 * np.pi * t / DAY) + 1.5 * np.sin(4 * np.pi * t / DAY + 1)
    now = DAY
    truth = (90 - 40) / (20 / DAY) - now  # when the noiseless trend crosses 90
    series = pd.Series(y, index=t)  # includes the future: it must be ignored
    forecast = forecast_time_to(series, 90.0, now=now)
    assert forecast is not None
    return forecast, truth


@pytest.mark.parametrize(("seasonal", "max_error"), [(False, 0.05), (True, 0.05)])
def test_time_to_threshold_error_over_seeds(seasonal: bool, max_error: float) -> None:
    errors, covered = [], 0
    for seed in range(10):
        f, truth = back_test(seed, seasonal=seasonal)
        assert f.eta_s is not None and f.low_s is not None and f.high_s is not None
        errors.append(abs(f.eta_s - truth) / truth)
        covered += f.low_s <= truth <= f.high_s
        assert f.low_s <= f.eta_s <= f.high_s
    assert float(np.median(errors)) <= max_error
    if not seasonal:
        assert covered >= 7


def test_future_rows_are_ignored() -> None:
    t = np.arange(0.0, DAY, STEP)
    y = 10 + t / 1000
    wild = pd.Series(np.r_[y, [1e9, -1e9]], index=np.r_[t, [DAY + 1, DAY + 2]])
    assert forecast_time_to(wild, 200.0, now=t[-1]) == forecast_time_to(
        pd.Series(y, index=t), 200.0, now=t[-1]
    )


def test_exact_line_gives_exact_eta() -> None:
    t = np.arange(0.0, 3600.0, 60.0)
    f = forecast_time_to(pd.Series(50 + 0.01 * t, index=t), 90.0, now=t[-1])
    assert f is not None
    assert f.slope_per_s == pytest.approx(0.01)
    assert f.eta_s == pytest.approx((90 - 50 - 0.01 * t[-1]) / 0.01)
    assert f.fitted_at == t[-1]


def test_saw_tooth_fits_since_the_last_clean_up() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(0.0, DAY, 60.0)
    y = 30 + (t % 30_000) * 0.001 + rng.normal(0, 0.2, len(t))  # cleaned every 30,000 s
    f = forecast_time_to(pd.Series(y, index=t), 60.0, now=t[-1])
    assert f is not None and f.eta_s is not None
    truth = (60 - 30 - (t[-1] % 30_000) * 0.001) / 0.001
    assert abs(f.eta_s - truth) / truth < 0.05


def test_rate_limit_remaining_falling_to_zero() -> None:
    t = np.arange(0.0, 600.0, 5.0)
    f = forecast_time_to(pd.Series(5000 - 2.0 * t, index=t), 0.0, now=t[-1], rising=False)
    assert f is not None and f.eta_s == pytest.approx((5000 - 2.0 * t[-1]) / 2.0)


def test_flat_or_receding_series_never_arrive() -> None:
    t = np.arange(0.0, 3600.0, 60.0)
    f = forecast_time_to(pd.Series(90 - 0.001 * t, index=t), 95.0, now=t[-1])
    assert f is not None and f.eta_s is None and f.low_s is None
    assert f.describe("disk", 95) == "disk not heading for 95"


def test_already_past_the_threshold_is_zero() -> None:
    t = np.arange(0.0, 3600.0, 60.0)
    f = forecast_time_to(pd.Series(95 + 0.001 * t, index=t), 90.0, now=t[-1])
    assert f is not None and f.eta_s == 0.0 and f.low_s == 0.0


def test_too_little_data_gives_none() -> None:
    t = np.arange(0.0, 5.0)
    assert forecast_time_to(pd.Series(t, index=t), 90.0, now=10.0) is None
    assert forecast_time_to(pd.Series(dtype=float), 90.0, now=10.0) is None


def test_human_wording() -> None:
    assert human_duration(3 * DAY + 4 * 3600 + 59) == "3 d 4 h"
    assert human_duration(720) == "12 min"
    assert human_duration(math.inf) == "never"
    f = Forecast(
        eta_s=3 * DAY + 4 * 3600, low_s=2 * DAY, high_s=5 * DAY, slope_per_s=1e-5, fitted_at=0.0
    )
    assert f.describe("disk", 90) == "disk 90 in 3 d 4 h (between 2 d and 5 d)"
