"""The live-chart callbacks that every page built from ``service_view`` charts shares.

A page lays out its charts with :func:`tamma_dash.ui.service_view.chart_panel` (ids
``{"type": "chart" | "chart-reset" | "chart-text", "page", "chart"}``) and keeps the state
from :func:`~tamma_dash.ui.service_view.build_figures` in a ``dcc.Store``; then one call,
``register_live_charts(PAGE, "<page>-live")`` at import, wires ticks (only new points, by
:func:`tamma_dash.ui.live.append_patch`; nothing when nothing is new), zoom, 'Reset zoom',
theme redraws and the charts' text alternatives. The logic is in plain functions; the
callbacks only pass what Dash hands them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dash
from dash import ALL, Input, Output, State, ctx

from tamma_dash.ui import context
from tamma_dash.ui import service_view as sv

Now = Callable[[], float]
_registered: set[str] = set()


def chart_id(page: str, kind: str = "chart") -> dict[str, Any]:
    """The pattern id of every ``kind`` component (chart, chart-reset, chart-text) of ``page``."""
    return {"type": kind, "page": page, "chart": ALL}


def text_updates(tick: Mapping[str, Any] | None, state: Mapping[str, Any],
                 groups: Sequence[str], frame_fn: sv.FrameFn) -> list[Any]:
    """Fresh text alternatives every ``DESCRIBE_EVERY`` ticks, else ``no_update`` for each."""
    if int((tick or {}).get("seq", 0)) % sv.DESCRIBE_EVERY:
        return [dash.no_update] * len(groups)
    return sv.describe_all(state, groups, frame_fn)


def register_live_charts(page: str, store_id: str, *, frame_fn: sv.FrameFn = context.frame,
                         now: Now = context.now) -> None:
    """Wire ``page``'s charts to ticks, theme, zoom and reset; once per page and process."""
    if page in _registered:
        return
    _registered.add(page)

    @dash.callback(
        Output(chart_id(page), "figure"), Output(store_id, "data"),
        Input("tick", "data"), Input("theme", "data"),
        Input(chart_id(page), "relayoutData"), Input(chart_id(page, "chart-reset"), "n_clicks"),
        State(store_id, "data"), State(chart_id(page), "id"),
    )
    def refresh_charts(_tick: Any, theme: str | None, relayouts: list[Any], _resets: list[Any],
                       state: dict[str, Any], ids: list[dict[str, str]]) -> tuple[list[Any], Any]:
        """Ticks append, zooms resample, 'Reset zoom' resets, a theme change redraws."""
        return sv.dispatch(ctx.triggered_id, theme or "light", relayouts, state,
                           [i["chart"] for i in ids], frame_fn, now())

    @dash.callback(
        Output(chart_id(page, "chart-text"), "children"),
        Input("tick", "data"), State(store_id, "data"), State(chart_id(page, "chart-text"), "id"),
        prevent_initial_call=True,
    )
    def refresh_texts(tick: Any, state: dict[str, Any], ids: list[dict[str, str]]) -> list[Any]:
        """The charts' text alternatives, about once a minute."""
        return text_updates(tick, state, [i["chart"] for i in ids], frame_fn)
