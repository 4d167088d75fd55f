"""Figure builders, downsampling, export, theme contrast and human formatting, without a browser."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from tamma_dash.ui import format as fmt
from tamma_dash.ui.downsample import MIN_POINTS, downsample_series, iso, to_epoch
from tamma_dash.ui.figures import (
    GL_THRESHOLD,
    describe_series,
    figure_csv,
    figure_filename,
    graph_config,
    resample_for_range,
    sparkline_figure,
    time_series_figure,
)
from tamma_dash.ui.sparkline import SPARK_POINTS, SPARK_SLACK, spark_store, sparkline_update
from tamma_dash.ui.theme import (
    PALETTES,
    STATUS_ICONS,
    STATUS_WORDS,
    contrast_ratio,
    palette,
    status_colour,
    template,
)
from tests.test_ui_service_view import apply_patch

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z
API = "api/response_time_p95_ms"
CPU = "worker/cpu_percent"


def wide(n: int, seed: int = 3, step: float = 5.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = T0 + step * np.arange(n)
    return pd.DataFrame({API: rng.normal(100.0, 10.0, n), CPU: rng.uniform(0.0, 100.0, n)},
                        index=pd.Index(ts, name="ts"))


def figure(f: pd.DataFrame, **kw: Any) -> go.Figure:
    return time_series_figure(f, [API, CPU], title="Latency", unit="ms", **kw)


# --- time_series_figure ---

def test_one_trace_per_key_with_readable_names_and_meta() -> None:
    fig = figure(wide(10))
    assert [t.name for t in fig.data] == ["api · p95 response time", "worker · CPU"]
    assert [t.meta for t in fig.data] == [{"key": API, "role": "series"},
                                          {"key": CPU, "role": "series"}]


def test_x_is_utc_iso_and_gaps_are_none() -> None:
    f = wide(3)
    f.iloc[1, 0] = np.nan
    fig = figure(f)
    assert list(fig.data[0].x) == ["2023-11-14T22:13:20.000", "2023-11-14T22:13:25.000",
                                   "2023-11-14T22:13:30.000"]
    assert list(fig.data[0].y) == [f.iloc[0, 0], None, f.iloc[2, 0]]
    assert fig.data[0].connectgaps is False


def test_layout_keeps_zoom_has_slider_and_unit_in_hover() -> None:
    a, b = figure(wide(10)), figure(wide(20, seed=9))
    assert a.layout.uirevision == b.layout.uirevision == "keep"
    assert figure(wide(10), uirevision="api-page").layout.uirevision == "api-page"
    assert a.layout.xaxis.rangeslider.visible is True
    assert a.layout.xaxis.type == "date"
    assert a.data[0].hovertemplate == "%{y:,.1f} ms<extra>api · p95 response time</extra>"
    assert a.layout.title.text == "Latency"


def test_x_range_is_applied() -> None:
    fig = figure(wide(10), x_range=(T0, T0 + 3600))
    assert list(fig.layout.xaxis.range) == ["2023-11-14T22:13:20.000", "2023-11-14T23:13:20.000"]


def test_downsampling_respects_budget_and_keeps_extremes() -> None:
    f = wide(17_280)  # 24 h at 5 s
    f.iloc[4321, 0], f.iloc[12_345, 0] = 9_999.0, -50.0
    fig = figure(f, max_points=500)
    for trace, key in zip(fig.data, (API, CPU), strict=True):
        assert len(trace.x) == len(trace.y) <= 500
        assert max(trace.y) == f[key].max() and min(trace.y) == f[key].min()
        assert trace.x[0] == iso([f.index[0]])[0] and trace.x[-1] == iso([f.index[-1]])[0]
    assert iso([f.index[4321]])[0] in fig.data[0].x


def test_gap_survives_downsampling_as_a_single_break() -> None:
    f = wide(10_000)
    f.iloc[3000:4000, 0] = np.nan
    x, y = downsample_series(f.index.to_numpy(), f[API].to_numpy(), 400)
    assert len(x) <= 400
    nan_at = np.flatnonzero(np.isnan(y))
    assert len(nan_at) == 1
    assert x[nan_at[0]] == f.index[3000]  # the break sits at the first missing row
    assert x[nan_at[0] - 1] < f.index[3000] and x[nan_at[0] + 1] >= f.index[4000]
    inside = (x > f.index[3000]) & (x < f.index[4000])
    assert not inside.any()


def test_many_gaps_still_fit_the_budget() -> None:
    f = wide(10_000)
    f.iloc[::2, 0] = np.nan  # every other row missing
    x, y = downsample_series(f.index.to_numpy(), f[API].to_numpy(), 100)
    assert len(x) <= 100
    assert not (np.isnan(y[:-1]) & np.isnan(y[1:])).any()  # never two breaks in a row
    assert np.nanmax(y) == np.nanmax(f[API]) and np.nanmin(y) == np.nanmin(f[API])


def test_short_series_is_returned_whole_and_empty_series_is_empty() -> None:
    f = wide(50)
    f.iloc[10:20, 0] = np.nan
    x, y = downsample_series(f.index.to_numpy(), f[API].to_numpy(), 50)
    assert np.array_equal(x, f.index.to_numpy())
    assert np.array_equal(y, f[API].to_numpy(), equal_nan=True)
    x, y = downsample_series(f.index.to_numpy(), np.full(50, np.nan), 10)
    assert len(x) == len(y) == 0
    with pytest.raises(ValueError, match="max_points must be at least"):
        downsample_series(x, y, MIN_POINTS - 1)


@pytest.mark.parametrize(("rows", "max_points", "kind"), [
    (GL_THRESHOLD, 5000, "scatter"), (GL_THRESHOLD + 1, 5000, "scattergl"),
    (5000, 800, "scatter"), (5000, 2000, "scattergl"),
])
def test_webgl_only_for_long_traces(rows: int, max_points: int, kind: str) -> None:
    assert figure(wide(rows), max_points=max_points).data[0].type == kind


def test_missing_key_is_an_all_gap_trace() -> None:
    fig = time_series_figure(wide(3), ["nope/up"], title="t", unit="")
    assert list(fig.data[0].y) == [None, None, None]
    assert fig.data[0].name == "nope · up"


def test_baseline_band_is_one_filled_trace_beneath_the_lines() -> None:
    f = wide(4)
    band = pd.DataFrame({"lower": [1.0, 2.0, np.nan, 4.0], "median": 0.0,
                         "upper": [11.0, 12.0, 13.0, 14.0]}, index=f.index)
    fig = figure(f, baseline=pd.concat({API: band}, axis=1))
    assert [t.name for t in fig.data] == ["api · p95 response time normal band",
                                          "api · p95 response time", "worker · CPU"]
    b = fig.data[0]
    assert b.fill == "toself" and b.meta == {"key": API, "role": "band"}
    kept = iso(f.index[[0, 1, 3]])
    assert list(b.x) == kept + kept[::-1]
    assert list(b.y) == [11.0, 12.0, 14.0, 4.0, 2.0, 1.0]


def test_baseline_without_bounds_is_a_clear_error() -> None:
    f = wide(4)
    bad = pd.concat({API: pd.DataFrame({"median": 1.0}, index=f.index)}, axis=1)
    with pytest.raises(ValueError, match="needs 'lower' and 'upper'"):
        figure(f, baseline=bad)


def test_anomalies_are_a_marker_trace_on_the_series() -> None:
    f = wide(2000)
    anomalies = pd.DataFrame({"ts": [f.index[700], f.index[70]], "key": [API, API],
                              "score": [0.91, 0.72]})
    fig = figure(f, anomalies=anomalies, max_points=5000)
    marks = fig.data[-1]
    assert marks.name == "api · p95 response time anomalies" and marks.mode == "markers"
    assert marks.meta == {"key": API, "role": "anomaly"}
    assert list(marks.x) == iso(f.index[[70, 700]])
    assert list(marks.y) == [f[API].iloc[70], f[API].iloc[700]]
    assert list(marks.customdata) == [0.72, 0.91]
    assert marks.type == "scattergl"  # drawn above the WebGL lines, not hidden beneath them
    assert fig.layout.shapes == ()
    with pytest.raises(ValueError, match="expected columns ts, key, score"):
        figure(f, anomalies=pd.DataFrame({"ts": [T0]}))


# --- zoom resampling ---

def test_zoom_gives_full_resolution_inside_the_range() -> None:
    f = wide(10_000)
    got = resample_for_range(f, [None, API], f.index[2000], f.index[2999], max_points=2000)
    assert list(got) == [1]
    assert got[1]["x"] == iso(f.index[1999:3001])  # one point beyond each edge
    assert got[1]["y"] == f[API].iloc[1999:3001].tolist()


def test_zoom_downsamples_when_still_too_many_and_reads_date_strings() -> None:
    f = wide(10_000)
    x0, x1 = iso(f.index[[100, 9000]])
    got = resample_for_range(f, [API, CPU], x0.replace("T", " "), x1, max_points=300)
    assert set(got) == {0, 1}
    assert len(got[0]["x"]) <= 300
    assert got[0]["x"][0] == iso([f.index[99]])[0] and got[0]["x"][-1] == iso([f.index[9001]])[0]
    assert len(resample_for_range(f, [API], None, None, 300)[0]["x"]) <= 300


def test_to_epoch_reads_plotly_dates_as_utc() -> None:
    assert to_epoch("2023-11-14 22:13:20") == T0
    assert to_epoch("2023-11-14T22:13:20.250") == T0 + 0.25
    assert to_epoch(12.5) == 12.5 and to_epoch(None) is None
    with pytest.raises(ValueError, match="not a date/time"):
        to_epoch("yesterday-ish")


# --- export ---

def test_csv_is_exactly_the_rows_in_range() -> None:
    f = wide(4).iloc[:, :1].copy()
    f[API] = [1.5, np.nan, 3.0, 4.25]
    text = figure_csv(f, [API, "ghost/up"], T0 + 5, T0 + 10)
    assert text == ("timestamp,epoch,api/response_time_p95_ms,ghost/up\n"
                    "2023-11-14T22:13:25.000Z,1700000005.000,,\n"
                    "2023-11-14T22:13:30.000Z,1700000010.000,3.0,\n")


def test_file_names_are_meaningful_and_safe() -> None:
    name = figure_filename("api", "response_time_p95_ms", T0, T0 + 3600, "png")
    assert name == "api_response_time_p95_ms_20231114T221320Z-20231114T231320Z.png"
    assert figure_filename("../etc/pass wd", "a b", T0, T0, "") == (
        "etc_pass_wd_a_b_20231114T221320Z-20231114T221320Z")
    assert figure_filename("api", "up", T0, T0, ".csv").endswith(".csv")


def test_graph_config_names_the_png_and_hides_the_logo() -> None:
    cfg = graph_config("api_up_x")
    assert cfg["displaylogo"] is False
    assert cfg["toImageButtonOptions"] == {"format": "png", "filename": "api_up_x", "scale": 2}


# --- sparkline and its text alternative ---

def test_sparkline_is_a_bare_line_in_the_status_colour() -> None:
    f = wide(500)
    fig = sparkline_figure(f.index, f[API], status="degraded", theme="dark")
    assert len(fig.data) == 1 and len(fig.data[0].x) <= 120
    assert fig.data[0].line.color == PALETTES["dark"].status["degraded"]
    assert fig.layout.xaxis.visible is False and fig.layout.yaxis.visible is False
    assert fig.layout.showlegend is False and fig.layout.height == 48


def _spark_doc(fig: Any) -> dict[str, Any]:
    return json.loads(fig.to_json())


def test_sparkline_update_appends_by_index_and_scrolls_the_window() -> None:
    ts, v = T0 + 5.0 * np.arange(1000), np.sin(np.arange(1000) / 30.0)
    start = ts <= ts[719]
    fig = sparkline_figure(ts[start], v[start], status="healthy", theme="light",
                           window=(ts[719] - 3600, ts[719]))
    n = len(fig.data[0].x)
    assert SPARK_POINTS - 5 <= n <= SPARK_POINTS  # an hour of 5 s rows, downsampled
    doc = _spark_doc(fig)
    patch, n2 = sparkline_update(n, ts[718:722], v[718:722], last_ts=ts[719], window_s=3600,
                                 status="healthy", theme="light")
    assert patch is not None and n2 == n + 2
    once = apply_patch(doc, patch)
    assert once["data"][0]["x"][-2:] == iso(ts[720:722])
    assert once["data"][0]["y"][-2:] == pytest.approx(list(v[720:722]))
    assert once["layout"]["xaxis"]["range"] == iso([ts[721] - 3600, ts[721]])
    assert apply_patch(once, patch) == once  # applied twice (a stale store): the same figure
    assert sparkline_update(n2, ts[718:722], v[718:722], last_ts=ts[721], window_s=3600,
                            status="healthy", theme="light") == (None, n2)


def test_sparkline_update_recolours_on_a_status_change_and_rebuilds_when_full() -> None:
    ts, v = T0 + 5.0 * np.arange(1000), np.arange(1000.0)
    patch, n = sparkline_update(130, ts[:5], v[:5], last_ts=ts[-1], window_s=3600,
                                status="down", theme="dark", recolour=True)
    doc = apply_patch({"data": [{"x": [], "y": [], "line": {"color": "#000000"}}]}, patch)
    assert doc["data"][0]["line"]["color"] == PALETTES["dark"].status["down"] and n == 130
    asked: list[bool] = []

    def window() -> tuple[np.ndarray, np.ndarray]:
        asked.append(True)
        return ts, v

    rebuilt, n = sparkline_update(SPARK_POINTS + SPARK_SLACK, ts[900:902], v[900:902],
                                  last_ts=ts[900], window_s=3600, status="down", theme="dark",
                                  window_rows=window)
    assert asked and isinstance(rebuilt, go.Figure)
    assert SPARK_POINTS - 5 <= n <= SPARK_POINTS
    assert rebuilt.data[0].x[-1] == iso([ts[901]])[0]  # the window ends at the newest row
    assert rebuilt.data[0].x[0] >= iso([ts[901] - 3600])[0]
    assert rebuilt.data[0].line.color == PALETTES["dark"].status["down"]


def test_describe_series_reads_like_a_sentence() -> None:
    text = describe_series("api p95 response time", [60, 62, 70, 130, 100, 84], "ms")
    assert text == "api p95 response time: 84 ms now, 60–130 ms over the last hour, rising"
    assert describe_series("cpu", [90, 80, 20, 10], "%", span="the last 15 min") == (
        "cpu: 10% now, 10–90% over the last 15 min, falling")
    assert describe_series("q", [5, 6, 5, 6, 5, 6], "") == (
        "q: 6 now, 5–6 over the last hour, steady")
    assert describe_series("q", [1.0, math.nan], "B") == (
        "q: no current value, 1 B throughout the last hour")
    assert describe_series("q", [], "ms") == "q: no data over the last hour"


# --- theme ---

def test_contrast_formula_matches_wcag_reference_values() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#777777") == pytest.approx(1.0)
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_text_meets_aa_and_graphics_meet_3_to_1(theme: str) -> None:
    p = palette(theme)
    for fg, bg in [(p.text, p.background), (p.muted, p.background), (p.text, p.control),
                   (p.text, p.control_active)]:
        assert contrast_ratio(fg, bg) >= 4.5, (fg, bg)
    for colour in [*p.series, *p.status.values()]:
        assert contrast_ratio(colour, p.background) >= 3.0, colour
    assert set(p.status) == set(STATUS_WORDS)
    layout = go.layout.Template(template(theme)).layout  # valid as a plotly template
    assert layout.paper_bgcolor == p.background and layout.font.color == p.text
    mine = template(theme)
    mine["layout"]["font"]["color"] = "#000000"  # a caller's change never leaks to the next
    assert template(theme)["layout"]["font"]["color"] == p.text


def test_status_has_icon_and_colour_everywhere() -> None:
    assert STATUS_ICONS == {"healthy": "✔", "degraded": "▲", "down": "✖", "unknown": "?"}
    assert status_colour("weird", "light") == PALETTES["light"].status["unknown"]
    with pytest.raises(ValueError, match="use 'light' or 'dark'"):
        palette("neon")


# --- formatting ---

@pytest.mark.parametrize(("seconds", "text"), [
    (3 * 86400 + 4 * 3600, "3 d 4 h"), (125, "2 m 05 s"), (3720, "1 h 02 m"), (45, "45 s"),
    (2.5, "2.5 s"), (0.35, "350 ms"), (-125, "-2 m 05 s"), (None, "–"), (math.nan, "–"),
])
def test_durations(seconds: float | None, text: str) -> None:
    assert fmt.fmt_duration(seconds) == text


def test_bytes_percents_ms_rates_numbers() -> None:
    assert [fmt.fmt_bytes(v) for v in (512, 1536, 3.5 * 1024**3, None)] == [
        "512 B", "1.5 KiB", "3.5 GiB", "–"]
    assert [fmt.fmt_percent(v) for v in (42.456, 100.0, 0.5)] == ["42.5%", "100%", "0.5%"]
    assert [fmt.fmt_ms(v) for v in (84, 1250, 125_000, math.inf)] == [
        "84 ms", "1.25 s", "2 m 05 s", "–"]
    assert fmt.fmt_rate(12.5) == "12.5/s" and fmt.fmt_rate(1234, "req/s") == "1,234 req/s"
    assert [fmt.fmt_number(v) for v in (1_234_567.8, 0.012345, -0.0, 12.04, 3.0)] == [
        "1,234,568", "0.0123", "0", "12", "3"]
    assert fmt.format_value(2048, "B/s") == "2 KiB/s"
    assert fmt.format_range(60, 130, "ms") == "60–130 ms"
    assert fmt.format_range(800, 1200, "ms") == "800 ms–1.2 s"


@pytest.mark.parametrize(("ago", "text"), [
    (2, "just now"), (12, "12 s ago"), (200, "3 m ago"), (7300, "2 h ago"),
    (3 * 86400 + 5, "3 d ago"), (-300, "in 5 m"),
])
def test_relative_times(ago: float, text: str) -> None:
    assert fmt.fmt_relative(T0 - ago, T0) == text


def test_series_names_for_known_and_unknown_metrics() -> None:
    assert fmt.series_name(API) == "api · p95 response time"
    assert fmt.series_name("tamma-dash/collector_ms:health") == "tamma-dash · collector ms:health"
    assert fmt.metric_unit("error_rate") == "%" and fmt.metric_unit("custom") == ""


def test_spark_store_keeps_what_the_browser_draws_and_takes_the_same_patches() -> None:
    ts, v = T0 + 5.0 * np.arange(800), np.cos(np.arange(800) / 20.0)
    fig = sparkline_figure(ts[:720], v[:720], status="down", theme="light",
                           window=(ts[719] - 3600, ts[719]))
    store = spark_store(fig)
    assert set(store) == {"data", "layout"} and set(store["data"][0]) == {"x", "y", "line"}
    assert store["data"][0]["x"] == list(fig.data[0].x)
    assert store["data"][0]["line"]["color"] == PALETTES["light"].status["down"]
    n = len(store["data"][0]["x"])
    patch, _ = sparkline_update(n, ts[719:722], v[719:722], last_ts=ts[719], window_s=3600,
                                status="down", theme="light")
    after = apply_patch(json.loads(json.dumps(store)), patch)
    assert after["data"][0]["x"][-2:] == iso(ts[720:722])
    assert after["layout"]["xaxis"]["range"] == iso([ts[721] - 3600, ts[721]])
    assert "template" not in json.dumps(store) and "template" in fig.to_json()
