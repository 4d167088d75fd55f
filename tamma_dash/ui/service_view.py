"""Service chart specs per kind, and the live chart panels the service and providers pages share.

Specs, view plan, figures, per-tick patches, zoom and theme redraws; the service page's own
parts (status, dependencies, health checks) are in ``pages/service.py``. A page's charts are
described by one JSON-able ``state`` dict kept in a ``dcc.Store``: the view plan plus, per chart
group, the series keys in figure trace order and the points each trace holds. Every function
here is plain data in, figure / Patch / component out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, cast

import dash
import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import Patch, dcc, html

from tamma_dash.models import M, series_key
from tamma_dash.ui.a11y import aria
from tamma_dash.ui.bands import analytics_overlays, overlay_traces
from tamma_dash.ui.downsample import iso
from tamma_dash.ui.export_server import export_controls
from tamma_dash.ui.figures import (
    describe_series,
    figure_filename,
    graph_config,
    resample_for_range,
    time_series_figure,
    uses_webgl,
)
from tamma_dash.ui.format import series_name
from tamma_dash.ui.live import SLACK_ROWS as SLACK_ROWS  # moved to ui/live.py
from tamma_dash.ui.live import append_patch, live_keys, live_window, relayout_range
from tamma_dash.ui.live import trace_updates_patch as _updates
from tamma_dash.ui.theme import status_colour
from tamma_dash.ui.timerange import parse_range

FrameFn = Callable[[Sequence[str], float, float], pd.DataFrame]
Overlays = Callable[[Sequence[str], float, float], tuple[pd.DataFrame | None, pd.DataFrame | None]]
MAX_POINTS = 2000  # per trace when a range is downsampled
ALERT_HALF_WINDOW_S = 900.0  # ?t=<epoch> shows t ± 15 min
SPAN = "the shown time range"
DESCRIBE_EVERY = 12  # ticks between refreshes of the charts' text alternatives


@dataclass(frozen=True)
class ChartSpec:
    """One chart: a group id (used in the component id), a title, the metrics drawn, one unit."""

    group: str
    title: str
    metrics: tuple[str, ...]
    unit: str = ""

    def keys(self, services: Sequence[str]) -> list[str]:
        """Series keys of this chart for ``services``, service-major."""
        return [series_key(s, m) for s in services for m in self.metrics]


def _spec(group: str, title: str, unit: str, *metrics: str) -> ChartSpec:
    return ChartSpec(group, title, tuple(metrics), unit)


CPU = _spec("cpu", "CPU", "%", M.CPU)
MEMORY = _spec("memory", "Memory", "%", M.MEMORY)
DISK = _spec("disk", "Disk", "%", M.DISK)
RESOURCES = (CPU, MEMORY, DISK)
HTTP_TIMES = _spec("response_time", "Response time (p50 / p95 / p99)", "ms",
                   M.API_P50, M.API_P95, M.API_P99)
PROBE_TIME = _spec("response_time", "Health check response time", "ms", M.RESPONSE_TIME_MS)
ERRORS = _spec("error_rate", "Error rate", "%", M.ERROR_RATE)
REQUESTS = _spec("request_rate", "Request rate", "req/s", M.REQUEST_RATE)
KIND_CHARTS: dict[str, tuple[ChartSpec, ...]] = {
    "orchestrator": (*RESOURCES, HTTP_TIMES, ERRORS,
                     _spec("workers", "Workers busy / alive", "", M.ACTIVE_WORKERS,
                           M.WORKERS_TOTAL),
                     _spec("queue", "Task queue depth", "", M.QUEUE_DEPTH),
                     _spec("tasks", "Tasks per second", "/s", "tamma_tasks_completed_rate",
                           "tamma_tasks_failed_rate")),
    "worker": (*RESOURCES, PROBE_TIME,
               _spec("busy", "Busy (1 while running a task)", "", "worker_busy"),
               _spec("tasks", "Tasks per second", "/s", "tamma_worker_tasks_rate"),
               _spec("task_duration", "Task duration (p50 / p95 / p99)", "ms",
                     *(f"tamma_task_duration_{p}_ms" for p in ("p50", "p95", "p99")))),
    "api": (*RESOURCES, HTTP_TIMES, ERRORS, REQUESTS),
    "dashboard": (*RESOURCES, HTTP_TIMES, ERRORS, REQUESTS),
    "database": (*RESOURCES, PROBE_TIME,
                 _spec("pool", "Connection pool", "", M.DB_ACTIVE, M.DB_IDLE, M.DB_WAITING,
                       M.DB_MAX),
                 _spec("query_latency", "Query latency (p50 / p95 / p99)", "ms",
                       M.DB_QUERY_P50, M.DB_QUERY_P95, M.DB_QUERY_P99)),
    "provider": (_spec("response_time", "API response time", "ms", M.RESPONSE_TIME_MS),
                 _spec("success_rate", "Success rate", "%", M.SUCCESS_RATE),
                 _spec("rate_limit", "Rate limit remaining and limit", "", M.RL_REMAINING,
                       M.RL_LIMIT),
                 _spec("rate_limit_reset", "Rate limit resets in", "s", M.RL_RESET_S)),
    "host": (*RESOURCES, _spec("load", "Load (1 min)", "", M.LOAD1),
             _spec("network", "Network", "B/s", M.NET_RX, M.NET_TX)),
}
KIND_CHARTS["git"] = KIND_CHARTS["provider"]


def chart_specs(kind: str) -> tuple[ChartSpec, ...]:
    """The charts of a service kind (an unknown kind gets the resource and probe charts)."""
    return KIND_CHARTS.get(kind, (*RESOURCES, PROBE_TIME))


def split_present(
    specs: Sequence[ChartSpec], services: Sequence[str], series: Collection[str]
) -> tuple[list[ChartSpec], list[ChartSpec]]:
    """(charts with at least one stored series, charts with none) so empty ones can be named."""
    shown = [s for s in specs if any(k in series for k in s.keys(services))]
    return shown, [s for s in specs if s not in shown]


@dataclass(frozen=True)
class Plan:
    """What the charts show and how they follow time."""

    start: float
    end: float
    live: bool  # new points are appended each tick
    window_s: float | None  # rolling window (full resolution); None: append only
    max_points: int
    resample: bool  # downsampled: zoom asks the server for finer points
    x_range: tuple[float, float] | None = None
    marker: float | None = None  # the moment an alert link points at
    until: float | None = None  # never append points after this


def _number(raw: str | None) -> float | None:
    try:
        value = float(raw) if raw is not None else math.nan
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def plan_view(query: Mapping[str, str], now: float, interval_s: float,
              max_points: int = MAX_POINTS) -> Plan:
    """``?t=`` centres t ± 15 min; else the shared range: full resolution when it fits."""
    t = _number(query.get("t"))
    if t is not None:
        start, end = t - ALERT_HALF_WINDOW_S, t + ALERT_HALF_WINDOW_S
        return Plan(start, end, live=end > now, window_s=None, max_points=max_points,
                    resample=True, x_range=(start, end), marker=t, until=end)
    tr = parse_range(query, now)
    if tr.live and tr.span / interval_s <= max_points:
        return Plan(tr.start, tr.end, True, tr.span, max_points, resample=False)
    return Plan(tr.start, tr.end, tr.live, None, max_points, resample=True)


@dataclass(frozen=True)
class Chart:
    """A spec resolved to concrete series keys (one service, or many on the providers page)."""

    group: str
    title: str
    keys: tuple[str, ...]
    unit: str


def resolve(specs: Sequence[ChartSpec], services: Sequence[str],
            title_prefix: str = "") -> list[Chart]:
    """Specs made concrete for ``services``."""
    return [Chart(s.group, f"{title_prefix}{s.title}", tuple(s.keys(services)), s.unit)
            for s in specs]


def no_overlays(keys: Sequence[str], start: float, end: float) -> tuple[None, None]:
    """Baseline bands and anomaly markers: the analytics issue plugs its frames in here."""
    return None, None


def chart_figure(frame: pd.DataFrame, chart: Chart, plan: Plan, theme: str,
                 overlays: Overlays = analytics_overlays) -> go.Figure:
    """One chart's figure: bands and anomalies from ``overlays``, the alert moment marked."""
    baseline, anomalies = overlays(chart.keys, plan.start, plan.end)
    webgl = uses_webgl(frame, plan.max_points)
    extra = overlay_traces(frame, chart.keys, baseline, anomalies, theme, webgl=webgl)
    fig = time_series_figure(frame, chart.keys, title=chart.title, unit=chart.unit, theme=theme,
                             max_points=plan.max_points, x_range=plan.x_range,
                             uirevision=f"{chart.group}", extra=extra)  # after the series
    fig.layout.meta = {"unit": chart.unit, "filename": chart_filename(chart, plan)}
    if plan.marker is not None:
        mark_moment(fig, plan.marker, theme)
    return fig


