"""Capacity page parts: the forecast table and a chart of history, trend and its uncertainty.

Plain functions: forecasts and a history series in, components and figures out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html

from tamma_dash.analytics.capacity import CapacityForecast
from tamma_dash.ui.downsample import downsample_series, iso, y_values
from tamma_dash.ui.format import format_value
from tamma_dash.ui.plotfig import figure
from tamma_dash.ui.theme import palette, rgba, status_colour, template

DEFAULT_HORIZON_S = 7 * 86_400.0
MAX_POINTS = 1500


def ordered(forecasts: Sequence[CapacityForecast]) -> list[CapacityForecast]:
    """Soonest to run out first; those not heading for their limit last, by name."""
    return sorted(forecasts, key=lambda f: (not f.runs_out, f.eta_s if f.runs_out else 0.0,
                                            f.key))


def verdict(f: CapacityForecast) -> tuple[str, str]:
    """(word, badge colour): how urgent a forecast is."""
    if not f.runs_out or f.eta_s is None:
        return "fine", "success"
    if f.eta_s <= 86_400.0:
        return "within a day", "danger"
    if f.eta_s <= 7 * 86_400.0:
        return "within a week", "warning"
    return "later", "info"


def capacity_table(forecasts: Sequence[CapacityForecast], chosen: str | None = None) -> Any:
    """One row per forecast: service, resource, value now, limit, the sentence and urgency."""
    if not forecasts:
        return html.P("No forecasts yet: they need about ten points of history per series.",
                      className="text-body-secondary")
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in
                               ("Service", "Resource", "Now", "Limit", "Forecast", "When")]))
    rows = []
    for f in ordered(forecasts):
        word, colour = verdict(f)
        rows.append(html.Tr([
            html.Th(dcc.Link(f.service, href=f"/service/{f.service}"), scope="row"),
            html.Td(dcc.Link(f.label, href=f"/capacity?key={f.key}")),
            html.Td(format_value(f.value, f.unit)), html.Td(format_value(f.limit, f.unit)),
            html.Td(f.text),
            html.Td(dbc.Badge(word, color=colour,
                              text_color="dark" if colour == "warning" else None)),
        ], className="table-active" if f.key == chosen else None))
    return dbc.Table([html.Caption("Capacity forecasts, soonest first"), head,
                      html.Tbody(rows)], size="sm", hover=True, responsive=True,
                     id="capacity-table")


def level_now(f: CapacityForecast) -> float:
    """The trend's value at the forecast time (the limit minus the way still to go)."""
    if f.eta_s is not None and f.eta_s > 0 and math.isfinite(f.eta_s):
        return f.limit - f.slope_per_s * f.eta_s
    return f.value


def cone(f: CapacityForecast, horizon: float) -> tuple[list[float], list[float]]:
    """The uncertainty band as a closed polygon: fast and slow arrivals at the limit."""
    t0, y0 = f.fitted_at, level_now(f)
    ends = []
    for reach in (f.low_s, f.high_s):
        if reach is None or not math.isfinite(reach) or reach <= 0:
            ends.append((t0 + horizon, y0 + f.slope_per_s * horizon * (0.5 if reach else 1.5)))
        else:
            ends.append((t0 + min(reach, horizon), y0 + (f.limit - y0) * min(1.0, horizon
                                                                              / reach)))
    (fx, fy), (sx, sy) = ends
    return [t0, fx, sx, t0], [y0, fy, sy, y0]


def capacity_figure(history: pd.Series, f: CapacityForecast, theme: str = "light",
                    horizon_s: float | None = None) -> go.Figure:
    """History, the fitted trend to the limit (or the horizon), its band and the limit line."""
    p = palette(theme)
    colour = p.series[0]
    eta = f.eta_s if f.eta_s is not None and math.isfinite(f.eta_s) else None
    horizon = horizon_s or (min(max(1.2 * (f.high_s if f.high_s and math.isfinite(f.high_s)
                                           else eta or 0.0), 3600.0), 60 * 86_400.0)
                            if eta is not None else DEFAULT_HORIZON_S)
    x, y = downsample_series(history.index.to_numpy(dtype=np.float64),
                             history.to_numpy(dtype=np.float64), MAX_POINTS)
    t0, y0 = f.fitted_at, level_now(f)
    t1 = t0 + (min(eta, horizon) if eta is not None else horizon)
    y1 = y0 + f.slope_per_s * (t1 - t0)
    cx, cy = cone(f, horizon)
    limit_x = [float(x[0]) if len(x) else t0, t0 + horizon]
    data: list[dict[str, Any]] = [
        dict(type="scatter", x=iso(cx), y=cy, fill="toself", mode="lines", line=dict(width=0),
             fillcolor=rgba(colour, 0.18), name="90 % range", hoverinfo="skip"),
        dict(type="scatter", x=iso(x), y=y_values(y), mode="lines", name="history",
             line=dict(color=colour, width=1.5)),
        dict(type="scatter", x=iso([t0, t1]), y=[y0, y1], mode="lines", name="trend",
             line=dict(color=p.series[1], width=2, dash="dot")),
        dict(type="scatter", x=iso(limit_x), y=[f.limit, f.limit], mode="lines",
             name=f"limit {format_value(f.limit, f.unit)}",
             line=dict(color=status_colour("down", theme), width=1.5, dash="dash")),
    ]
    layout = dict(
        template=template(theme), title=dict(text=f"{f.service} {f.label}: {f.text}",
                                             font=dict(size=14)),
        xaxis=dict(type="date", title=dict(text="time (UTC)")),
        yaxis=dict(title=dict(text=f.unit or f.label)), hovermode="x unified",
        legend=dict(orientation="h", y=-0.2), margin=dict(t=60),
    )
    return figure(data, layout)


def describe_forecast(f: CapacityForecast) -> str:
    """The chart's text alternative."""
    return (f"{f.service} {f.label} is {format_value(f.value, f.unit)} now, limit "
            f"{format_value(f.limit, f.unit)}: {f.text}.")
