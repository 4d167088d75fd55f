"""Analytics page parts and the root-cause hint: plain functions of analytics results.

Scores in numbers and words, an anomaly timeline (one row of markers per service), each
anomaly's explanation (which metrics, how far from their baseline) with a link to the service
at that moment, and the one-line root-cause hint the overview and the alert groups show.
Everything a monitored service reported is rendered as text, never as HTML.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from tamma_dash.analytics.events import AnomalyEvent, DriverInfo
from tamma_dash.analytics.hints import RootCauseHint
from tamma_dash.models import M, Status
from tamma_dash.ui.alert_groups import cause_href, cause_label
from tamma_dash.ui.downsample import iso
from tamma_dash.ui.format import fmt_duration, format_value, metric_label, metric_unit
from tamma_dash.ui.plotfig import figure
from tamma_dash.ui.theme import palette, template

LEVELS = ((0.95, "anomalous"), (0.8, "very unusual"), (0.5, "unusual"), (0.0, "normal"))
LEVEL_COLOURS = {"anomalous": "danger", "very unusual": "warning", "unusual": "info",
                 "normal": "success"}
LIGHT_BACKGROUNDS = {"info", "warning"}  # white text on these fails WCAG AA contrast (1.9:1)


def score_words(score: float | None) -> str:
    """0..1 in words: normal, unusual (0.5), very unusual (0.8), anomalous (0.95)."""
    if score is None or not math.isfinite(score):
        return "not scored yet"
    return next(word for floor, word in LEVELS if score >= floor)


def utc(ts: float, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime(fmt) + " UTC"


def service_link(service: str, ts: float | None = None) -> str:
    """``/service/<name>``, centred on ``ts`` when given (the page shows t ± 15 min)."""
    return f"/service/{service}" + (f"?t={ts:.0f}" if ts is not None else "")


def level_badge(word: str, className: str | None = None) -> Any:
    """A score's word on its colour, with dark text where white would be unreadable."""
    colour = LEVEL_COLOURS[word]
    return dbc.Badge(word, color=colour, className=className,
                     text_color="dark" if colour in LIGHT_BACKGROUNDS else None)


def scores_table(scores: Mapping[str, float], open_services: Sequence[str] = ()) -> Any:
    """Each service's anomaly score now, in numbers and words, worst first."""
    if not scores:
        return html.P("No service has been scored yet: models are fitted in the background "
                      "once there is enough history.", className="text-body-secondary")
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in
                               ("Service", "Score (0–1)", "Means", "Open anomaly")]))
    rows = []
    for name, score in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0])):
        word = score_words(score)
        rows.append(html.Tr([
            html.Th(dcc.Link(name, href=service_link(name)), scope="row"),
            html.Td(f"{score:.2f}"),
            html.Td(level_badge(word)),
            html.Td("yes" if name in open_services else "no"),
        ]))
    return dbc.Table([html.Caption("Anomaly score per service, this tick"), head,
                      html.Tbody(rows)], size="sm", hover=True, responsive=True, id="score-table")


def timeline_figure(events: Sequence[AnomalyEvent], services: Sequence[str], start: float,
                    end: float, theme: str = "light") -> go.Figure:
    """Per service, a bar from each anomaly's start to its end and a marker at its start."""
    p = palette(theme)
    rows = sorted(set(services) | {e.service for e in events})
    data: list[dict[str, Any]] = []
    for i, name in enumerate(rows):
        mine = [e for e in events if e.service == name]
        if not mine:
            continue
        colour = p.series[i % len(p.series)]
        xs: list[Any] = []
        for e in mine:
            xs += [*iso([e.start, e.end if e.end is not None else end]), None]
        data.append(dict(type="scatter", x=xs, y=[name if x is not None else None for x in xs],
                         mode="lines", line=dict(color=colour, width=6), hoverinfo="skip",
                         showlegend=False, meta={"role": "span", "service": name}))
        data.append(dict(
            type="scatter", x=iso([e.start for e in mine]), y=[name] * len(mine),
            mode="markers", name=name, marker=dict(size=[8 + 10 * e.score for e in mine],
                                                   color=colour, line=dict(width=1)),
            customdata=[[service_link(name, e.detected), e.score, explain(e)] for e in mine],
            hovertemplate="%{y}: score %{customdata[1]:.2f}<br>%{customdata[2]}<extra></extra>",
            meta={"role": "anomaly", "service": name},
        ))
    layout = dict(
        template=template(theme), height=max(220, 40 * len(rows) + 80), showlegend=False,
        xaxis=dict(type="date", range=iso([start, end]), title=dict(text="time (UTC)")),
        yaxis=dict(categoryorder="array", categoryarray=rows[::-1], type="category"),
        margin=dict(l=110, r=20, t=20, b=50),
    )
    return figure(data, layout)