def mark_moment(fig: go.Figure, ts: float, theme: str, text: str = "alert") -> None:
    """A dashed vertical line with a label at ``ts`` (kept by live patches: it is layout)."""
    x = pd.Timestamp(ts, unit="s").strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    colour = status_colour("down", theme)
    fig.add_shape(type="line", x0=x, x1=x, y0=0, y1=1, yref="paper",
                  line=dict(color=colour, width=2, dash="dash"))
    fig.add_annotation(x=x, y=1, yref="paper", text=text, showarrow=False, yanchor="bottom",
                       font=dict(color=colour))


def initial_frame(frame_fn: FrameFn, keys: Sequence[str], plan: Plan,
                  now: float) -> tuple[pd.DataFrame, float]:
    """The rows the figures start with and ``last_ts`` (the plan's start when there are none)."""
    end = min(plan.end, now) if plan.until is not None else plan.end
    frame = frame_fn(list(dict.fromkeys(keys)), plan.start, end)
    if plan.window_s is not None:
        frame, last = live_window(frame, plan.window_s)
        return frame, plan.start if last is None else last
    return frame, float(frame.index[-1]) if len(frame.index) else plan.start


def build_figures(frame: pd.DataFrame, charts: Sequence[Chart], plan: Plan, theme: str,
                  last_ts: float, overlays: Overlays = analytics_overlays,
                  ) -> tuple[dict[str, go.Figure], dict[str, Any]]:
    """Figures per group and the JSON state that live updates and zoom work from."""
    full = plan if plan.window_s is None else _with_points(plan, len(frame.index) + 1)
    figures = {c.group: chart_figure(frame, c, full, theme, overlays) for c in charts}
    state = {
        "plan": asdict(plan), "last_ts": last_ts,
        "charts": {c.group: {"title": c.title, "keys": list(c.keys), "unit": c.unit,
                             "trace_keys": live_keys(figures[c.group]),
                             "n": _lengths(figures[c.group])} for c in charts},
    }
    return figures, state


