"""Trends explorer: any series of any services, overlaid or stacked, against the previous day/week.

URL state: the controls write ``series=…&mode=…&compare=…&norm=…&range=…`` into the address bar
with ``history.replaceState`` and tell the shell's ``dcc.Location(id="url")`` the new search
(and href) through ``set_props``. Because the browser already shows that URL, the Location
neither reloads nor re-renders the page, yet the shell's range buttons (which rewrite
``url.search``) keep the trends parameters, and a copied link opens the same view.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html

from tamma_dash.ui import context
from tamma_dash.ui.downsample import MIN_POINTS
from tamma_dash.ui.export import figure_filename, graph_config
from tamma_dash.ui.export_server import export_controls, export_page_controls
from tamma_dash.ui.figures import resample_for_range
from tamma_dash.ui.format import fmt_duration, series_name
from tamma_dash.ui.live import live_window, relayout_range, trace_updates_patch
from tamma_dash.ui.sparkline import describe_series
from tamma_dash.ui.timerange import TimeRange, query_dict, with_query
from tamma_dash.ui.trends_view import (
    COMPARES,
    LIVE_FULL_MAX,
    TREND_PRESETS,
    Frames,
    TrendsState,
    normalised,
    parse_state,
    rebuild_due,
    shifted,
    state_query,
    tick_patch,
    trace_roles,
    trends_figure,
    trends_range,
    unit_of,
)

PAGE, CHART = "trends", "explorer"
CHART_ID = {"type": "chart", "page": PAGE, "chart": CHART}
MAX_POINTS = 2000
DEFAULT_METRIC = "/response_time_ms"


def default_series(known: list[str]) -> tuple[str, ...]:
    """What a bare /trends shows: up to three services' response times."""
    return tuple(k for k in known if k.endswith(DEFAULT_METRIC))[:3]


def build(state: TrendsState, tr: TimeRange, theme: str) -> tuple[Any, str, dict[str, Any]]:
    """Figure, text alternative and live bookkeeping for ``state`` over ``tr``."""
    frame = context.frame(list(state.series), tr.start, tr.end)
    last_ts: float | None = None
    if tr.live:
        frame, last_ts = live_window(frame, tr.span)
    full = tr.live and len(frame) <= LIVE_FULL_MAX
    before = None
    if state.compare != "none":
        off = COMPARES[state.compare]
        before = shifted(context.frame(list(state.series), tr.start - off, tr.end - off), off)
    points = max(len(frame), MIN_POINTS) if full else MAX_POINTS
    fig = trends_figure(Frames(frame, before), state, theme=theme, max_points=points,
                        title=f"Trends over {tr.preset or fmt_duration(tr.span)}")
    name = figure_filename(PAGE, ",".join(state.series) or "none", tr.start, tr.end, ext="")
    meta = dict(fig.layout.meta or {}, filename=name)
    fig.update_layout(meta=meta)
    span = f"the last {tr.preset}" if tr.preset else "the selected range"
    desc = " ".join(describe_series(series_name(k), frame[k].to_numpy() if k in frame else [],
                                    unit_of(k), span=span) + "." for k in state.series)
    live = {"state": asdict(state), "live": tr.live, "full": full, "last_ts": last_ts,
            "window": tr.span, "start": tr.start, "end": tr.end, "built": context.now(),
            "theme": theme, "roles": trace_roles(fig),
            "scale": meta["scales"] if meta.get("normalised") else None}
    return fig, desc or "No series selected.", live


def _range_options(current: str | None) -> list[dict[str, str]]:
    options = [{"label": p, "value": p} for p in TREND_PRESETS]
    if current is None:
        options.append({"label": "zoomed range", "value": "zoom"})
    return options


def controls(state: TrendsState, tr: TimeRange, known: list[str]) -> Any:
    """Series picker, overlay/stack, compare, normalise and history presets."""
    options = [{"label": f"{series_name(k)} ({k})", "value": k} for k in known]
    return dbc.Row([
        dbc.Col([dbc.Label("Series", id="trends-series-label"),
                 dcc.Dropdown(id="trends-series", options=options, value=list(state.series),
                              multi=True, searchable=True, placeholder="Search series…")],
                xs=12, lg=5),
        dbc.Col([dbc.Label("Layout", html_for="trends-mode"),
                 dbc.RadioItems(id="trends-mode", value=state.mode, inline=True,
                                options=[{"label": "overlay", "value": "overlay"},
                                         {"label": "stack", "value": "stack"}]),
                 dbc.Checklist(id="trends-norm", value=["1"] if state.normalise else [],
                               options=[{"label": "normalise", "value": "1"}], switch=True)],
                xs=6, lg=2),
        dbc.Col([dbc.Label("Compare with", html_for="trends-compare"),
                 dbc.RadioItems(id="trends-compare", value=state.compare, inline=True,
                                options=[{"label": w, "value": v} for v, w in
                                         (("none", "nothing"), ("day", "previous day"),
                                          ("week", "previous week"))])], xs=6, lg=3),
        dbc.Col([dbc.Label("History", html_for="trends-range"),
                 dbc.Select(id="trends-range", value=tr.preset or "zoom",
                            options=_range_options(tr.preset))], xs=6, lg=2),
    ], className="g-3 mb-3")


