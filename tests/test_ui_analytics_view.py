"""Analytics in the UI: scores in words, the timeline, explanations, hints, chart bands/markers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import dash
import numpy as np
import pytest

from tamma_dash.analytics.events import AnomalyEvent, DriverInfo
from tamma_dash.analytics.hints import RootCauseHint
from tamma_dash.analytics.results import AnalyticsResults
from tamma_dash.config import ServiceConfig, Settings
from tamma_dash.models import M, Sample, ServiceKind
from tamma_dash.runtime import Runtime, build
from tamma_dash.ui import analytics_view as av
from tamma_dash.ui import context
from tamma_dash.ui import service_view as sv
from tamma_dash.ui.bands import overlay_traces
from tamma_dash.ui.live import live_keys
from tests.ui_support import find, wire

T0 = 1_700_000_000.0
STEP = 5.0
SERVICES = (ServiceConfig("database", ServiceKind.DATABASE),
            ServiceConfig("api", ServiceKind.API, depends_on=("database",)))
POOL = DriverInfo("db_pool_waiting", 14.0, 0.0, 7.0, 0.99)
EVENT = AnomalyEvent("database@1", "database", T0 + 300, T0 + 310, None, 0.97, (POOL,))
OLD = AnomalyEvent("api@1", "api", T0 + 50, T0 + 60, T0 + 90, 0.6, ())
HINT = RootCauseHint("database", "pool exhausted", T0 + 300, (("api", "degraded"),),
                     (("database", "earliest unusual service"), ("api", "depends on database")))






def test_scores_in_words() -> None:
    assert [av.score_words(s) for s in (0.1, 0.5, 0.8, 0.95, None)] == [
        "normal", "unusual", "very unusual", "anomalous", "not scored yet"]


def test_scores_table_lists_the_worst_first_with_words_and_links() -> None:
    table = wire(av.scores_table({"api": 0.2, "database": 0.97}, ["database"]))
    rows = find(table, lambda p: p.get("scope") == "row")
    assert [r["children"]["props"]["children"] for r in rows] == ["database", "api"]
    assert rows[0]["children"]["props"]["href"] == "/service/database"
    text = json.dumps(table)
    assert "0.97" in text and "anomalous" in text and "normal" in text
    assert "No service has been scored" in json.dumps(wire(av.scores_table({})))


def test_timeline_has_a_marker_per_anomaly_linking_to_its_moment() -> None:
    fig = av.timeline_figure([OLD, EVENT], ["api", "database"], T0, T0 + 600)
    markers = [t for t in fig.data if t.meta["role"] == "anomaly"]
    assert [t.name for t in markers] == ["api", "database"]
    db = markers[1]
    assert db.mode == "markers" and list(db.y) == ["database"]
    assert db.customdata[0][0] == f"/service/database?t={T0 + 310:.0f}"
    assert db.customdata[0][2] == ("waiting for a connection 14 (usually 0), 7.0 band widths "
                                   "above normal")
    spans = [t for t in fig.data if t.meta["role"] == "span"]
    assert len(spans[0].x) == 3 and spans[0].x[2] is None  # start, end, gap
    assert fig.layout.xaxis.range == ("2023-11-14T22:13:20.000", "2023-11-14T22:23:20.000")


def test_an_anomaly_explains_its_drivers_and_links_to_the_moment() -> None:
    card = wire(av.event_card(EVENT, T0 + 400))
    text = json.dumps(card)
    assert "7.0 band widths above normal" in text and "(usually 0)" in text
    assert "for 1 m 40 s so far" in text and "peak score 0.97" in text
    links = find(card, lambda p: "href" in p)
    assert links[0]["href"] == f"/service/database?t={T0 + 310:.0f}"
    assert "none alone" in av.explain(OLD)
    listed = wire(av.event_list([OLD, EVENT], T0 + 400))
    assert json.dumps(listed).index("database") < json.dumps(listed).index("api")


def test_root_cause_hint_is_one_line_with_a_link_to_the_cause() -> None:
    hint = wire(av.root_cause_hint(HINT))
    text = json.dumps(hint)
    assert "api degraded; likely cause: database pool exhausted, since 22:18:20" in text
    assert find(hint, lambda p: "href" in p)[0]["href"] == f"/service/database?t={T0 + 300:.0f}"
    assert av.root_cause_hint(None) is None
    assert wire(av.root_cause_hint(HINT.as_dict())) == hint


def test_a_shared_cause_hint_links_to_trends_comparing_them_with_the_host() -> None:
    shared = RootCauseHint("host", "", T0 + 300, (("worker-1", "degraded"),),
                           (("github", "earliest unusual service"),),
                           ("github", "gitlab", "openai"))
    hint = wire(av.root_cause_hint(shared))
    text = json.dumps(hint)
    assert "github, gitlab, openai turned unusual at the same moment (and 1 more), with" in text
    link = find(hint, lambda p: "href" in p)[0]
    assert link["children"] == "Compare them on Trends"
    href = link["href"]
    assert href.startswith("/trends?series=github/response_time_ms,gitlab/response_time_ms,"
                           "openai/response_time_ms,host/cpu_percent,host/load1")
    assert f"start={T0 + 300 - 900:.0f}" in href and f"end={T0 + 300 + 900:.0f}" in href
    both = replace(shared, problem="orchestrator")
    link = find(wire(av.root_cause_hint(both)), lambda p: "href" in p)[0]["href"]
    assert "openai/response_time_ms,orchestrator/response_time_ms,host/cpu_percent" in link


def test_codes_read_as_words_and_a_flat_band_is_not_counted_in_widths() -> None:
    down = av.driver_text(DriverInfo("status", 2.0, 0.0, 2e9, 1.0))
    assert down == "status down (usually healthy), far above its normal band, which is flat"
    gone = av.driver_text(DriverInfo("up", 0.0, 1.0, -1e9, 1.0))
    assert gone == "not answering (usually answering), far below its normal band, which is flat"
    odd = av.driver_text(DriverInfo("status", 7.0, 0.0, 3.0, 1.0))  # not a status code
    assert odd.startswith("status 7 (usually healthy), 3.0 band widths above")


def test_badges_on_light_colours_have_dark_text() -> None:
    """White on Bootstrap's info cyan or warning yellow is 1.9:1 at best (WCAG AA wants 4.5)."""
    table = wire(av.scores_table({"a": 0.6, "b": 0.85, "c": 0.97, "d": 0.1}))
    badges = {b["children"]: b for b in find(table, lambda p: "color" in p)}
    assert set(badges) == {"unusual", "very unusual", "anomalous", "normal"}
    for word in ("unusual", "very unusual"):
        assert badges[word].get("text_color") == "dark", badges[word]
    for word in ("anomalous", "normal"):
        assert badges[word].get("text_color") is None, badges[word]
    card = wire(av.event_card(replace(EVENT, score=0.6), T0 + 400))
    assert [b.get("text_color") for b in find(card, lambda p: "color" in p)] == ["dark"]