def _lengths(fig: go.Figure) -> list[int | None]:
    """Points per series trace (None for bands and markers): where appends go."""
    return [len(t.x) if k is not None else None for t, k in zip(fig.data, live_keys(fig),
                                                                   strict=True)]


def _with_points(plan: Plan, n: int) -> Plan:
    return Plan(**{**asdict(plan), "max_points": max(plan.max_points, n)})


def plan_of(state: Mapping[str, Any]) -> Plan:
    """The Plan back from the JSON state."""
    raw = dict(state["plan"])
    raw["x_range"] = tuple(raw["x_range"]) if raw.get("x_range") is not None else None
    return Plan(**raw)


def update_charts(state: Mapping[str, Any], groups: Sequence[str], frame_fn: FrameFn,
                  now: float) -> tuple[list[Any], dict[str, Any]]:
    """Per group (in ``groups`` order) a Patch with only the new points, or ``dash.no_update``."""
    plan = plan_of(state)
    last = float(state["last_ts"])
    charts = state["charts"]
    if not plan.live or not groups:
        return [dash.no_update] * len(groups), dict(state)
    keys = [k for g in groups if g in charts for k in charts[g]["keys"]]
    lo = last - plan.window_s if plan.window_s is not None else last
    frame = frame_fn(list(dict.fromkeys(keys)), lo, now)
    if plan.until is not None:
        frame = frame[frame.index.to_numpy() <= plan.until]
    out: list[Any] = []
    new_last = last
    charts = {g: dict(c) for g, c in charts.items()}
    for group in groups:
        if group not in charts:
            out.append(dash.no_update)
            continue
        chart = charts[group]
        patch, chart["n"], ts = append_patch(chart["trace_keys"], chart["n"], frame,
                                             last_ts=last, window_s=plan.window_s)
        out.append(dash.no_update if patch is None else patch)
        new_last = max(new_last, ts)
    return out, {**state, "last_ts": new_last, "charts": charts}


def zoom_patch(state: Mapping[str, Any], group: str, relayout: Mapping[str, Any] | None,
               frame_fn: FrameFn) -> tuple[Any, Any]:
    """After a zoom on a downsampled chart: (finer points for the range, new state) or no_update."""
    plan = plan_of(state)
    chart = state["charts"].get(group)
    rng = relayout_range(relayout)
    if chart is None or rng is None or not plan.resample:
        return dash.no_update, dash.no_update
    frame = frame_fn(chart["keys"], plan.start, float(state["last_ts"]))
    updates = resample_for_range(frame, chart["trace_keys"], rng[0], rng[1], plan.max_points)
    patch = _updates(updates)
    if patch is None:
        return dash.no_update, dash.no_update
    lengths = [len(updates[i]["x"]) if i in updates else n for i, n in enumerate(chart["n"])]
    return patch, {**state, "charts": {**state["charts"], group: {**chart, "n": lengths}}}


def _charts(state: Mapping[str, Any], groups: Sequence[str]) -> list[Chart]:
    raw = state["charts"]
    return [Chart(g, raw[g]["title"], tuple(raw[g]["keys"]), raw[g]["unit"])
            for g in groups if g in raw]