FAR_BAND_WIDTHS = 1000.0  # beyond this the band was (nearly) flat: a count of widths means nothing


def driver_text(d: DriverInfo) -> str:
    """'db_pool_waiting 14 (usually 0), 7.0 band widths above normal'; 'status down (usually
    healthy), far above its normal band, which is flat'."""
    side = "above" if d.distance > 0 else "below"
    if d.distance == 0 or not math.isfinite(d.distance):
        where = "inside its normal band"
    elif abs(d.distance) >= FAR_BAND_WIDTHS:
        where = f"far {side} its normal band, which is flat"
    else:
        where = f"{abs(d.distance):.1f} band widths {side} normal"
    label = "" if d.metric == M.UP else f"{metric_label(d.metric)} "  # "not answering" says it
    return f"{label}{_value_text(d.metric, d.value)} " \
           f"(usually {_value_text(d.metric, d.baseline)}), {where}"


def _value_text(metric: str, value: float) -> str:
    """A value in words where the number is a code: status 2 is 'down', up 0 'not answering'."""
    if metric == M.STATUS and value in tuple(Status):
        return Status(int(value)).word
    if metric == M.UP and value in (0.0, 1.0):
        return "answering" if value else "not answering"
    return format_value(value, metric_unit(metric))


def explain(event: AnomalyEvent) -> str:
    """The event's drivers in one line (or why there are none)."""
    if not event.drivers:
        return "the combination of its metrics was unusual, none alone"
    return "; ".join(driver_text(d) for d in event.drivers[:3])


def event_card(event: AnomalyEvent, now: float) -> Any:
    """One anomaly: when, how long, how strong, what drove it, and a link to that moment."""
    lasting = (f"for {fmt_duration((event.end or now) - event.start)}"
               + (" so far" if event.end is None else ""))
    drivers = (html.Ul([html.Li(driver_text(d)) for d in event.drivers]) if event.drivers else
               html.P(explain(event), className="mb-0"))
    return dbc.ListGroupItem([
        html.Div([
            html.H3([event.service, " ", level_badge(score_words(event.score), className="ms-1")],
                    className="h6 mb-1"),
            dcc.Link("Open the service at that moment", href=service_link(event.service,
                                                                           event.detected)),
        ], className="d-flex justify-content-between flex-wrap gap-2"),
        html.P(f"Since {utc(event.start)} {lasting}; peak score {event.score:.2f}.",
               className="small mb-1"),
        drivers,
    ])


def event_list(events: Sequence[AnomalyEvent], now: float, limit: int = 30) -> Any:
    """The newest anomalies first, each explained."""
    if not events:
        return html.P("No anomalies in this time range.", className="text-body-secondary")
    newest = sorted(events, key=lambda e: -e.start)[:limit]
    return dbc.ListGroup([event_card(e, now) for e in newest], id="anomaly-list")


def root_cause_hint(hint: RootCauseHint | Mapping[str, Any] | None) -> Any:
    """The one-line hint ('api degraded; likely cause: database pool exhausted, since …') with
    a link to the likely cause, or None when there is nothing to say."""
    if hint is None:
        return None
    if not isinstance(hint, RootCauseHint):
        hint = RootCauseHint.from_dict(hint)
    return html.Div([
        html.Strong("Root-cause hint: "), hint.text(), " ",
        dcc.Link(cause_label(hint), href=cause_href(hint), className="alert-link"),
    ], className="alert alert-warning py-2 mb-2 root-cause-hint", role="status")


def fleet_hint(rt: Any) -> Any:
    """The running fleet's root-cause hint component (None when there is none)."""
    from tamma_dash.analytics.service import analytics_for

    return root_cause_hint(analytics_for(rt).root_cause())


def status_line(fitted: Mapping[str, float], problems: Sequence[str], now: float) -> str:
    """How fresh the models are, or what keeps analytics from working."""
    if problems:
        return " ".join(problems)
    if not fitted:
        return "Fitting models in the background; scores appear within a minute."
    newest = max(fitted.values())
    return (f"Models for {len(fitted)} services, last fitted {fmt_duration(now - newest)} ago "
            f"({utc(newest, '%H:%M:%S')}).")
