"""Trends explorer: URL state, overlay/stack layout, compare overlays, live ticks, the page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from dash import Dash

from tamma_dash.models import Sample
from tamma_dash.ui.downsample import iso
from tamma_dash.ui.timerange import TimeRange, query_dict
from tamma_dash.ui.trends_view import (
    Frames,
    TrendsState,
    parse_state,
    shifted,
    state_query,
    tick_patch,
    trace_roles,
    trends_figure,
    trends_range,
)

T0 = 1_700_000_000.0
API = "api/response_time_ms"
DB = "database/db_query_p95_ms"
CPU = "worker-1/cpu_percent"
QUEUE = "orchestrator/queue_depth"


def frame(keys: list[str], n: int = 6, start: float = T0, step: float = 5.0) -> pd.DataFrame:
    ts = start + step * np.arange(n)
    cols = {k: np.arange(n, dtype=float) * (i + 1) + 10 * i for i, k in enumerate(keys)}
    return pd.DataFrame(cols, index=pd.Index(ts, name="ts"))


# --- URL state ---

def test_state_round_trips_through_the_url_and_keeps_the_range() -> None:
    state = TrendsState(series=(API, CPU), mode="stack", compare="week", normalise=True)
    search = state_query("?range=6h", state)
    assert search == f"?range=6h&series={API},{CPU}&mode=stack&compare=week&norm=1"
    query = query_dict(search)
    assert query == {"range": "6h", "series": f"{API},{CPU}", "mode": "stack",
                     "compare": "week", "norm": "1"}
    assert parse_state(query) == state


def test_defaults_stay_out_of_the_url_and_bad_values_fall_back() -> None:
    search = state_query("?range=1h", TrendsState(series=(API,)))
    assert search == "?range=1h&series=api/response_time_ms"
    state = parse_state({"series": f"{API},nope/x,{API}", "mode": "3d", "compare": "year"},
                        known=[API, CPU])
    assert state == TrendsState(series=(API,), mode="overlay", compare="none", normalise=False)


def test_thirty_days_is_a_live_trends_preset_and_zoom_ranges_pass_through() -> None:
    assert trends_range({"range": "30d"}, T0) == TimeRange(T0 - 30 * 86400, T0, "30d", True)
    assert trends_range({"range": "6h"}, T0) == TimeRange(T0 - 21600, T0, "6h", True)
    assert trends_range({"start": "10", "end": "20"}, T0) == TimeRange(10.0, 20.0, None, False)


# --- figures ---

def test_overlay_of_one_unit_uses_one_axis() -> None:
    fig = trends_figure(Frames(frame([API, DB])), TrendsState(series=(API, DB)))
    assert [t.name for t in fig.data] == ["api · response time", "database · p95 query time"]
    assert [t.yaxis for t in fig.data] == [None, None]
    assert fig.layout.yaxis.title.text == "ms"
    assert "yaxis2" not in fig.to_plotly_json()["layout"]


def test_overlay_of_two_units_puts_the_second_unit_on_a_right_axis() -> None:
    fig = trends_figure(Frames(frame([API, CPU, DB])), TrendsState(series=(API, CPU, DB)))
    assert [t.yaxis for t in fig.data] == [None, "y2", None]
    assert (fig.layout.yaxis.title.text, fig.layout.yaxis2.title.text) == ("ms", "%")
    assert (fig.layout.yaxis2.overlaying, fig.layout.yaxis2.side) == ("y", "right")


def test_three_units_are_normalised_to_min_zero_max_one() -> None:
    f = frame([API, CPU, QUEUE], n=5)  # columns: 0..4, 10..18 step 2, 20..32 step 3
    fig = trends_figure(Frames(f), TrendsState(series=(API, CPU, QUEUE)))
    for trace in fig.data:
        assert list(trace.y) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert fig.layout.meta["normalised"] is True
    assert fig.layout.meta["scales"][CPU] == [10.0, 18.0]
    assert fig.layout.yaxis.title.text.startswith("normalised")


def test_stack_gives_each_series_a_row_on_one_shared_time_axis() -> None:
    fig = trends_figure(Frames(frame([API, CPU, QUEUE])), TrendsState(series=(API, CPU, QUEUE),
                                                                      mode="stack"))
    assert [(t.xaxis, t.yaxis) for t in fig.data] == [("x", "y"), ("x2", "y2"), ("x3", "y3")]
    assert fig.layout.xaxis.matches == "x3" and fig.layout.xaxis2.matches == "x3"
    assert fig.layout.xaxis3.title.text == "time (UTC)"
    assert [a.text for a in fig.layout.annotations] == [
        "api · response time", "worker-1 · CPU", "orchestrator · queue depth"]
    assert fig.layout.yaxis2.title.text == "%"
    assert fig.layout.height == 3 * 170 + 120


def test_compare_overlay_is_the_previous_day_shifted_exactly_one_day_dashed() -> None:
    now = frame([API], n=4)
    yesterday = frame([API], n=4, start=T0 - 86400.0) * 0 + 7.0
    state = TrendsState(series=(API,), compare="day")
    fig = trends_figure(Frames(now, shifted(yesterday, 86400.0)), state)
    series, compare = fig.data
    assert compare.name == "api · response time (previous day)"
    assert list(compare.x) == list(series.x) == iso(T0 + 5.0 * np.arange(4))
    assert list(compare.y) == [7.0] * 4
    assert compare.line.dash == "dash" and compare.line.color == series.line.color
    assert compare.meta == {"key": API, "role": "compare", "shift": 86400.0}
    assert trace_roles(fig) == [("series", API), ("compare", API)]


def test_stacked_compare_trace_shares_its_series_row() -> None:
    keys = [API, CPU]
    fig = trends_figure(Frames(frame(keys), shifted(frame(keys, start=T0 - 604800), 604800)),
                        TrendsState(series=tuple(keys), mode="stack", compare="week"))
    assert [(t.name, t.yaxis) for t in fig.data] == [
        ("api · response time", "y"), ("api · response time (previous week)", "y"),
        ("worker-1 · CPU", "y2"), ("worker-1 · CPU (previous week)", "y2")]


# --- live ---

def _ops(patch: Any) -> list[tuple[str, list[Any], Any]]:
    return [(op["operation"], op["location"], op["params"].get("value"))
            for op in patch.to_plotly_json()["operations"]]


def test_tick_extends_series_trims_the_window_and_redraws_the_compare_trace() -> None:
    roles = [("series", API), ("compare", API)]
    now = frame([API], n=5)  # ts T0 .. T0+20, last shown T0+15 with a 10 s window
    before = frame([API], n=5) + 100.0
    patch, last = tick_patch(roles, Frames(now, before), last_ts=T0 + 15, window_s=10.0)
    assert last == T0 + 20
    ops = _ops(patch)
    assert ("Delete", ["data", 0, "x", 0], None) in ops  # T0+5 left the window
    assert ("Extend", ["data", 0, "x"], iso([T0 + 20])) in ops
    assert ("Extend", ["data", 0, "y"], [4.0]) in ops
    assert ("Assign", ["data", 1, "x"], iso([T0 + 15, T0 + 20])) in ops
    assert ("Assign", ["data", 1, "y"], [103.0, 104.0]) in ops


def test_tick_with_nothing_new_is_no_patch() -> None:
    patch, last = tick_patch([("series", API)], Frames(frame([API], n=3)), last_ts=T0 + 10,
                             window_s=60.0)
    assert (patch, last) == (None, T0 + 10)


def test_tick_normalises_new_points_with_the_figure_scale() -> None:
    patch, _ = tick_patch([("series", API)], Frames(frame([API], n=3)), last_ts=T0 + 5,
                          window_s=1e9, scale={API: (0.0, 4.0)})
    assert ("Extend", ["data", 0, "y"], [0.5]) in _ops(patch)


# --- the page, on a real store ---

@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tamma_dash.runtime import build
    from tamma_dash.ui import context

    from .conftest import live_settings

    clock_now = [T0 + 600.0]
    rt = build(live_settings(Path(tmp_path_factory.mktemp("trends")) / "data", interval_s=5.0),
               "run", clock=lambda: clock_now[0])
    for i in range(120):
        ts = T0 + 5.0 * i
        rt.store.append(ts, [Sample(ts, "api", "response_time_ms", 50.0 + i),
                             Sample(ts, "worker-1", "cpu_percent", float(i % 10))])
    context.set_runtime(rt)
    Dash(__name__, use_pages=True, pages_folder="")
    from tamma_dash.ui.pages import trends

    yield trends
    rt.store.close()


def _find(component: Any, cid: Any) -> Any:
    if getattr(component, "id", None) == cid:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is None or isinstance(child, str | int | float):
            continue
        hit = _find(child, cid)
        if hit is not None:  # components with no children are falsy (len 0)
            return hit
    return None


def test_page_layout_reads_its_state_from_the_query(page: Any) -> None:
    root = page.layout(series=f"{API},{CPU},nope/x", mode="stack", compare="none", range="15m")
    assert _find(root, "trends-series").value == [API, CPU]
    assert _find(root, "trends-mode").value == "stack"
    assert _find(root, "trends-range").value == "15m"
    fig = _find(root, page.CHART_ID).figure
    assert [t.name for t in fig.data] == ["api · response time", "worker-1 · CPU"]
    values = [y for y in fig.data[0].y if y is not None]
    assert values[-120:] == [50.0 + i for i in range(120)]  # every point: full res when live
    assert fig.data[0].x[-1] == iso([T0 + 595.0])[0]
    live = _find(root, "trends-live").data
    assert (live["full"], live["last_ts"], live["window"]) == (True, T0 + 595.0, 900.0)
    assert "api · response time: 169 ms now" in _find(root, "trends-desc").children
    for fmt in ("png", "svg", "pdf", "csv"):
        assert _find(root, {"type": "export", "page": "trends", "chart": "explorer",
                            "fmt": fmt}) is not None


def test_bare_trends_page_shows_response_times(page: Any) -> None:
    assert _find(page.layout(), "trends-series").value == [API]
