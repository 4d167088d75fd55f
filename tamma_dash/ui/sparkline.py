"""Tiny trend lines for status cards, and the sentence that tells a screen reader the same."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from dash import Patch

from tamma_dash.ui.downsample import downsample_series, iso, y_values
from tamma_dash.ui.format import format_range, format_value
from tamma_dash.ui.plotfig import figure
from tamma_dash.ui.theme import status_colour, template

TREND_SHARE = 0.25  # last-third mean must move this share of the range to count as a trend
SPARK_HEIGHT_PX = 48
SPARK_POINTS = 120  # a 300 px line: an hour of 5 s ticks downsampled (MinMaxLTTB) to this
SPARK_SLACK = 60  # live points appended before the line is rebuilt from the window


def sparkline_figure(
    ts: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray, *, status: str,
    theme: str, max_points: int = SPARK_POINTS, window: tuple[float, float] | None = None,
) -> go.Figure:
    """A line in the status colour with no axes, legend or margins; transparent background.

    Pair it with :func:`describe_series` as the graph's ``aria-label``: the line alone carries
    no text. ``window`` (start, end) fixes the x range, so points appended live scroll older
    ones off the left (see :func:`sparkline_update`).
    """
    x, y = downsample_series(np.asarray(ts, float), np.asarray(values, float), max_points)
    colour = status_colour(status, theme)
    trace = dict(type="scatter", x=iso(x), y=y_values(y), mode="lines", connectgaps=False,
                 line=dict(color=colour, width=2), hovertemplate="%{y:,.4~g}<extra></extra>")
    hidden = dict(visible=False, fixedrange=True)
    xaxis = dict(hidden, range=iso(list(window))) if window is not None else hidden
    return figure([trace], dict(
        template=template(theme), height=SPARK_HEIGHT_PX, margin=dict(l=0, r=0, t=0, b=0),
        xaxis=xaxis, yaxis=dict(hidden), showlegend=False, hovermode="x",
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
    ))


def spark_store(fig: go.Figure) -> dict[str, Any]:
    """What the browser draws a sparkline from (assets/sparkline.js), in the figure's own
    shape so :func:`sparkline_update`'s patches apply to it: points, colour and x range only
    (the template, margins and hover settings of a plotly figure are not needed for a path)."""
    trace, xaxis = fig.data[0], fig.layout.xaxis
    store: dict[str, Any] = {"data": [{"x": list(trace.x), "y": list(trace.y),
                                       "line": {"color": trace.line.color}}]}
    if xaxis.range is not None:
        store["layout"] = {"xaxis": {"range": list(xaxis.range)}}
    return store


def sparkline_update(
    n: int | None, ts: np.ndarray, values: np.ndarray, *, last_ts: float, window_s: float,
    status: str, theme: str, recolour: bool = False,
    window_rows: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[Patch | go.Figure | None, int | None]:
    """The tick's update of a live sparkline holding ``n`` points: (update, new n).

    Rows of ``ts``/``values`` newer than ``last_ts`` are written by Assign at indexes n, n+1…
    (a patch applied on top of a stale figure gives the same figure) and the x range moves to
    the window ending at the newest row, so the oldest points scroll off. Once more than
    ``SPARK_SLACK`` points were appended (or ``n`` is unknown) the whole line is rebuilt from
    ``window_rows()`` (the window's rows), downsampled to ``SPARK_POINTS`` again. ``recolour``
    paints the line in ``status``'s colour (the status changed). (None, n) when nothing is new.
    """
    fresh = ts > last_ts
    if not bool(fresh.any()):
        if not recolour:
            return None, n
        patch = Patch()
        patch["data"][0]["line"]["color"] = status_colour(status, theme)
        return patch, n
    newest = float(ts[fresh].max())
    window = (newest - window_s, newest)
    k = int(fresh.sum())
    if n is None or n + k > SPARK_POINTS + SPARK_SLACK:
        wts, wvalues = window_rows() if window_rows is not None else (ts, values)
        keep = (wts > window[0]) & (wts <= window[1])
        fig = sparkline_figure(wts[keep], wvalues[keep], status=status, theme=theme,
                               window=window)
        return fig, len(fig.data[0].x)
    patch = Patch()
    for j, (x, y) in enumerate(zip(iso(ts[fresh]), y_values(values[fresh]), strict=True)):
        patch["data"][0]["x"][n + j] = x
        patch["data"][0]["y"][n + j] = y
    patch["layout"]["xaxis"]["range"] = iso(list(window))
    if recolour:
        patch["data"][0]["line"]["color"] = status_colour(status, theme)
    return patch, n + k


def trend_word(values: np.ndarray) -> str:
    """``rising``, ``falling`` or ``steady``: the last third's mean against the first third's."""
    finite = values[np.isfinite(values)]
    if finite.shape[0] < 3:
        return "steady"
    span = float(finite.max() - finite.min())
    if span == 0:
        return "steady"
    third = max(1, finite.shape[0] // 3)
    change = float(finite[-third:].mean() - finite[:third].mean()) / span
    if change >= TREND_SHARE:
        return "rising"
    if change <= -TREND_SHARE:
        return "falling"
    return "steady"


def describe_series(
    name: str, values: Sequence[float] | np.ndarray, unit: str, *, span: str = "the last hour"
) -> str:
    """Text alternative, e.g. ``api p95 response time: 84 ms now, 60–130 ms over …, rising``."""
    arr = np.asarray(values, dtype=np.float64)
    finite = arr[np.isfinite(arr)]
    if finite.shape[0] == 0:
        return f"{name}: no data over {span}"
    now = arr[-1]
    current = (f"{format_value(float(now), unit)} now" if np.isfinite(now)
               else "no current value")
    low, high = float(finite.min()), float(finite.max())
    if low == high:
        return f"{name}: {current}, {format_value(low, unit)} throughout {span}"
    return (f"{name}: {current}, {format_range(low, high, unit)} over {span}, "
            f"{trend_word(finite)}")