def test_reported_text_stays_text() -> None:
    odd = AnomalyEvent("x", "<b>api</b>", T0, T0, None, 0.9,
                       (DriverInfo("<script>x</script>", 1.0, 0.0, 2.0, 0.9),))
    card = wire(av.event_card(odd, T0))
    assert "<script>x</script>" in json.dumps(card)  # a string child: React escapes it
    assert not find(card, lambda p: "dangerously_allow_html" in p)


# -- bands and markers on the service charts ----------------------------------------------


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(data_dir=tmp_path, demo=False, host_metrics=False, services=SERVICES,
                        interval_s=STEP)
    clock = [T0 + 400]
    runtime = build(settings, "run", clock=lambda: clock[0])
    rng = np.random.default_rng(0)
    for i in range(80):
        ts = T0 + STEP * i
        runtime.store.append(ts, [Sample(ts, "database", M.CPU, 30 + rng.normal()),
                                  Sample(ts, "database", M.DB_WAITING, 14.0 if i > 60 else 0.0),
                                  Sample(ts, "api", M.CPU, 20 + rng.normal())])
    AnalyticsResults(T0 + 400, {"database": 0.97, "api": 0.2}, {"database/cpu_percent": 0.1},
                     (OLD, EVENT), (), HINT, {"database": T0, "api": T0}).save(tmp_path)
    context.set_runtime(runtime)
    yield runtime
    runtime.store.close()


