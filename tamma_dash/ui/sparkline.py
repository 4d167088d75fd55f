"""Tiny trend lines for status cards, and the sentence that tells a screen reader the same."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from tamma_dash.ui.downsample import downsample_series, iso, y_values
from tamma_dash.ui.format import format_range, format_value
from tamma_dash.ui.plotfig import figure
from tamma_dash.ui.theme import status_colour, template

TREND_SHARE = 0.25  # last-third mean must move this share of the range to count as a trend
SPARK_HEIGHT_PX = 48


def sparkline_figure(
    ts: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray, *, status: str,
    theme: str, max_points: int = 120,
) -> go.Figure:
    """A line in the status colour with no axes, legend or margins; transparent background.

    Pair it with :func:`describe_series` as the graph's ``aria-label``: the line alone carries
    no text.
    """
    x, y = downsample_series(np.asarray(ts, float), np.asarray(values, float), max_points)
    colour = status_colour(status, theme)
    trace = dict(type="scatter", x=iso(x), y=y_values(y), mode="lines", connectgaps=False,
                 line=dict(color=colour, width=2), hovertemplate="%{y:,.4~g}<extra></extra>")
    hidden = dict(visible=False, fixedrange=True)
    return figure([trace], dict(
        template=template(theme), height=SPARK_HEIGHT_PX, margin=dict(l=0, r=0, t=0, b=0),
        xaxis=hidden, yaxis=dict(hidden), showlegend=False, hovermode="x",
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
    ))


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
