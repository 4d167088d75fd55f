"""The service page: chart specs per kind, view plans, live patches on a real store, the parts."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dash
import pytest
from dash import Patch

from tamma_dash.config import ServiceConfig, Settings
from tamma_dash.models import M, Sample, ServiceKind
from tamma_dash.runtime import Runtime, build
from tamma_dash.store.base import Latest
from tamma_dash.ui import context
from tamma_dash.ui import service_view as sv
from tests.test_ui_live import _apply_one, figure_doc
from tests.ui_support import find, wire

T0 = 1_700_000_000.0
STEP = 5.0
SERVICES = (
    ServiceConfig("database", ServiceKind.DATABASE),
    ServiceConfig("api", ServiceKind.API, depends_on=("database",)),
    ServiceConfig("worker-1", ServiceKind.WORKER, depends_on=("api",)),
)


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def service_page() -> Any:
    """The page module; register_page needs a pages-enabled Dash app to exist first."""
    dash.Dash(__name__, use_pages=True, pages_folder="")
    from tamma_dash.ui.pages import service

    return service


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    clock = FakeClock(T0)
    settings = Settings(data_dir=tmp_path, demo=False, host_metrics=False, services=SERVICES,
                        interval_s=STEP)
    runtime = build(settings, "run", clock=clock)
    context.set_runtime(runtime)
    yield runtime
    runtime.store.close()


def tick(rt: Runtime, i: int) -> float:
    """Store tick ``i`` (api p50/p95/p99 = i, 2i, 3i; cpu = i) and move the clock to it."""
    ts = T0 + STEP * i
    rt.store.append(ts, [Sample(ts, "api", M.API_P50, float(i)),
                         Sample(ts, "api", M.API_P95, 2.0 * i),
                         Sample(ts, "api", M.API_P99, 3.0 * i),
                         Sample(ts, "api", M.CPU, float(i)),
                         Sample(ts, "api", M.STATUS, 0.0)])
    rt.clock.now = ts  # type: ignore[attr-defined]
    return ts




def _assoc(doc: Any, path: list[Any], value: Any) -> None:
    """ramda assocPath as the renderer runs it: an index at (or past) a list's end grows it."""
    for key in path[:-1]:
        doc = doc[key]
    key = path[-1]
    if isinstance(doc, list) and key >= len(doc):
        doc.extend([None] * (key - len(doc) + 1))  # a JS array assigned past its end has holes
    doc[key] = value


def apply_patch(doc: Any, patch: Patch) -> Any:
    """What the browser ends up with after the patch went over the wire."""
    out = copy.deepcopy(doc)
    for op in wire(patch)["operations"]:
        if op["operation"] == "Assign":
            _assoc(out, op["location"], op["params"]["value"])
        else:
            out = _apply_one(out, op)
    return out


def groups(kind: str) -> list[str]:
    return [s.group for s in sv.chart_specs(kind)]


# --- which charts each kind gets ---

def test_worker_charts_cover_resources_activity_and_task_duration() -> None:
    assert groups("worker") == ["cpu", "memory", "disk", "response_time", "busy", "tasks",
                                "task_duration"]
    duration = sv.chart_specs("worker")[-1]
    assert duration.keys(["worker-1"]) == [f"worker-1/tamma_task_duration_{p}_ms"
                                           for p in ("p50", "p95", "p99")]


def test_database_charts_show_the_pool_and_query_latency() -> None:
    assert groups("database") == ["cpu", "memory", "disk", "response_time", "pool",
                                  "query_latency"]
    pool = next(s for s in sv.chart_specs("database") if s.group == "pool")
    assert pool.metrics == (M.DB_ACTIVE, M.DB_IDLE, M.DB_WAITING, M.DB_MAX)