def test_overlays_come_after_the_series_so_patches_by_index_still_land(rt: Runtime) -> None:
    charts = sv.resolve([sv.CPU], ["database"])
    plan = sv.plan_view({"range": "15m"}, rt.clock(), STEP)
    frame, last = sv.initial_frame(context.frame, charts[0].keys, plan, rt.clock())
    marks = {"database/cpu_percent": [T0 + 310]}
    figures, state = sv.build_figures(frame, charts, plan, "light", last,
                                      lambda keys, a, b: overlays(rt, keys, a, b, marks))
    fig = figures["cpu"]
    roles = [t.meta["role"] for t in fig.data]
    assert roles == ["series", "band", "anomaly"]
    band, marker = fig.data[1], fig.data[2]
    assert band.name == "normal band" and band.fill == "toself" and band.hoverinfo == "skip"
    assert marker.name == "anomaly" and marker.mode == "markers"
    assert live_keys(fig) == ["database/cpu_percent", None, None]
    assert state["charts"]["cpu"]["n"] == [len(fig.data[0].x), None, None]
    rt.store.append(T0 + 400, [Sample(T0 + 400, "database", M.CPU, 99.0)])
    patches, _ = sv.update_charts(state, ["cpu"], context.frame, T0 + 400)
    assert set(patches[0].to_plotly_json()["operations"][0]["location"][:2]) == {"data", 0}


def overlays(rt: Runtime, keys: Any, start: float, end: float,
             marks: dict[str, list[float]]) -> Any:
    import pandas as pd

    from tamma_dash.analytics.service import analytics_for

    rows = [(t, k, 0.9) for k, ts in marks.items() if k in keys for t in ts]
    return (analytics_for(rt).baselines(list(keys), start, end),
            pd.DataFrame(rows, columns=["ts", "key", "score"]))


def test_service_charts_draw_bands_and_markers_from_published_analytics(rt: Runtime) -> None:
    """Default overlays: a web process reads the collector's analytics.json and the store."""
    pool = sv.resolve([sv.KIND_CHARTS["database"][4]], ["database"])  # the pool chart
    plan = sv.plan_view({"range": "1h"}, rt.clock(), STEP)
    frame, last = sv.initial_frame(context.frame, pool[0].keys, plan, rt.clock())
    figures, _ = sv.build_figures(frame, pool, plan, "light", last)
    names = [t.name for t in figures["pool"].data]
    assert "normal band" in names and names[-1] == "anomaly"
    marker = figures["pool"].data[-1]
    assert marker.meta["key"] == "database/db_pool_waiting" and list(marker.y) == [14.0]


def test_overlay_traces_follow_webgl_series_and_skip_missing_bands() -> None:
    import pandas as pd

    frame = pd.DataFrame({"a/x": [1.0, 2.0, 3.0]}, index=[T0, T0 + 5, T0 + 10])
    band = pd.concat({"a/x": pd.DataFrame({"lower": [0.0, 0.0], "median": [1.0, 1.0],
                                            "upper": [2.0, 2.0]}, index=[T0, T0 + 5])}, axis=1)
    marks = pd.DataFrame([(T0 + 6, "a/x", 0.8)], columns=["ts", "key", "score"])
    out = overlay_traces(frame, ["a/x", "b/y"], band, marks, "dark", webgl=True)
    assert [(t["type"], t["name"]) for t in out] == [("scattergl", "normal band"),
                                                     ("scattergl", "anomaly")]
    assert out[1]["y"] == [2.0]  # on the line, at the nearest point
    assert overlay_traces(frame, ["a/x"], None, None, "light") == []


# -- the pages -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pages() -> Any:
    dash.Dash(__name__, use_pages=True, pages_folder="")
    from tamma_dash.ui.pages import analytics, overview

    return analytics, overview


def test_analytics_page_shows_hint_scores_timeline_and_explanations(rt: Runtime,
                                                                    pages: Any) -> None:
    analytics, _ = pages
    page = wire(analytics.layout(range="1h"))
    text = json.dumps(page)
    assert "likely cause: database pool exhausted" in text
    assert "Models for 2 services" in text
    graph = find(page, lambda p: p.get("id") == "anomaly-timeline")[0]
    assert {t["name"] for t in graph["figure"]["data"] if t.get("mode") == "markers"} == {
        "api", "database"}
    assert "7.0 band widths above normal" in text
    seen = find(page, lambda p: p.get("id") == "analytics-seen")[0]["data"]
    assert seen == T0 + 400


def test_overview_carries_the_root_cause_hint(rt: Runtime, pages: Any) -> None:
    _, overview = pages
    hint = find(wire(overview.layout()), lambda p: p.get("id") == "root-cause-hint")[0]
    assert "likely cause: database pool exhausted" in json.dumps(hint)
    assert "likely cause" in json.dumps(wire(overview.refresh_hint(None)))
