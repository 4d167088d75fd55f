"""Baseline bands and anomaly markers added on top of a chart's series traces.

The traces go AFTER the series traces, so live updates that patch series by trace index keep
working; each carries ``meta.role`` "band" or "anomaly" (``live.live_keys`` skips them). Bands
are filled polygons (``fill="toself"``, no hover) named "normal band"; markers are a marker
trace named "anomaly". :func:`analytics_overlays` reads them from the running analytics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from tamma_dash.ui.downsample import iso, y_values
from tamma_dash.ui.theme import palette, rgba, status_colour

BAND_ALPHA = 0.16
Trace = dict[str, Any]


def band_trace(key: str, band: pd.DataFrame, colour: str, *, webgl: bool = False,
               max_points: int = 1000, show_legend: bool = True) -> Trace | None:
    """One series' normal band as a closed polygon (upper forwards, lower backwards)."""
    if not {"lower", "upper"} <= set(map(str, band.columns)):
        raise ValueError(f"band for {key!r} needs 'lower' and 'upper' columns, "
                         f"has {sorted(map(str, band.columns))}")
    band = band[["lower", "upper"]].dropna()
    if band.empty:
        return None
    band = band.iloc[:: max(1, -(-len(band) // max(1, max_points)))]
    ts = band.index.to_numpy(dtype=np.float64)
    return dict(
        type="scattergl" if webgl else "scatter", x=iso(ts) + iso(ts[::-1]),
        y=y_values(band["upper"].to_numpy()) + y_values(band["lower"].to_numpy()[::-1]),
        name="normal band", fill="toself", mode="lines", line=dict(width=0),
        fillcolor=rgba(colour, BAND_ALPHA), hoverinfo="skip", legendgroup="normal band",
        showlegend=show_legend, meta={"key": key, "role": "band"},
    )


def marker_trace(key: str, frame: pd.DataFrame, markers: pd.DataFrame, theme: str, *,
                 webgl: bool = False, show_legend: bool = True) -> Trace | None:
    """Anomalies of one series as markers placed on the line at each anomaly's time."""
    rows = markers[markers["key"] == key].sort_values("ts")
    if rows.empty or frame.empty or key not in frame:
        return None
    ts = rows["ts"].to_numpy(dtype=np.float64)
    line = frame[key].dropna()
    y = line.reindex(ts, method="nearest").to_numpy() if len(line) else np.full(len(ts), np.nan)
    return dict(
        type="scattergl" if webgl else "scatter", x=iso(ts), y=y_values(y), name="anomaly",
        mode="markers", legendgroup="anomaly", showlegend=show_legend,
        marker=dict(symbol="circle-open", size=13, color=status_colour("down", theme),
                    line=dict(width=2.5)),
        customdata=[round(float(s), 3) for s in rows["score"]],
        hovertemplate="anomaly, score %{customdata:.2f}<extra></extra>",
        meta={"key": key, "role": "anomaly"},
    )


def overlay_traces(frame: pd.DataFrame, keys: Sequence[str], baseline: pd.DataFrame | None,
                   markers: pd.DataFrame | None, theme: str, *, webgl: bool = False,
                   max_points: int = 1000) -> list[Trace]:
    """Bands (one legend entry) then markers (one legend entry) for the chart's ``keys``."""
    colours = palette(theme).series
    out: list[Trace] = []
    present = set(baseline.columns.get_level_values(0)) if baseline is not None else set()
    for i, key in enumerate(keys):
        if baseline is not None and key in present:
            sub = pd.DataFrame(baseline[key])
            trace = band_trace(key, sub, colours[i % len(colours)], webgl=webgl,
                               max_points=max_points, show_legend=not out)
            if trace is not None:
                out.append(trace)
    shown = False
    for key in keys:
        if markers is not None and len(markers):
            trace = marker_trace(key, frame, markers, theme, webgl=webgl, show_legend=not shown)
            if trace is not None:
                out.append(trace)
                shown = True
    return out


def analytics_overlays(keys: Sequence[str], start: float,
                       end: float) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Bands and markers from the fleet's analytics; none without an app runtime or before the
    collector's analytics have fitted a model (a bare store gets plain charts)."""
    from tamma_dash.analytics.service import analytics_for
    from tamma_dash.ui import context

    try:
        rt = context.runtime()
    except RuntimeError:
        return None, None
    queries = analytics_for(rt)
    if not queries.results().fitted:
        return None, None
    return queries.baselines(list(keys), start, end), queries.markers(list(keys), start, end)