def test_api_charts_have_percentiles_and_error_rate() -> None:
    assert groups("api") == ["cpu", "memory", "disk", "response_time", "error_rate",
                             "request_rate"]
    times = sv.chart_specs("api")[3]
    assert (times.metrics, times.unit) == ((M.API_P50, M.API_P95, M.API_P99), "ms")


@pytest.mark.parametrize("kind", ["provider", "git"])
def test_external_kinds_show_latency_success_and_rate_limits(kind: str) -> None:
    assert groups(kind) == ["response_time", "success_rate", "rate_limit", "rate_limit_reset"]
    limit = sv.chart_specs(kind)[2]
    assert limit.keys(["github"]) == ["github/ratelimit_remaining", "github/ratelimit_limit"]


def test_orchestrator_charts_include_workers_and_queue() -> None:
    assert {"workers", "queue", "tasks"} <= set(groups("orchestrator"))


def test_charts_without_any_stored_series_are_named_not_drawn() -> None:
    shown, missing = sv.split_present(sv.chart_specs("api"), ["api"],
                                      {"api/cpu_percent", "api/response_time_p99_ms"})
    assert [s.group for s in shown] == ["cpu", "response_time"]
    assert [s.group for s in missing] == ["memory", "disk", "error_rate", "request_rate"]


# --- what the view shows and how it follows time ---

def test_short_live_range_is_a_full_resolution_rolling_window() -> None:
    plan = sv.plan_view({"range": "1h"}, now=T0, interval_s=5.0)
    assert (plan.start, plan.end, plan.live, plan.window_s, plan.resample) == (
        T0 - 3600, T0, True, 3600.0, False)


def test_long_range_is_downsampled_append_only_and_resampled_on_zoom() -> None:
    plan = sv.plan_view({"range": "24h"}, now=T0, interval_s=5.0)
    assert (plan.live, plan.window_s, plan.resample, plan.max_points) == (True, None, True, 2000)


def test_absolute_range_is_not_live() -> None:
    plan = sv.plan_view({"start": str(T0 - 600), "end": str(T0 - 60)}, now=T0, interval_s=5.0)
    assert (plan.start, plan.end, plan.live) == (T0 - 600, T0 - 60, False)


def test_alert_time_centres_fifteen_minutes_either_side_and_marks_it() -> None:
    plan = sv.plan_view({"t": str(T0 - 300), "range": "24h"}, now=T0, interval_s=5.0)
    assert plan.x_range == (T0 - 1200, T0 + 600)
    assert (plan.marker, plan.until, plan.live, plan.window_s) == (T0 - 300, T0 + 600, True, None)
    old = sv.plan_view({"t": str(T0 - 7200)}, now=T0, interval_s=5.0)
    assert old.live is False
    assert sv.plan_view({"t": "nan"}, now=T0, interval_s=5.0).marker is None


def test_marked_moment_is_a_dashed_line_at_t() -> None:
    chart = sv.resolve([sv.CPU], ["api"])[0]
    plan = sv.plan_view({"t": str(T0)}, now=T0, interval_s=5.0)
    import pandas as pd

    fig = sv.chart_figure(pd.DataFrame({"api/cpu_percent": [1.0]}, index=[T0]), chart, plan,
                          "light")
    shape = fig.layout.shapes[0]
    assert (shape.x0, shape.line.dash) == ("2023-11-14 22:13:20.000", "dash")
    assert fig.layout.annotations[0].text == "alert"


# --- live updates against a real store ---

