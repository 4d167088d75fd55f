"""The trends explorer's pure parts: URL state, overlay/stack figures, compare overlays, ticks.

Trace order in every figure is, per selected key, the series trace and then (when comparing)
its shifted copy. Series traces carry ``meta = {"key", "role": "series"}``; shifted copies
``meta = {"key", "role": "compare", "shift": seconds}``, so live updates and CSV export
(series only) can tell them apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import Patch
from plotly.subplots import make_subplots

from tamma_dash.models import split_key
from tamma_dash.ui.downsample import downsample_series, iso, y_values
from tamma_dash.ui.figures import hover_value, series_trace
from tamma_dash.ui.format import metric_unit, series_name
from tamma_dash.ui.live import extend_patch
from tamma_dash.ui.plotfig import figure
from tamma_dash.ui.theme import palette, template
from tamma_dash.ui.timerange import PRESETS, TimeRange, parse_range, with_query

MODES = ("overlay", "stack")
COMPARES: dict[str, float] = {"none": 0.0, "day": 86400.0, "week": 604800.0}
COMPARE_WORDS = {"day": "previous day", "week": "previous week"}
TREND_PRESETS: dict[str, float] = {**PRESETS, "30d": 30 * 86400.0}
STACK_ROW_PX = 170
LIVE_FULL_MAX = 5000  # live figures this many rows or fewer are full resolution and patched
REBUILD_STEPS = 1000  # downsampled live figures are rebuilt when now moved span / this
Trace = dict[str, Any]


@dataclass(frozen=True)
class TrendsState:
    """What the explorer shows; all of it lives in the URL query."""

    series: tuple[str, ...] = ()
    mode: str = "overlay"
    compare: str = "none"
    normalise: bool = False


def parse_state(query: Mapping[str, str], known: Sequence[str] | None = None) -> TrendsState:
    """``series=a,b&mode=stack&compare=day&norm=1``; unknown values fall back to defaults."""
    keys = [k for k in (query.get("series") or "").split(",") if k]
    if known is not None:
        allowed = set(known)
        keys = [k for k in keys if k in allowed]
    mode = query.get("mode", "overlay")
    compare = query.get("compare", "none")
    return TrendsState(
        series=tuple(dict.fromkeys(keys)), mode=mode if mode in MODES else "overlay",
        compare=compare if compare in COMPARES else "none", normalise=query.get("norm") == "1",
    )


def state_query(search: str | None, state: TrendsState) -> str:
    """The search string with ``state`` applied; defaults are left out to keep links short.

    ``/`` and ``,`` stay readable (both are legal in a query and parse back the same).
    """
    search = with_query(
        search, series=",".join(state.series) or None,
        mode=None if state.mode == "overlay" else state.mode,
        compare=None if state.compare == "none" else state.compare,
        norm="1" if state.normalise else None,
    )
    return search.replace("%2F", "/").replace("%2C", ",")


def trends_range(query: Mapping[str, str], now: float) -> TimeRange:
    """The shared range (timerange.py) plus presets beyond it (30d) for rollup history."""
    preset = query.get("range")
    if preset in TREND_PRESETS and preset not in PRESETS and "start" not in query:
        return TimeRange(now - TREND_PRESETS[preset], now, preset, live=True)
    return parse_range(query, now)


def unit_of(key: str) -> str:
    return metric_unit(split_key(key)[1])


def axis_units(keys: Sequence[str], normalise: bool) -> list[str]:
    """Distinct units in key order; more than two units in one plot force normalisation."""
    units = list(dict.fromkeys(unit_of(k) for k in keys))
    return [] if normalise or len(units) > 2 else units


def scales(frame: pd.DataFrame, keys: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Per key (min, max) over the frame, the fixed scale of its normalised line."""
    out = {}
    for key in keys:
        col = frame[key].to_numpy(dtype=np.float64) if key in frame else np.array([np.nan])
        finite = col[np.isfinite(col)]
        out[key] = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    return out


def normalised(frame: pd.DataFrame, scale: Mapping[str, Sequence[float]]) -> pd.DataFrame:
    """Each scaled column as 0 at its minimum and 1 at its maximum (flat series sit at 0)."""
    out = frame.copy()
    for key, (lo, hi) in scale.items():
        if key in out:
            out[key] = (out[key] - lo) / (hi - lo if hi > lo else 1.0)
    return out


def shifted(frame: pd.DataFrame, offset: float) -> pd.DataFrame:
    """The frame moved forward by ``offset`` seconds, so last week's rows line up with now."""
    out = frame.copy()
    out.index = pd.Index(frame.index.to_numpy(dtype=np.float64) + offset, name=frame.index.name)
    return out


def compare_trace(frame: pd.DataFrame, key: str, compare: str, *, colour: str, unit: str,
                  max_points: int) -> Trace:
    """A dashed copy of a series from ``frame`` (already shifted), named '… (previous day)'."""
    trace = series_trace(frame, key, colour=colour, unit=unit, max_points=max_points)
    name = f"{series_name(key)} ({COMPARE_WORDS[compare]})"
    trace.update(name=name, meta={"key": key, "role": "compare", "shift": COMPARES[compare]},
                 line=dict(color=colour, width=1.2, dash="dash"), opacity=0.75,
                 hovertemplate=f"{hover_value(unit)}<extra>{name}</extra>")
    return trace


@dataclass(frozen=True)
class Frames:
    """The data of one figure: the range's frame and, when comparing, the shifted frame."""

    now: pd.DataFrame
    before: pd.DataFrame | None = None