def layout(**query: str) -> Any:
    known = context.series()
    state = parse_state(query, known)
    if not state.series and "series" not in query:
        state = replace(state, series=default_series(known))
    tr = trends_range(query, context.now())
    fig, desc, live = build(state, tr, "light")
    polite: dict[str, Any] = {"aria-live": "polite"}
    config: Any = graph_config(fig.layout.meta["filename"])
    return html.Div([
        html.H1("Trends", className="h4 mb-3"),
        controls(state, tr, known),
        html.P(desc, id="trends-desc", className="visually-hidden", **polite),
        dcc.Graph(id=CHART_ID, figure=fig, config=config,
                  style={"minHeight": "420px"}),
        html.Div([export_controls(PAGE, CHART), export_page_controls(PAGE)],
                 className="d-flex flex-wrap gap-4 mt-2"),
        dcc.Store(id="trends-live", data=live),
        dcc.Store(id="trends-query"), dcc.Store(id="trends-url-synced"),
    ])


@dash.callback(
    Output(CHART_ID, "figure"), Output("trends-desc", "children"),
    Output("trends-live", "data"), Output("trends-query", "data"),
    Input("trends-series", "value"), Input("trends-mode", "value"),
    Input("trends-compare", "value"), Input("trends-norm", "value"),
    Input("trends-range", "value"), Input("theme", "data"), State("url", "search"),
    prevent_initial_call=True,
)
def render(series: list[str] | None, mode: str, compare: str, norm: list[str] | None,
           preset: str | None, theme: str | None, search: str | None) -> tuple[Any, ...]:
    """Redraw for new controls and put them in the URL."""
    q = query_dict(search)
    if preset in TREND_PRESETS:
        q = query_dict(with_query(search, range=preset, start=None, end=None))
    state = parse_state({**q, "series": ",".join(series or []), "mode": mode,
                         "compare": compare, "norm": "1" if norm else "0"})
    tr = trends_range(q, context.now())
    fig, desc, live = build(state, tr, theme or "light")
    return fig, desc, live, state_query(with_query(search, **{k: q.get(k) for k in
                                                              ("range", "start", "end")}), state)


@dash.callback(
    Output(CHART_ID, "figure", allow_duplicate=True),
    Output("trends-live", "data", allow_duplicate=True),
    Input("tick", "data"), State("trends-live", "data"), prevent_initial_call=True,
)
def on_tick(_: Any, live: dict[str, Any] | None) -> tuple[Any, Any]:
    """Live ranges only: patch in new points, or redraw a downsampled figure now and then."""
    if not live or not live["live"] or not live["state"]["series"]:
        return dash.no_update, dash.no_update
    state = TrendsState(**{**live["state"], "series": tuple(live["state"]["series"])})
    now = context.now()
    if not live["full"] or live["last_ts"] is None:
        if not rebuild_due(live["built"], now, live["window"]):
            return dash.no_update, dash.no_update
        fig, _, fresh = build(state, TimeRange(now - live["window"], now, None, True),
                              live["theme"])
        return fig, fresh
    keys, last, window = list(state.series), float(live["last_ts"]), float(live["window"])
    before = None
    if state.compare != "none":
        off = COMPARES[state.compare]
        before = shifted(context.frame(keys, last - window - off, now - off), off)
    frames = Frames(context.frame(keys, last - window, now), before)
    patch, new_last = tick_patch([tuple(r) for r in live["roles"]], frames, last_ts=last,
                                 window_s=window, scale=live["scale"])
    if patch is None:
        return dash.no_update, dash.no_update
    return patch, {**live, "last_ts": new_last}


def _main_axis(relayout: dict[str, Any] | None) -> dict[str, Any] | None:
    """Stacked rows report ``xaxis3.range``; they share one time axis, so read it as xaxis."""
    if not relayout:
        return relayout
    out = {}
    for key, value in relayout.items():
        head, dot, rest = key.partition(".")
        out["xaxis." + rest if head.startswith("xaxis") and dot else key] = value
    return out


@dash.callback(
    Output(CHART_ID, "figure", allow_duplicate=True),
    Input(CHART_ID, "relayoutData"), State("trends-live", "data"), prevent_initial_call=True,
)
def on_zoom(relayout: dict[str, Any] | None, live: dict[str, Any] | None) -> Any:
    """A downsampled figure gets full detail for the zoomed span (series traces only)."""
    span = relayout_range(_main_axis(relayout))
    if span is None or not live or live["full"] or not live["state"]["series"]:
        return dash.no_update
    frame = context.frame(live["state"]["series"], live["start"], live["end"])
    if live["scale"]:
        frame = normalised(frame, live["scale"])
    keys = [key if role == "series" else None for role, key in live["roles"]]
    patch = trace_updates_patch(resample_for_range(frame, keys, span[0], span[1], MAX_POINTS))
    return patch if patch is not None else dash.no_update


dash.clientside_callback(
    """function(search) {
        if (typeof search !== 'string' || search === window.location.search) {
            return window.dash_clientside.no_update;
        }
        const loc = window.location;
        window.history.replaceState(window.history.state, '', loc.pathname + search + loc.hash);
        window.dash_clientside.set_props('url', {search: search, href: window.location.href});
        return search;
    }""",
    Output("trends-url-synced", "data"), Input("trends-query", "data"),
    prevent_initial_call=True,
)

dash.register_page(__name__, path="/trends", name="Trends", title="tamma-dash · trends",
                   order=3, layout=layout)