def shown_frame(state: Mapping[str, Any], charts: Sequence[Chart],
                frame_fn: FrameFn) -> pd.DataFrame:
    """The rows the figures hold now: the rolling window, or the plan's start to ``last_ts``."""
    plan, last = plan_of(state), float(state["last_ts"])
    start = last - plan.window_s if plan.window_s is not None else plan.start
    frame = frame_fn(list(dict.fromkeys(k for c in charts for k in c.keys)), start, last)
    return frame[frame.index.to_numpy() > start] if plan.window_s is not None else frame


def rebuild_figures(state: Mapping[str, Any], groups: Sequence[str], frame_fn: FrameFn,
                    theme: str, overlays: Overlays = analytics_overlays) -> tuple[list[Any], Any]:
    """Whole figures again (theme change) and the state that matches them."""
    charts = _charts(state, groups)
    frame = shown_frame(state, charts, frame_fn)
    figures, built = build_figures(frame, charts, plan_of(state), theme,
                                   float(state["last_ts"]), overlays)
    new_state = {**state, "charts": {**state["charts"], **built["charts"]}}
    return [figures.get(g, dash.no_update) for g in groups], new_state


def describe_chart(frame: pd.DataFrame, chart: Chart, span: str = SPAN) -> str:
    """The text alternative of a chart: one sentence per series."""
    parts = [describe_series(series_name(k), frame[k].to_numpy() if k in frame else [],
                             chart.unit, span=span) for k in chart.keys]
    return f"{chart.title}. " + ". ".join(parts) + "."


def describe_all(state: Mapping[str, Any], groups: Sequence[str], frame_fn: FrameFn) -> list[Any]:
    """Fresh text alternatives for the charts as they stand (what the figures hold)."""
    charts = {c.group: c for c in _charts(state, groups)}
    frame = shown_frame(state, list(charts.values()), frame_fn)
    return [describe_chart(frame, charts[g]) if g in charts else dash.no_update for g in groups]


def chart_panel(page: str, chart: Chart, figure: go.Figure, text: str, filename: str) -> Any:
    """A titled section: hidden text alternative, the graph, 'Reset zoom' and export buttons."""
    ident = {"page": page, "chart": chart.group}
    return dbc.Col(html.Section([
        html.Div([
            html.H3(chart.title, className="h6 m-0"),
            dbc.Button("Reset zoom", id={"type": "chart-reset", **ident}, size="sm",
                       color="secondary", outline=True),
        ], className="d-flex justify-content-between align-items-center gap-2"),
        html.P(text, className="visually-hidden", id={"type": "chart-text", **ident}),
        dcc.Graph(id={"type": "chart", **ident}, figure=figure,
                  config=cast(Any, graph_config(filename)), style={"height": "380px"}),
        export_controls(page, chart.group),
    ], className="border rounded p-2 h-100", **aria(f"{chart.title} chart")), xs=12, lg=6)


def chart_filename(chart: Chart, plan: Plan) -> str:
    """``<service>_<group>_<start>-<end>`` (no extension) for downloads of this chart."""
    services = sorted({k.split("/", 1)[0] for k in chart.keys})
    who = services[0] if len(services) == 1 else "-".join(services[:4])
    return figure_filename(who, chart.group, plan.start, plan.end, ext="")


def reset_patch(state: Mapping[str, Any], group: str, frame_fn: FrameFn) -> tuple[Any, Any]:
    """'Reset zoom': the plan's x range (or autorange) and, if needed, coarser points."""
    if group not in state["charts"]:
        return dash.no_update, dash.no_update
    plan = plan_of(state)
    resampled, new_state = zoom_patch(state, group, {"xaxis.autorange": True}, frame_fn)
    patch = resampled if isinstance(resampled, Patch) else Patch()
    if plan.x_range is not None:
        patch["layout"]["xaxis"]["range"] = iso(list(plan.x_range))
    else:
        patch["layout"]["xaxis"]["autorange"] = True
    return patch, new_state


def dispatch(trigger: Any, theme: str, relayouts: Sequence[Any], state: Mapping[str, Any],
             groups: list[str], frame_fn: FrameFn, now: float) -> tuple[list[Any], Any]:
    """One chart callback for a page: ticks append, zooms resample, resets, themes redraw."""
    out: list[Any] = [dash.no_update] * len(groups)
    if trigger == "tick":
        patches, ticked = update_charts(state, groups, frame_fn, now)
        return patches, ticked if ticked["last_ts"] != state["last_ts"] else dash.no_update
    if trigger == "theme" or (trigger is None and theme != "light"):
        return rebuild_figures(state, groups, frame_fn, theme)
    new_state: Any = dash.no_update
    if isinstance(trigger, Mapping) and trigger.get("chart") in groups:
        i = groups.index(str(trigger["chart"]))
        if trigger.get("type") == "chart-reset":
            out[i], new_state = reset_patch(state, groups[i], frame_fn)
        else:
            out[i], new_state = zoom_patch(state, groups[i], relayouts[i], frame_fn)
    return out, new_state
