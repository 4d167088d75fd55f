"""The capacity page: forecasts in words, soonest first, and a chart of history, trend and range."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dash
import numpy as np
import pandas as pd
import pytest

from tamma_dash.analytics.capacity import CapacityForecast, Target, forecast_target
from tamma_dash.analytics.results import AnalyticsResults
from tamma_dash.config import ServiceConfig, Settings
from tamma_dash.models import M, Sample, ServiceKind
from tamma_dash.runtime import Runtime, build
from tamma_dash.ui import capacity_view as cv
from tamma_dash.ui import context
from tests.ui_support import find, wire

T0 = 1_700_000_000.0
DAY = 86_400.0






def disk_history(slope_per_day: float = 10.0, start: float = 40.0) -> pd.Series:
    """A day of disk % every 5 min, climbing ``slope_per_day`` with 0.5 % noise."""
    t = T0 - DAY + 300.0 * np.arange(289)
    noise = np.random.default_rng(1).normal(0, 0.5, len(t))
    return pd.Series(start + slope_per_day * (t - t[0]) / DAY + noise, index=t)


def disk_forecast(slope: float = 10.0) -> CapacityForecast:
    fc = forecast_target(Target("api/disk_percent", 85.0, True, DAY), disk_history(slope), T0)
    assert fc is not None
    return fc


def flat(key: str, service: str, label: str) -> CapacityForecast:
    return CapacityForecast(key, service, key.split("/")[1], label, "", 30.0, True, 2.0, None,
                            None, None, 0.0, T0, None, f"{label} not heading for 30")


def test_the_sentence_names_limit_eta_and_range() -> None:
    fc = disk_forecast()
    assert fc.text.startswith("disk 85 % in 3 d ")
    assert ", between " in fc.text and fc.low_s is not None and fc.high_s is not None
    assert fc.low_s <= fc.eta_s <= fc.high_s  # type: ignore[operator]


def test_table_orders_soonest_first_and_says_how_urgent() -> None:
    soon, later = disk_forecast(30.0), disk_forecast(10.0)
    later = CapacityForecast(**{**later.__dict__, "key": "db/disk_percent", "service": "db"})
    idle = flat("orchestrator/queue_depth", "orchestrator", "queue depth")
    assert cv.ordered([idle, later, soon]) == [soon, later, idle]
    table = wire(cv.capacity_table([idle, later, soon], chosen="db/disk_percent"))
    rows = find(table, lambda p: p.get("scope") == "row")
    assert [r["children"]["props"]["children"] for r in rows] == ["api", "db", "orchestrator"]
    text = json.dumps(table)
    assert "within a day" in text and "within a week" in text and "fine" in text
    assert "queue depth not heading for 30" in text
    assert len(find(table, lambda p: p.get("className") == "table-active")) == 1
    assert "No forecasts yet" in json.dumps(wire(cv.capacity_table([])))


def test_chart_has_history_trend_to_the_limit_and_a_range_band() -> None:
    fc = disk_forecast()
    fig = cv.capacity_figure(disk_history(), fc)
    names = [t.name for t in fig.data]
    assert names == ["90 % range", "history", "trend", "limit 85%"]
    band, history, trend, limit = fig.data
    assert band.fill == "toself" and band.hoverinfo == "skip"
    assert len(history.x) == 289
    assert trend.y[-1] == pytest.approx(85.0)  # the trend ends where it meets the limit
    end = pd.Timestamp(trend.x[-1]).timestamp()
    assert end == pytest.approx(T0 + fc.eta_s, abs=0.01)  # type: ignore[operator]
    assert list(limit.y) == [85.0, 85.0]
    assert fc.text in fig.layout.title.text


def test_chart_of_a_series_not_heading_for_its_limit_runs_flat_to_the_horizon() -> None:
    fc = flat("orchestrator/queue_depth", "orchestrator", "queue depth")
    fig = cv.capacity_figure(pd.Series([2.0, 2.0], index=[T0 - 5, T0]), fc)
    trend = fig.data[2]
    assert list(trend.y) == [2.0, 2.0]
    assert all(math.isfinite(v) for v in fig.data[0].y)


# -- the page --------------------------------------------------------------------------------


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    services = (ServiceConfig("api", ServiceKind.API),)
    settings = Settings(data_dir=tmp_path, demo=False, host_metrics=False, services=services,
                        interval_s=5.0)
    runtime = build(settings, "run", clock=lambda: T0)
    history = disk_history()
    for ts, value in history.items():
        runtime.store.append(float(ts), [Sample(float(ts), "api", M.DISK, float(value))])
    forecasts = (flat("orchestrator/queue_depth", "orchestrator", "queue depth"), disk_forecast())
    AnalyticsResults(T0, forecasts=forecasts, fitted={"api": T0}).save(tmp_path)
    context.set_runtime(runtime)
    yield runtime
    runtime.store.close()


@pytest.fixture(scope="module")
def page() -> Any:
    dash.Dash(__name__, use_pages=True, pages_folder="")
    from tamma_dash.ui.pages import capacity

    return capacity


def test_page_charts_the_soonest_forecast_and_lists_them_all(rt: Runtime, page: Any) -> None:
    doc = wire(page.layout())
    dropdown = find(doc, lambda p: p.get("id") == "capacity-key")[0]
    assert dropdown["value"] == "api/disk_percent"
    assert [o["value"] for o in dropdown["options"]] == ["api/disk_percent",
                                                         "orchestrator/queue_depth"]
    graph = find(doc, lambda p: p.get("id") == "capacity-chart")[0]
    history = next(t for t in graph["figure"]["data"] if t["name"] == "history")
    assert len(history["x"]) == 289
    assert "disk 85 % in 3 d" in json.dumps(find(doc, lambda p: p.get("id") == "capacity-text"))


def test_page_key_in_the_url_chooses_the_chart_and_ticks_refresh_only_on_news(
        rt: Runtime, page: Any) -> None:
    doc = wire(page.layout(key="orchestrator/queue_depth"))
    assert find(doc, lambda p: p.get("id") == "capacity-key")[0]["value"] == (
        "orchestrator/queue_depth")
    seen = find(doc, lambda p: p.get("id") == "capacity-seen")[0]["data"]
    assert page.refresh(None, "orchestrator/queue_depth", seen) == (dash.no_update,) * 4
    table, options, stamp, value = page.refresh(None, "api/disk_percent", [])
    assert "capacity-table" in json.dumps(wire(table))
    assert stamp == seen and len(options) == 2
    assert value is dash.no_update  # the reader's choice stays


def test_a_fresh_start_says_why_the_chart_is_empty_then_charts_the_first_forecast(
        rt: Runtime, page: Any, tmp_path: Path) -> None:
    (tmp_path / "analytics.json").unlink()
    doc = wire(page.layout())
    graph = find(doc, lambda p: p.get("id") == "capacity-chart")[0]["figure"]
    assert graph["data"] == [] and graph["layout"]["xaxis"] == {"visible": False}
    assert "within a minute" in graph["layout"]["annotations"][0]["text"]
    assert find(doc, lambda p: p.get("id") == "capacity-key")[0]["value"] is None
    seen = find(doc, lambda p: p.get("id") == "capacity-seen")[0]["data"]
    assert seen == []
    forecasts = (flat("orchestrator/queue_depth", "orchestrator", "queue depth"), disk_forecast())
    AnalyticsResults(T0 + 60, forecasts=forecasts, fitted={"api": T0}).save(tmp_path)
    *_, value = page.refresh(None, None, seen)
    assert value == "api/disk_percent"  # soonest to run out, charted without a click
