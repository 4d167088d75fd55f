"""The per-service IsolationForest model: features, scores, drivers, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tamma_dash.analytics.anomaly import (
    ServiceAnomalyModel,
    frame_features,
    last_row_features,
)

SETTINGS = ServiceAnomalyModel(
    long=60, short=6, n_estimators=40, calibration_rows=500, band_rows=120
)
METRICS = ["cpu_percent", "memory_percent", "response_time_ms"]


def service_frame(seed: int, rows: int = 1200) -> pd.DataFrame:
    """Three correlated-ish noisy metrics at 5 s on a float epoch index."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(rows, 3)) * [2.0, 1.0, 5.0] + [40.0, 60.0, 120.0]
    return pd.DataFrame(base, index=1_700_000_000 + 5.0 * np.arange(rows), columns=METRICS)


@pytest.fixture(scope="module")
def fitted() -> tuple[pd.DataFrame, object]:
    frame = service_frame(0)
    return frame, SETTINGS.fit(frame.iloc[:1000])


def test_last_row_features_equal_the_vectorised_ones() -> None:
    frame = service_frame(1, 300)
    frame.iloc[100:110, 1] = np.nan
    full = frame_features(frame, 60, 6)
    for end in (5, 61, 105, 300):
        fast = last_row_features(frame.to_numpy()[max(0, end - 61) : end], 60, 6)
        np.testing.assert_allclose(fast, full[end - 1], atol=1e-9)


def test_ordinary_rows_score_low_and_spikes_high(fitted: tuple[pd.DataFrame, object]) -> None:
    frame, model = fitted
    scores = [model.score(frame.iloc[: end + 1]).score for end in range(1000, 1200, 10)]
    assert np.mean(np.array(scores) >= 0.7) <= 0.1
    hits = 0
    for k, end in enumerate(range(1000, 1200, 20)):
        tail = frame.iloc[end - 100 : end + 1].copy()
        tail.iloc[-1, k % 3] += 12 * [2.0, 1.0, 5.0][k % 3]
        result = model.score(tail)
        hits += result.score >= 0.7 and result.drivers[0].metric == METRICS[k % 3]
    assert hits >= 9


def test_drivers_explain_with_value_median_and_distance(
    fitted: tuple[pd.DataFrame, object],
) -> None:
    frame, model = fitted
    tail = frame.iloc[900:1001].copy()
    tail.iloc[-1, 2] = 400.0
    result = model.score(tail)
    top = result.drivers[0]
    assert top.metric == "response_time_ms" and top.value == 400.0
    assert top.median == pytest.approx(120.0, abs=2.0)
    assert top.distance > 10.0
    assert result.per_series["response_time_ms"] == 1.0
    assert set(result.per_series) == set(METRICS)
    assert all(0.0 <= v <= 1.0 for v in result.per_series.values())


def test_fit_is_deterministic_with_a_seed() -> None:
    frame = service_frame(2, 600)
    tail = frame.iloc[-80:]
    a = SETTINGS.fit(frame).score(tail)
    b = SETTINGS.fit(frame).score(tail)
    assert a == b


def test_missing_metrics_and_gaps_are_tolerated(fitted: tuple[pd.DataFrame, object]) -> None:
    frame, model = fitted
    tail = frame.iloc[900:1001].drop(columns=["memory_percent"])
    tail.iloc[-3:, 0] = np.nan
    result = model.score(tail)
    assert 0.0 <= result.score <= 1.0
    assert set(result.per_series) == set(METRICS)


def test_fit_rejects_too_little_data() -> None:
    with pytest.raises(ValueError, match="need at least 12 rows"):
        SETTINGS.fit(service_frame(3, 5))
