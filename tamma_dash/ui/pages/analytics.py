"""Analytics: anomaly scores now, the anomaly timeline, each anomaly explained, root causes.

Follows the shared time range (``?range=`` or ``start=&end=``); refreshed on every tick, but
only when the analytics published something new.
"""

from __future__ import annotations

from typing import Any, cast

import dash
from dash import Input, Output, State, dcc, html

from tamma_dash.analytics.results import AnalyticsResults, ResultQueries
from tamma_dash.analytics.service import analytics_for
from tamma_dash.ui import analytics_view as av
from tamma_dash.ui import context
from tamma_dash.ui.a11y import aria
from tamma_dash.ui.timerange import parse_range, query_dict

GRAPH_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"filename": "anomaly_timeline"}}


def sections(q: ResultQueries, r: AnalyticsResults, query: dict[str, str], now: float,
             theme: str) -> tuple[Any, Any, Any, Any, Any, str]:
    """Hint, status line, scores, timeline figure, anomaly list and the timeline's text."""
    tr = parse_range(query, now)
    events = q.events(tr.start, tr.end)
    names = [s.name for s in context.runtime().services]
    fig = av.timeline_figure(events, names, tr.start, tr.end, theme)
    text = (f"{len(events)} anomalies between {av.utc(tr.start)} and {av.utc(tr.end)}: "
            + "; ".join(f"{e.service} at {av.utc(e.start, '%H:%M:%S')}" for e in events[-10:]))
    return (av.root_cause_hint(r.hint), av.status_line(r.fitted, r.problems, now),
            av.scores_table(r.service_scores, [e.service for e in events if e.end is None]),
            fig, av.event_list(events, now), text)


def layout(**query: str) -> Any:
    now = context.now()
    q = analytics_for(context.runtime())
    r = q.results()
    hint, status, scores, fig, events, text = sections(q, r, dict(query), now, "light")
    return html.Div([
        html.H1("Analytics", className="h4 mb-2"),
        html.Div(hint, id="analytics-hint"),
        html.P(status, id="analytics-status", className="small text-body-secondary"),
        html.Section([html.H2("Anomaly score now", className="h5 mt-3"),
                      html.Div(scores, id="analytics-scores")], **aria("Anomaly scores")),
        html.Section([
            html.H2("Anomaly timeline", className="h5 mt-4"),
            html.P("Bars span each anomaly; a marker's size is its peak score. Select a "
                   "marker to open the service at that moment.", className="small"),
            html.P(text, className="visually-hidden", id="timeline-text"),
            dcc.Graph(id="anomaly-timeline", figure=fig, config=cast(Any, GRAPH_CONFIG)),
        ], **aria("Anomaly timeline")),
        html.Section([html.H2("What was unusual, and why", className="h5 mt-4"),
                      html.Div(events, id="analytics-events")], **aria("Anomalies explained")),
        dcc.Store(id="analytics-seen", data=r.generated_at),
    ])


@dash.callback(
    Output("analytics-hint", "children"), Output("analytics-status", "children"),
    Output("analytics-scores", "children"), Output("anomaly-timeline", "figure"),
    Output("analytics-events", "children"), Output("timeline-text", "children"),
    Output("analytics-seen", "data"),
    Input("tick", "data"), Input("theme", "data"), State("url", "search"),
    State("analytics-seen", "data"), prevent_initial_call=True,
)
def refresh(_tick: Any, theme: str | None, search: str | None, seen: float | None) -> Any:
    """Everything again when analytics published new results (or the theme changed)."""
    q = analytics_for(context.runtime())
    r = q.results()
    if r.generated_at == seen and dash.ctx.triggered_id == "tick":
        return (dash.no_update,) * 7
    parts = sections(q, r, query_dict(search), context.now(), theme or "light")
    return (*parts, r.generated_at)


@dash.callback(Output("url", "href", allow_duplicate=True),
               Input("anomaly-timeline", "clickData"), prevent_initial_call=True)
def open_moment(click: dict[str, Any] | None) -> Any:
    """A click on an anomaly marker opens its service at that moment."""
    points = (click or {}).get("points") or []
    data = points[0].get("customdata") if points else None
    return data[0] if isinstance(data, list) and data else dash.no_update


dash.register_page(__name__, path="/analytics", name="Analytics", title="tamma-dash · analytics",
                   layout=layout)
