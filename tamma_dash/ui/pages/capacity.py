"""Capacity: what runs out and when (disk, memory, queue, DB pool, rate limits), with a chart.

``/capacity?key=<service/metric>`` opens with that forecast charted; the table refreshes when
the analytics publish new forecasts.
"""

from __future__ import annotations

from typing import Any, cast

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, dcc, html

from tamma_dash.analytics.capacity import WINDOW_S, CapacityForecast
from tamma_dash.analytics.service import analytics_for
from tamma_dash.models import split_key
from tamma_dash.ui import capacity_view as cv
from tamma_dash.ui import context
from tamma_dash.ui.a11y import aria

GRAPH_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"filename": "capacity"}}


def chosen(forecasts: list[CapacityForecast], key: str | None) -> CapacityForecast | None:
    """The forecast named by ``key``, else the one that runs out soonest."""
    ranked = cv.ordered(forecasts)
    return next((f for f in ranked if f.key == key), ranked[0] if ranked else None)


def chart(f: CapacityForecast | None, theme: str) -> tuple[Any, str]:
    """The figure and its text alternative for one forecast (an empty figure without one)."""
    if f is None:
        return waiting_figure(theme), NO_FORECAST
    metric = split_key(f.key)[1]
    window = next((w for m, w in WINDOW_S.items() if metric.startswith(m)), 86_400.0)
    frame = context.frame([f.key], f.fitted_at - window, context.now())
    history = frame[f.key].dropna() if f.key in frame else pd.Series(dtype=float)
    return cv.capacity_figure(history, f, theme), cv.describe_forecast(f)


NO_FORECAST = ("No forecast yet: the analytics fit their models in the background within a "
               "minute of start; this chart shows the first one by itself.")


def waiting_figure(theme: str) -> dict[str, Any]:
    """An empty chart that says why it is empty (no axes that suggest data near zero)."""
    hidden = {"visible": False}
    dark = theme == "dark"
    return {"data": [], "layout": {
        "xaxis": hidden, "yaxis": hidden, "height": 220,
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "annotations": [{"text": NO_FORECAST, "showarrow": False, "xref": "paper",
                         "yref": "paper", "x": 0.5, "y": 0.5,
                         "font": {"color": "#dee2e6" if dark else "#495057"}}]}}


def layout(key: str | None = None, **_: str) -> Any:
    forecasts = analytics_for(context.runtime()).forecasts()
    pick = chosen(forecasts, key)
    fig, text = chart(pick, "light")
    options = [{"label": f"{f.service}: {f.label}", "value": f.key}
               for f in cv.ordered(forecasts)]
    return html.Div([
        html.H1("Capacity", className="h4 mb-2"),
        html.P("Trend and 90 % range fitted on recent history (Theil–Sen). Memory, queue "
               "depth and DB pool follow the daily load, so once a day of history is there "
               "they are forecast against their own last day: its curve plus today's "
               "difference and trend. Rate limits count only if they run out before their "
               "reset.", className="small text-body-secondary"),
        html.Section([
            html.H2("Forecast chart", className="h5 mt-3"),
            dbc.Label("Resource", html_for="capacity-key", className="small mb-1"),
            dcc.Dropdown(id="capacity-key", options=options, clearable=False,
                         value=pick.key if pick is not None else None, className="mb-2"),
            html.P(text, className="visually-hidden", id="capacity-text"),
            dcc.Graph(id="capacity-chart", figure=fig, config=cast(Any, GRAPH_CONFIG)),
        ], **aria("Capacity forecast chart")),
        html.Section([html.H2("All forecasts", className="h5 mt-4"),
                      html.Div(cv.capacity_table(forecasts, pick.key if pick else None),
                               id="capacity-table-box")], **aria("Capacity forecasts")),
        dcc.Store(id="capacity-seen", data=[f.fitted_at for f in forecasts[:1]]),
    ])


@dash.callback(
    Output("capacity-chart", "figure"), Output("capacity-text", "children"),
    Input("capacity-key", "value"), Input("theme", "data"), prevent_initial_call=True,
)
def show(key: str | None, theme: str | None) -> tuple[Any, str]:
    """The chosen forecast's chart."""
    forecasts = analytics_for(context.runtime()).forecasts()
    return chart(chosen(forecasts, key), theme or "light")


@dash.callback(
    Output("capacity-table-box", "children"), Output("capacity-key", "options"),
    Output("capacity-seen", "data"), Output("capacity-key", "value"), Input("tick", "data"),
    State("capacity-key", "value"), State("capacity-seen", "data"), prevent_initial_call=True,
)
def refresh(_tick: Any, key: str | None, seen: list[float] | None) -> Any:
    """The table and the choices again, only when new forecasts were published; the first
    forecasts of a fresh start are charted without a click (the soonest to run out)."""
    forecasts = analytics_for(context.runtime()).forecasts()
    stamp = [f.fitted_at for f in forecasts[:1]]
    if stamp == seen:
        return (dash.no_update,) * 4
    options = [{"label": f"{f.service}: {f.label}", "value": f.key}
               for f in cv.ordered(forecasts)]
    pick = chosen(forecasts, key)
    first = key is None and pick is not None
    shown = pick.key if pick is not None else None
    return (cv.capacity_table(forecasts, shown), options, stamp,
            shown if first else dash.no_update)


dash.register_page(__name__, path="/capacity", name="Capacity", title="tamma-dash · capacity",
                   layout=layout)
