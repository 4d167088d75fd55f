"""Live-update logic as plain functions returning ``dash.Patch``: callbacks only wire them up.

What dash 4.4's Patch can express (read from ``dash/_patch.py`` and the renderer's
``patchHandlers``): Assign, Merge, Extend, Delete (one index per operation, negative indexes
count from the end), Insert, Append, Prepend, Clear, Reverse, Remove (by value), arithmetic.
There is no slice: trimming k points from the front is k ``Delete`` operations at index 0, each
copying the array in the browser, so past ``MAX_DELETES`` a trace is re-assigned whole instead.

Two ways to append. :func:`append_patch` is the one to use: it writes new points by Assign at
absolute indexes, so a patch applied twice (or on top of a figure that already got it) gives the
same figure. :func:`extend_patch` (Extend + Delete) is smaller to describe but not idempotent.

Rolling-window contract: a live figure holds, per series trace, one point per frame row with
``last_ts - window_s < ts <= last_ts`` (gaps as None), i.e. it was built at full resolution from
:func:`live_window`. Each update passes a frame that starts at or before ``last_ts - window_s``
(``store.frame(keys, last_ts - window_s, now)``) so the rows leaving the window can be counted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import Patch
from plotly.utils import PlotlyJSONEncoder

from tamma_dash.ui.downsample import column, iso, to_epoch, y_values

MAX_DELETES = 32
SLACK_ROWS = 24  # a rolling chart is re-sent whole once it holds this many rows too many
CARD_FIELDS = ("kind", "status", "reasons", "cpu", "memory", "disk", "responseTime",
               "errorRate", "dependsOn")

CardRenderer = Callable[[str, Mapping[str, Any]], Any]


def live_keys(figure: go.Figure | Mapping[str, Any]) -> list[str | None]:
    """Series key of each trace in figure order, None for bands and markers (keep in a Store)."""
    data = figure.data if isinstance(figure, go.Figure) else figure.get("data", [])
    out: list[str | None] = []
    for trace in data:
        meta = trace.get("meta") if isinstance(trace, Mapping) else getattr(trace, "meta", None)
        is_series = isinstance(meta, Mapping) and meta.get("role") == "series"
        out.append(str(meta["key"]) if is_series and meta is not None else None)
    return out


def live_window(frame: pd.DataFrame, window_s: float) -> tuple[pd.DataFrame, float | None]:
    """The rows a live figure starts with (the window ending at the newest row) and that row's ts.

    Build the figure from the returned frame with ``max_points >= len(frame)`` so it is not
    downsampled; keep the ts as ``last_ts`` for :func:`extend_patch`.
    """
    if frame.empty:
        return frame, None
    last = float(frame.index[-1])
    return frame[frame.index.to_numpy(dtype=np.float64) > last - window_s], last


def extend_patch(
    figure_meta_keys: Sequence[str | None], new_frame: pd.DataFrame, *, last_ts: float,
    window_s: float | None = None, max_deletes: int = MAX_DELETES,
) -> tuple[Patch | None, float]:
    """Append rows newer than ``last_ts`` to each series trace; trim what left the window.

    Returns ``(None, last_ts)`` when there is nothing new (the callback returns
    ``dash.no_update``), else the patch and the new ``last_ts``.
    """
    ts = new_frame.index.to_numpy(dtype=np.float64)
    if not bool((ts > last_ts).any()):
        return None, last_ts
    new_last = float(ts[ts > last_ts].max())
    patch = Patch()
    if window_s is None:
        fresh = ts > last_ts
        _extend_all(patch, figure_meta_keys, new_frame, fresh)
        return patch, new_last
    old_cut, new_cut = last_ts - window_s, new_last - window_s
    dropped = int(((ts > old_cut) & (ts <= min(last_ts, new_cut))).sum())
    if dropped > max_deletes:
        _assign_all(patch, figure_meta_keys, new_frame, (ts > new_cut) & (ts <= new_last))
        return patch, new_last
    for i, key in enumerate(figure_meta_keys):
        if key is None:
            continue
        for _ in range(dropped):
            del patch["data"][i]["x"][0]
            del patch["data"][i]["y"][0]
    _extend_all(patch, figure_meta_keys, new_frame, (ts > max(last_ts, new_cut)) & (ts <= new_last))
    return patch, new_last


def _extend_all(
    patch: Patch, keys: Sequence[str | None], frame: pd.DataFrame, rows: np.ndarray
) -> None:
    if not bool(rows.any()):
        return
    x = iso(frame.index.to_numpy(dtype=np.float64)[rows])
    for i, key in enumerate(keys):
        if key is not None:
            patch["data"][i]["x"].extend(x)
            patch["data"][i]["y"].extend(y_values(column(frame, key)[rows]))


def _assign_all(
    patch: Patch, keys: Sequence[str | None], frame: pd.DataFrame, rows: np.ndarray
) -> None:
    x = iso(frame.index.to_numpy(dtype=np.float64)[rows])
    for i, key in enumerate(keys):
        if key is not None:
            patch["data"][i]["x"] = x
            patch["data"][i]["y"] = y_values(column(frame, key)[rows])


def append_patch(
    trace_keys: Sequence[str | None], lengths: Sequence[int | None], frame: pd.DataFrame, *,
    last_ts: float, window_s: float | None, slack: int = SLACK_ROWS,
) -> tuple[Patch | None, list[int | None], float]:
    """Rows newer than ``last_ts`` written by Assign at absolute indexes, never Extend/Delete.

    ``trace_keys`` is :func:`live_keys` of the figure: traces with None (bands, anomaly markers,
    compare lines, whatever else a builder adds) are never touched. ``lengths`` are the points
    each series trace holds. Dash may send the next tick's request before the previous
    response's Store update landed, so a patch must give the same figure when applied on top of
    a stale one: index assignments do, extends and deletes duplicate or drop points. A rolling
    window is re-sent whole once it holds ``slack`` rows more than the window.
    Returns ``(None, lengths, last_ts)`` when nothing is new: the callback sends ``no_update``.
    """
    if len(trace_keys) != len(lengths):
        raise ValueError(f"{len(trace_keys)} trace keys but {len(lengths)} lengths: rebuild the "
                         "live state together with the figure")
    ts = frame.index.to_numpy(dtype=np.float64)
    fresh = ts > last_ts
    if not bool(fresh.any()):
        return None, list(lengths), last_ts
    new_last = float(ts[fresh].max())
    patch = Patch()
    if window_s is not None:
        keep = (ts > new_last - window_s) & (ts <= new_last)
        longest = max((n for n in lengths if n is not None), default=0)
        if longest + int(fresh.sum()) > int(keep.sum()) + slack:
            _assign_all(patch, trace_keys, frame, keep)
            n_keep = int(keep.sum())
            return patch, [n_keep if k is not None else None for k in trace_keys], new_last
    x = iso(ts[fresh])
    out: list[int | None] = []
    for i, (key, n) in enumerate(zip(trace_keys, lengths, strict=True)):
        if key is None or n is None:
            out.append(n)
            continue
        for j, (xv, yv) in enumerate(zip(x, y_values(column(frame, key)[fresh]), strict=True)):
            patch["data"][i]["x"][n + j] = xv
            patch["data"][i]["y"][n + j] = yv
        out.append(n + len(x))
    return patch, out, new_last


def trace_updates_patch(updates: Mapping[int, Mapping[str, list]]) -> Patch | None:
    """A Patch assigning new arrays per trace index (e.g. from ``resample_for_range``)."""
    if not updates:
        return None
    patch = Patch()
    for i, arrays in updates.items():
        for name, values in arrays.items():
            patch["data"][i][name] = values
    return patch


def relayout_range(
    relayout: Mapping[str, Any] | None,
) -> tuple[float | None, float | None] | None:
    """The x range a ``relayoutData`` event asks for; (None, None) on reset; None if not a zoom."""
    if not relayout:
        return None
    if relayout.get("xaxis.autorange") is True:
        return None, None
    pair = relayout.get("xaxis.range")
    if isinstance(pair, Sequence) and not isinstance(pair, str) and len(pair) == 2:
        return to_epoch(pair[0]), to_epoch(pair[1])
    if "xaxis.range[0]" in relayout and "xaxis.range[1]" in relayout:
        return to_epoch(relayout["xaxis.range[0]"]), to_epoch(relayout["xaxis.range[1]"])
    return None


def same_as_shown(new: Any, shown: Any) -> bool:
    """Whether components (or any JSON) equal what the page shows (a callback's State of the
    same property): then the callback answers ``no_update`` and the tick costs no bytes."""
    return bool(json.loads(json.dumps(new, cls=PlotlyJSONEncoder)) == shown)


def changed_cards(
    old_doc: Mapping[str, Any] | None, new_doc: Mapping[str, Any],
    fields: Sequence[str] = CARD_FIELDS,
) -> list[str]:
    """Services (in ``new_doc`` order) whose card fields differ from ``old_doc`` or are new."""
    old = (old_doc or {}).get("services", {})
    out = []
    for name, svc in new_doc.get("services", {}).items():
        before = old.get(name)
        if before is None or any(before.get(f) != svc.get(f) for f in fields):
            out.append(name)
    return out


def status_cards_patch(
    old_doc: Mapping[str, Any] | None, new_doc: Mapping[str, Any], *, render: CardRenderer,
    fields: Sequence[str] = CARD_FIELDS,
) -> Patch | None:
    """Patch for a grid whose children are one card per service in document order.

    Only changed cards are re-rendered; if services were added, removed or reordered the whole
    list is replaced (Clear + Extend). None when no card changed.
    """
    services = new_doc.get("services", {})
    names = list(services)
    patch = Patch()
    if old_doc is None or list(old_doc.get("services", {})) != names:
        patch.clear()
        patch.extend([render(n, services[n]) for n in names])
        return patch
    changed = changed_cards(old_doc, new_doc, fields)
    if not changed:
        return None
    for name in changed:
        patch[names.index(name)] = render(name, services[name])
    return patch