def live_state(rt: Runtime, query: dict[str, str],
               plan: sv.Plan | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Initial figure documents (as the browser holds them) and the page state."""
    charts = sv.resolve([sv.CPU, sv.HTTP_TIMES], ["api"])
    plan = plan or sv.plan_view(query, rt.clock(), STEP)
    frame, last = sv.initial_frame(context.frame, [k for c in charts for k in c.keys], plan,
                                   rt.clock())
    figures, state = sv.build_figures(frame, charts, plan, "light", last)
    return {g: figure_doc(f) for g, f in figures.items()}, wire(state)


def test_tick_appends_only_new_points_and_nothing_new_is_no_update(rt: Runtime) -> None:
    for i in range(4):
        tick(rt, i)
    docs, state = live_state(rt, {"range": "15m"})
    assert docs["response_time"]["data"][1]["y"] == [0.0, 2.0, 4.0, 6.0]
    out, same = sv.update_charts(state, ["cpu", "response_time"], context.frame, rt.clock())
    assert out == [dash.no_update, dash.no_update]
    assert same["last_ts"] == T0 + 15
    tick(rt, 4)
    tick(rt, 5)
    out, state = sv.update_charts(state, ["cpu", "response_time"], context.frame, rt.clock())
    assert all(isinstance(p, Patch) for p in out)
    times = apply_patch(docs["response_time"], out[1])
    assert [t["y"] for t in times["data"]] == [[0.0, 1, 2, 3, 4, 5], [0.0, 2, 4, 6, 8, 10],
                                               [0.0, 3, 6, 9, 12, 15]]
    assert times["data"][0]["x"][-1] == "2023-11-14T22:13:45.000"
    assert state["last_ts"] == T0 + 25


def test_rolling_window_grows_within_slack_then_is_resent_whole(rt: Runtime) -> None:
    for i in range(10):
        tick(rt, i)
    window = sv.Plan(T0 + 15, T0 + 45, live=True, window_s=30.0, max_points=2000,
                     resample=False)
    docs, state = live_state(rt, {}, window)
    assert docs["cpu"]["data"][0]["y"] == [4.0, 5, 6, 7, 8, 9]  # six ticks in (15, 45]
    for i in range(10, 13):
        tick(rt, i)
    out, state = sv.update_charts(state, ["cpu"], context.frame, rt.clock())
    cpu = apply_patch(docs["cpu"], out[0])
    assert cpu["data"][0]["y"] == [4.0, 5, 6, 7, 8, 9, 10, 11, 12]
    assert state["charts"]["cpu"]["n"] == [9]
    for i in range(13, 41):  # 9 held + 28 new > 6 in the window + 24 slack
        tick(rt, i)
    out, state = sv.update_charts(state, ["cpu"], context.frame, rt.clock())
    cpu = apply_patch(cpu, out[0])
    assert cpu["data"][0]["y"] == [35.0, 36, 37, 38, 39, 40]
    assert cpu["data"][0]["x"][0] == "2023-11-14T22:16:15.000"
    assert (state["charts"]["cpu"]["n"], state["last_ts"]) == ([6], T0 + 200)


def test_a_patch_from_a_stale_state_or_applied_twice_changes_nothing_more(rt: Runtime) -> None:
    for i in range(4):
        tick(rt, i)
    docs, stale = live_state(rt, {"range": "15m"})
    tick(rt, 4)
    first, _ = sv.update_charts(stale, ["cpu"], context.frame, rt.clock())
    tick(rt, 5)
    second, _ = sv.update_charts(stale, ["cpu"], context.frame, rt.clock())  # same old state
    cpu = apply_patch(apply_patch(docs["cpu"], first[0]), second[0])
    assert cpu["data"][0]["y"] == [0.0, 1, 2, 3, 4, 5]
    assert apply_patch(cpu, second[0]) == cpu


def test_points_after_the_alert_window_are_never_appended(rt: Runtime) -> None:
    tick(rt, 0)
    docs, state = live_state(rt, {"t": str(T0 - 890)})  # the window ends at T0 + 10
    assert state["plan"]["until"] == T0 + 10
    for i in (1, 2, 3, 4):
        tick(rt, i)
    out, state = sv.update_charts(state, ["cpu"], context.frame, rt.clock())
    assert apply_patch(docs["cpu"], out[0])["data"][0]["y"] == [0.0, 1.0, 2.0]
    assert state["last_ts"] == T0 + 10


def test_zoom_resamples_a_downsampled_chart_only(rt: Runtime) -> None:
    for i in range(40):
        tick(rt, i)
    docs, state = live_state(rt, {"range": "24h"})
    state["plan"]["max_points"] = 10
    zoom = {"xaxis.range[0]": "2023-11-14 22:14:00", "xaxis.range[1]": "2023-11-14 22:14:20"}
    patch, zoomed = sv.zoom_patch(state, "cpu", zoom, context.frame)
    cpu = apply_patch(docs["cpu"], patch)
    assert cpu["data"][0]["y"] == [7.0, 8, 9, 10, 11, 12, 13]  # full resolution, one either side
    assert zoomed["charts"]["cpu"]["n"] == [7]  # appends now go after these seven points
    _, rolling = live_state(rt, {"range": "15m"})
    nothing = (dash.no_update, dash.no_update)
    assert sv.zoom_patch(rolling, "cpu", zoom, context.frame) == nothing
    assert sv.zoom_patch(state, "cpu", {"autosize": True}, context.frame) == nothing


def test_reset_zoom_returns_to_the_alert_window_or_autorange(rt: Runtime) -> None:
    tick(rt, 0)
    _, state = live_state(rt, {"t": str(T0)})
    ops = wire(sv.reset_patch(state, "cpu", context.frame)[0])["operations"]
    assert {"operation": "Assign", "location": ["layout", "xaxis", "range"],
            "params": {"value": ["2023-11-14T21:58:20.000", "2023-11-14T22:28:20.000"]}} in ops
    _, rolling = live_state(rt, {"range": "1h"})
    ops = wire(sv.reset_patch(rolling, "cpu", context.frame)[0])["operations"]
    assert ops == [{"operation": "Assign", "location": ["layout", "xaxis", "autorange"],
                    "params": {"value": True}}]


def test_dispatch_routes_ticks_themes_and_first_load(rt: Runtime) -> None:
    for i in range(3):
        tick(rt, i)
    _, state = live_state(rt, {"range": "1h"})
    names = ["cpu", "response_time"]
    out, kept = sv.dispatch(None, "light", [None, None], state, names, context.frame, T0 + 10)
    assert (out, kept) == ([dash.no_update] * 2, dash.no_update)
    figs, kept = sv.dispatch(None, "dark", [None, None], state, names, context.frame, T0 + 10)
    assert figs[0].layout.template.layout.paper_bgcolor == "#212529"
    assert kept["charts"]["response_time"]["n"] == [3, 3, 3]
    assert list(figs[1].data[2].y) == [0.0, 3.0, 6.0]
    tick(rt, 3)
    out, new = sv.dispatch("tick", "dark", [None, None], state, names, context.frame, rt.clock())
    assert isinstance(out[0], Patch) and new["last_ts"] == T0 + 15
    trigger = {"type": "chart-reset", "page": "service", "chart": "response_time"}
    out, kept = sv.dispatch(trigger, "light", [None, None], state, names, context.frame, T0)
    assert out[0] is dash.no_update and isinstance(out[1], Patch) and kept is dash.no_update


# --- the page's own parts ---

def latest_checks() -> dict[str, Latest]:
    labels = (("component_type", "datastore"), ("status", "warn"),
              ("time", "2023-11-14T22:13:15Z"), ("unit", "ms"))
    return {
        "api/check:database:responseTime": Latest(T0 - 5, 12.5, labels),
        "api/check:uptime": Latest(T0 - 5, 7200.0, (("status", "pass"), ("unit", "s"))),
        "api/cpu_percent": Latest(T0, 40.0),
        "worker-1/check:uptime": Latest(T0, 1.0),
    }


def test_health_check_rows_carry_value_unit_status_and_time(service_page: Any) -> None:
    rows = service_page.health_check_rows("api", latest_checks())
    assert [(r.name, r.value, r.unit, r.status, r.reported, r.time, r.component_type)
            for r in rows] == [
        ("database:responseTime", 12.5, "ms", "degraded", "warn", "2023-11-14T22:13:15Z",
         "datastore"),
        ("uptime", 7200.0, "s", "healthy", "pass", "2023-11-14T22:13:15Z", ""),
    ]


def test_checks_table_shows_formatted_values_and_status_words(service_page: Any) -> None:
    table = wire(service_page.checks_table(service_page.health_check_rows(
        "api", latest_checks()), T0))
    text = json.dumps(table)
    assert "12.5 ms" in text and "2 h 00 m" in text
    assert "\\u25b2 warn" in text and "\\u2714 pass" in text and "5 s ago" in text
    empty = service_page.checks_table([], T0)
    assert empty.children == "This service reports no health checks beyond its status."


def test_unknown_service_names_the_problem_and_links_the_known_ones(service_page: Any) -> None:
    alert = wire(service_page.unknown_service("nope", ["api", "database"]))
    text = json.dumps(alert)
    assert "There is no service named \\u201cnope\\u201d." in text
    links = [li["props"]["children"]["props"] for li in alert["props"]["children"][2]["props"][
        "children"]]
    assert [(link["children"], link["href"]) for link in links] == [
        ("api", "/service/api"), ("database", "/service/database")]


def test_status_header_says_status_in_icon_word_and_reasons_as_text(service_page: Any) -> None:
    header = wire(service_page.status_header(
        "api", {"status": "down", "kind": "api", "reasons": ["<b>timeout</b> after 2 s"]}))
    badge = header["props"]["children"][0]["props"]["children"][1]["props"]
    assert (badge["children"], badge["color"]) == ("\u2716 down", "danger")
    reasons = header["props"]["children"][2]["props"]["children"]
    assert reasons[0]["props"]["children"] == "<b>timeout</b> after 2 s"


def test_dependencies_in_both_directions(service_page: Any) -> None:
    assert service_page.dependencies("api", SERVICES) == (["database"], ["worker-1"])
    assert service_page.dependencies("database", SERVICES) == ([], ["api"])


def test_layout_of_a_known_service_has_accessible_charts(rt: Runtime, service_page: Any) -> None:
    for i in range(3):
        tick(rt, i)
    page = wire(service_page.layout(name="api", range="15m"))
    text = json.dumps(page)
    assert "Not reported by this service: Memory, Disk, Error rate, Request rate." in text
    graphs = find(page, lambda p: isinstance(p.get("id"), dict)
                  and p["id"].get("type") == "chart")
    assert [g["id"]["chart"] for g in graphs] == ["cpu", "response_time"]
    assert graphs[0]["config"]["toImageButtonOptions"]["filename"] == (
        "api_cpu_20231114T215830Z-20231114T221330Z")
    hidden = find(page, lambda p: p.get("className") == "visually-hidden")
    assert hidden[0]["children"].startswith("CPU. api · CPU: 2% now, 0–2% over")


def test_layout_of_an_unknown_service_is_a_message(rt: Runtime, service_page: Any) -> None:
    page = json.dumps(wire(service_page.layout(name="nope")))
    assert "Service not found" in page and "/service/worker-1" in page




def test_a_tick_without_a_value_arrives_as_a_gap() -> None:
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"api/cpu_percent": [1.0, np.nan, 3.0]}, index=[T0, T0 + 5, T0 + 10])
    patch, lengths, last = sv.append_patch(["api/cpu_percent", None], [1, None], frame,
                                           last_ts=T0, window_s=None)
    doc = apply_patch({"data": [{"x": ["a"], "y": [1.0]}, {"x": [], "y": []}]}, patch)
    assert doc["data"][0]["y"] == [1.0, None, 3.0]
    assert doc["data"][1] == {"x": [], "y": []}
    assert (lengths, last) == ([3, None], T0 + 10)