def _traces(frames: Frames, state: TrendsState, theme: str, max_points: int,
            scale: Mapping[str, Sequence[float]] | None) -> list[list[Trace]]:
    """Per key: its series trace and maybe its compare trace (values normalised if asked)."""
    colours = palette(theme).series
    now = normalised(frames.now, scale) if scale else frames.now
    before = frames.before
    if before is not None and scale:
        before = normalised(before, scale)
    out = []
    for i, key in enumerate(state.series):
        colour, unit = colours[i % len(colours)], ("" if scale else unit_of(key))
        group = [series_trace(now, key, colour=colour, unit=unit, max_points=max_points)]
        if before is not None and state.compare != "none":
            group.append(compare_trace(before, key, state.compare, colour=colour, unit=unit,
                                       max_points=max_points))
        out.append(group)
    return out


def _base_layout(theme: str, title: str) -> dict[str, Any]:
    return dict(
        template=template(theme), title=dict(text=title), uirevision="trends",
        hovermode="x unified", margin=dict(t=72),
        legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"),
    )


def trends_figure(frames: Frames, state: TrendsState, *, theme: str = "light",
                  max_points: int = 2000, title: str = "Trends") -> go.Figure:
    """Overlay (one plot, up to two unit axes, or normalised) or stack (shared time axis)."""
    stack = state.mode == "stack" and len(state.series) > 1
    units = axis_units(state.series, state.normalise)
    wants_scale = state.normalise if stack else not units  # stacked rows each have an axis
    scale = scales(frames.now, state.series) if state.series and wants_scale else None
    groups = _traces(frames, state, theme, max_points, scale)
    meta = {"unit": units[0] if len(units) == 1 else "", "normalised": scale is not None,
            "scales": {k: list(v) for k, v in (scale or {}).items()}}
    if stack:
        return _stack(groups, state, theme, title, meta)
    fig = figure((), _base_layout(theme, title))
    for key, group in zip(state.series, groups, strict=True):
        on_second = len(units) == 2 and unit_of(key) == units[1]
        for trace in group:
            fig.add_trace(dict(trace, yaxis="y2") if on_second else trace)
    fig.update_layout(meta=meta, xaxis=dict(type="date", title=dict(text="time (UTC)"),
                                            hoverformat="%Y-%m-%d %H:%M:%S UTC"),
                      yaxis=dict(title=dict(text="normalised (0 = min, 1 = max)" if scale
                                            else (units[0] if units else None))))
    if len(units) == 2:
        fig.update_layout(yaxis2=dict(title=dict(text=units[1] or None), overlaying="y",
                                      side="right", showgrid=False))
    return fig


def _stack(groups: list[list[Trace]], state: TrendsState, theme: str, title: str,
           meta: dict[str, Any]) -> go.Figure:
    """One row per key, all rows on one time axis, so what moved together lines up."""
    n = len(groups)
    fig = make_subplots(rows=n, cols=1, shared_xaxes=True, vertical_spacing=min(0.06, 0.3 / n),
                        subplot_titles=[series_name(k) for k in state.series])
    for row, (key, group) in enumerate(zip(state.series, groups, strict=True), start=1):
        for trace in group:
            fig.add_trace(trace, row=row, col=1)
        unit = "normalised" if meta["normalised"] else unit_of(key)
        fig.update_yaxes(title=dict(text=unit or None), row=row, col=1)
    fig.update_xaxes(type="date", hoverformat="%Y-%m-%d %H:%M:%S UTC")
    fig.update_xaxes(title=dict(text="time (UTC)"), row=n, col=1)
    fig.update_layout(**_base_layout(theme, title), height=max(360, STACK_ROW_PX * n + 120),
                      meta=meta)
    return fig


def trace_roles(figure: go.Figure | Mapping[str, Any]) -> list[tuple[str, str]]:
    """(role, key) of each trace in figure order, from the traces' meta."""
    data = figure.data if isinstance(figure, go.Figure) else figure.get("data", [])
    out = []
    for trace in data:
        meta = trace.get("meta") if isinstance(trace, Mapping) else trace.meta
        meta = meta if isinstance(meta, Mapping) else {}
        out.append((str(meta.get("role", "")), str(meta.get("key", ""))))
    return out


def tick_patch(
    roles: Sequence[tuple[str, str]], frames: Frames, *, last_ts: float, window_s: float,
    scale: Mapping[str, Sequence[float]] | None = None, max_points: int = 2000,
) -> tuple[Patch | None, float]:
    """New points for the series traces (extend + trim) and re-drawn compare traces.

    ``frames.now`` must start at or before ``last_ts - window_s`` (see ui/live.py);
    ``frames.before`` is the compare period, already shifted onto the current window.
    """
    now = normalised(frames.now, scale) if scale else frames.now
    keys = [key if role == "series" else None for role, key in roles]
    patch, new_last = extend_patch(keys, now, last_ts=last_ts, window_s=window_s)
    if patch is None or frames.before is None:
        return patch, new_last
    before = normalised(frames.before, scale) if scale else frames.before
    ts = before.index.to_numpy(dtype=np.float64)
    rows = (ts > new_last - window_s) & (ts <= new_last)
    for i, (role, key) in enumerate(roles):
        if role != "compare":
            continue
        col = (before[key].to_numpy(dtype=np.float64) if key in before
               else np.full(ts.shape[0], np.nan))
        x, y = downsample_series(ts[rows], col[rows], max_points)
        patch["data"][i]["x"] = iso(x)
        patch["data"][i]["y"] = y_values(y)
    return patch, new_last


def rebuild_due(built_at: float, now: float, span: float) -> bool:
    """A downsampled live figure is redrawn once now has moved a visible step."""
    return now - built_at >= span / REBUILD_STEPS
