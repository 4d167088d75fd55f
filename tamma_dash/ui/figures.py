"""Time-series figures built from the store's wide frame: frame in, ``go.Figure`` out, no I/O.

Trace order is bands, then series, then anomaly markers, so bands sit underneath. Every trace
carries ``meta = {"key": key, "role": "band" | "series" | "anomaly"}``; live updates find the
series traces with :func:`tamma_dash.ui.live.live_keys`. Zoom survives updates because
``layout.uirevision`` stays constant.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from tamma_dash.ui.downsample import column, downsample_series, iso, to_epoch, y_values
from tamma_dash.ui.export import figure_csv, figure_filename, graph_config
from tamma_dash.ui.format import series_name
from tamma_dash.ui.plotfig import figure
from tamma_dash.ui.sparkline import describe_series, sparkline_figure
from tamma_dash.ui.theme import palette, rgba, status_colour, template

__all__ = [
    "GL_THRESHOLD", "anomaly_traces", "band_traces", "describe_series", "figure_csv",
    "figure_filename", "graph_config", "resample_for_range", "series_trace", "sparkline_figure",
    "time_series_figure",
]

GL_THRESHOLD = 1000  # more points than this in one trace: draw it with WebGL
BAND_ALPHA = 0.18
Trace = dict[str, Any]  # plain dicts: go.Figure validates each array once instead of twice

# d3-format hover text per unit; anything else gets 4 significant digits and the unit.
_HOVER = {"%": "%{y:.1f}%", "ms": "%{y:,.1f} ms", "B": "%{y:.3s}B", "B/s": "%{y:.3s}B/s"}
_RANGE_BUTTONS = [
    dict(count=15, label="15 m", step="minute", stepmode="backward"),
    dict(count=1, label="1 h", step="hour", stepmode="backward"),
    dict(count=6, label="6 h", step="hour", stepmode="backward"),
    dict(count=24, label="24 h", step="hour", stepmode="backward"),
    dict(label="all", step="all"),
]


def hover_value(unit: str) -> str:
    """d3-format hover text for a value in ``unit``."""
    return _HOVER.get(unit, "%{y:,.4~g}" + (f" {unit}" if unit else ""))


def _ts(frame: pd.DataFrame) -> np.ndarray:
    return frame.index.to_numpy(dtype=np.float64)


def series_trace(
    frame: pd.DataFrame, key: str, *, colour: str, unit: str, max_points: int
) -> Trace:
    """One series, downsampled to ``max_points``; WebGL once it holds over GL_THRESHOLD points."""
    x, y = downsample_series(_ts(frame), column(frame, key), max_points)
    name = series_name(key)
    return dict(
        type="scattergl" if x.shape[0] > GL_THRESHOLD else "scatter", x=iso(x), y=y_values(y),
        name=name, mode="lines", connectgaps=False,
        line=dict(color=colour, width=1.5), legendgroup=key, meta={"key": key, "role": "series"},
        hovertemplate=f"{hover_value(unit)}<extra>{name}</extra>",
    )


def band_traces(
    baseline: pd.DataFrame, keys: Sequence[str], colours: dict[str, str], max_points: int
) -> list[Trace]:
    """The normal band of each key: ``baseline[key]`` has lower/upper columns on a ts index.

    ``baseline`` is ``pd.concat({key: band_frame, ...}, axis=1)``: two-level columns
    (key, "lower" | "median" | "upper"). Keys without a band are skipped.
    """
    present = set(baseline.columns.get_level_values(0)) if len(baseline.columns) else set()
    out: list[Trace] = []
    for key in keys:
        if key not in present:
            continue
        sub = baseline[key]
        if not {"lower", "upper"} <= set(sub.columns):
            raise ValueError(f"baseline[{key!r}] needs 'lower' and 'upper' columns, "
                             f"has {sorted(map(str, sub.columns))}")
        band = sub[["lower", "upper"]].dropna()
        stride = max(1, -(-len(band) // max(1, max_points // 2)))
        band = band.iloc[::stride]
        ts = band.index.to_numpy(dtype=np.float64)
        out.append(dict(
            type="scatter", x=iso(ts) + iso(ts[::-1]),
            y=y_values(band["upper"].to_numpy()) + y_values(band["lower"].to_numpy()[::-1]),
            name=f"{series_name(key)} normal band", fill="toself", mode="lines",
            fillcolor=rgba(colours[key], BAND_ALPHA), line=dict(width=0), hoverinfo="skip",
            legendgroup=key, meta={"key": key, "role": "band"},
        ))
    return out


def anomaly_traces(
    frame: pd.DataFrame, anomalies: pd.DataFrame, keys: Sequence[str], *, theme: str,
    webgl: bool = False,
) -> list[Trace]:
    """Marker traces (one per key with anomalies) placed on the series at each anomaly's time.

    ``webgl`` must be true when any series is WebGL: a WebGL canvas covers every SVG trace.
    """
    missing = {"ts", "key", "score"} - set(anomalies.columns)
    if missing:
        raise ValueError(f"anomalies frame lacks column(s) {sorted(missing)}; "
                         "expected columns ts, key, score")
    colour = status_colour("down", theme)
    out: list[Trace] = []
    for key in keys:
        rows = anomalies[anomalies["key"] == key].sort_values("ts")
        if rows.empty or frame.empty:
            continue
        ts = rows["ts"].to_numpy(dtype=np.float64)
        series = pd.Series(column(frame, key), index=_ts(frame))
        y = series.reindex(ts, method="nearest").to_numpy()
        name = f"{series_name(key)} anomalies"
        out.append(dict(
            type="scattergl" if webgl else "scatter", x=iso(ts), y=y_values(y), name=name,
            mode="markers", legendgroup=key,
            marker=dict(symbol="circle-open", size=12, color=colour, line=dict(width=2.5)),
            customdata=[round(float(s), 4) for s in rows["score"]],
            hovertemplate=f"anomaly, score %{{customdata:.2f}}<extra>{name}</extra>",
            meta={"key": key, "role": "anomaly"},
        ))
    return out


def _layout(title: str, unit: str, theme: str, uirevision: str,
            x_range: tuple[float, float] | None) -> dict[str, Any]:
    p = palette(theme)
    xaxis: dict[str, object] = dict(
        type="date", title=dict(text="time (UTC)"), hoverformat="%Y-%m-%d %H:%M:%S UTC",
        rangeslider=dict(visible=True, thickness=0.08, bgcolor=p.background,
                         bordercolor=p.grid, borderwidth=1),
        rangeselector=dict(buttons=_RANGE_BUTTONS, x=0, y=1.02, xanchor="left", yanchor="bottom",
                           bgcolor=p.control, activecolor=p.control_active,
                           font=dict(color=p.text)),
    )
    if x_range is not None:
        xaxis["range"] = iso(list(x_range))
    return dict(
        template=template(theme), title=dict(text=title, xref="paper"), uirevision=uirevision,
        hovermode="x unified", xaxis=xaxis, yaxis=dict(title=dict(text=unit or None)),
        legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"),
        margin=dict(t=84), meta={"unit": unit},
    )


def time_series_figure(
    frame: pd.DataFrame, keys: Sequence[str], *, title: str, unit: str, theme: str = "light",
    max_points: int = 2000, x_range: tuple[float, float] | None = None,
    baseline: pd.DataFrame | None = None, anomalies: pd.DataFrame | None = None,
    uirevision: str = "keep", extra: Sequence[Trace] = (),
) -> go.Figure:
    """One line per key (bands beneath, anomaly markers on top), each at most ``max_points``.

    ``extra`` traces go last (overlays built elsewhere; see :func:`uses_webgl` for their type).
    """
    p = palette(theme)
    colours = {key: p.series[i % len(p.series)] for i, key in enumerate(keys)}
    data: list[Trace] = []
    if baseline is not None:
        data += band_traces(baseline, keys, colours, max_points)
    series = [series_trace(frame, k, colour=colours[k], unit=unit, max_points=max_points)
              for k in keys]
    data += series
    if anomalies is not None:
        webgl = any(t["type"] == "scattergl" for t in series)
        data += anomaly_traces(frame, anomalies, keys, theme=theme, webgl=webgl)
    return figure([*data, *extra], _layout(title, unit, theme, uirevision, x_range))


def uses_webgl(frame: pd.DataFrame, max_points: int) -> bool:
    """Whether :func:`series_trace` draws this frame's series with WebGL (then overlays must
    be WebGL too: a WebGL canvas covers every SVG trace)."""
    return min(len(frame.index), max_points) > GL_THRESHOLD


def resample_for_range(
    frame: pd.DataFrame, keys: Sequence[str | None], x0: float | str | None,
    x1: float | str | None, max_points: int,
) -> dict[int, dict[str, list]]:
    """New x/y for each series trace after a zoom: full resolution inside [x0, x1] when it fits.

    ``keys`` is in figure trace order with None for non-series traces (see ``live_keys``), so
    the returned dict is keyed by figure trace index. One point either side of the range is
    kept so lines run to the plot's edges. ``None`` bounds mean the whole frame (autorange).
    """
    ts = _ts(frame)
    lo, hi = to_epoch(x0), to_epoch(x1)
    i0 = 0 if lo is None else max(0, int(np.searchsorted(ts, lo, side="left")) - 1)
    i1 = len(ts) if hi is None else min(len(ts), int(np.searchsorted(ts, hi, side="right")) + 1)
    out: dict[int, dict[str, list]] = {}
    for i, key in enumerate(keys):
        if key is None:
            continue
        x, y = downsample_series(ts[i0:i1], column(frame, key)[i0:i1], max_points)
        out[i] = {"x": iso(x), "y": y_values(y)}
    return out
