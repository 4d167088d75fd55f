"""One service over time: status and why, dependencies, health checks, and its live charts.

``/service/<name>?range=1h`` (or ``start=&end=``) follows the shared time range; ``?t=<epoch>``
(from an alert) centres t ± 15 min and marks that moment. The chart machinery lives in
:mod:`tamma_dash.ui.service_view`; the builders here are plain functions of their inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, dcc, html

from tamma_dash.config import ServiceConfig
from tamma_dash.models import Status, split_key
from tamma_dash.store.base import Latest
from tamma_dash.ui import context
from tamma_dash.ui import service_view as sv
from tamma_dash.ui.a11y import aria
from tamma_dash.ui.export_server import export_page_controls
from tamma_dash.ui.format import fmt_relative, format_value
from tamma_dash.ui.live_charts import register_live_charts
from tamma_dash.ui.theme import status_icon

PAGE = "service"
CHECK_PREFIX = "check:"
BADGE_COLOURS = {"healthy": "success", "degraded": "warning", "down": "danger",
                 "unknown": "secondary"}
CHART = {"type": "chart", "page": PAGE, "chart": ALL}


@dataclass(frozen=True)
class CheckRow:
    """One health check as the service last reported it."""

    name: str
    value: float
    unit: str
    status: str  # healthy | degraded | down | unknown
    reported: str  # the service's own word (pass, warn, fail) or ''
    time: str  # the check's own time, else when we stored it (ISO 8601 UTC)
    ts: float
    component_type: str


def health_check_rows(service: str, latest: Mapping[str, Latest]) -> list[CheckRow]:
    """The service's ``check:*`` series, sorted by name, with unit, status and time labels."""
    rows = []
    for key, point in latest.items():
        owner, metric = split_key(key)
        if owner != service or not metric.startswith(CHECK_PREFIX):
            continue
        labels = dict(point.labels)
        reported = labels.get("status", "")
        stamp = datetime.fromtimestamp(point.ts, tz=UTC).isoformat(timespec="seconds")
        rows.append(CheckRow(
            name=metric.removeprefix(CHECK_PREFIX), value=point.value, unit=labels.get("unit", ""),
            status=Status.from_health(reported).word if reported else "unknown",
            reported=reported, time=labels.get("time") or stamp.replace("+00:00", "Z"),
            ts=point.ts, component_type=labels.get("component_type", ""),
        ))
    return sorted(rows, key=lambda r: r.name)


def checks_table(rows: Sequence[CheckRow], now: float) -> Any:
    """The health checks as a table (status as icon + word), or a sentence when there are none."""
    if not rows:
        return html.P("This service reports no health checks beyond its status.",
                      className="text-body-secondary")
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in
                               ("Check", "Observed value", "Status", "Time", "Component")]))
    body = html.Tbody([html.Tr([
        html.Th(r.name, scope="row"),
        html.Td(format_value(r.value, r.unit)),
        html.Td(f"{status_icon(r.status)} {r.reported or r.status}",
                className=f"status-{r.status}"),
        html.Td([r.time, html.Span(f" ({fmt_relative(r.ts, now)})",
                                   className="text-body-secondary")]),
        html.Td(r.component_type or "–"),
    ]) for r in rows])
    return dbc.Table([html.Caption("Health checks, as last reported"), head, body],
                     size="sm", hover=True, responsive=True, className="mb-0")


def status_header(name: str, svc: Mapping[str, Any]) -> Any:
    """Name, status as icon + word + colour, and the reasons as plain text."""
    status = str(svc.get("status", "unknown"))
    reasons = [str(r) for r in svc.get("reasons") or []]
    badge = dbc.Badge(f"{status_icon(status)} {status}", color=BADGE_COLOURS.get(status,
                      "secondary"), text_color="dark" if status == "degraded" else None,
                      className="fs-6 ms-2 align-middle")
    why = (html.Ul([html.Li(r) for r in reasons], className="mb-0") if reasons
           else html.P("No problems reported.", className="mb-0"))
    return html.Div([
        html.H1([name, badge], className="h4 mb-1"),
        html.P(f"Kind: {svc.get('kind', 'unknown')}", className="small text-body-secondary mb-1"),
        why,
    ])


def dependencies(name: str, services: Sequence[ServiceConfig]) -> tuple[list[str], list[str]]:
    """(what ``name`` depends on, what depends on ``name``), in config order."""
    own = next((s for s in services if s.name == name), None)
    uses = list(own.depends_on) if own is not None else []
    return uses, [s.name for s in services if name in s.depends_on]


def service_links(names: Sequence[str], statuses: Mapping[str, str], empty: str) -> Any:
    """Links to services, each with its status icon and word."""
    if not names:
        return html.P(empty, className="mb-0 text-body-secondary")
    return html.Ul([html.Li(dcc.Link(
        f"{n} ({status_icon(statuses.get(n, 'unknown'))} {statuses.get(n, 'unknown')})",
        href=f"/service/{n}")) for n in names], className="list-inline mb-0 service-links")


def unknown_service(name: str | None, known: Sequence[str]) -> Any:
    """What an unknown (or missing) service name shows: the problem and where to go instead."""
    what = f"There is no service named “{name}”." if name else "No service was named."
    return dbc.Alert([
        html.H1("Service not found", className="h5"),
        html.P(f"{what} Pick one of the known services:"),
        html.Ul([html.Li(dcc.Link(n, href=f"/service/{n}")) for n in known]) if known
        else html.P("No services are configured yet; check the configuration file."),
    ], color="warning")


def header_parts(name: str, doc: Mapping[str, Any], services: Sequence[ServiceConfig],
                 latest: Mapping[str, Latest], now: float) -> list[Any]:
    """Status header, dependency links and the checks table for the newest snapshot."""
    statuses = {n: s["status"] for n, s in doc["services"].items()}
    uses, used_by = dependencies(name, services)
    return [
        status_header(name, doc["services"][name]),
        dbc.Row([
            dbc.Col([html.H2("Depends on", className="h6"),
                     service_links(uses, statuses, "Nothing.")], xs=12, md=6),
            dbc.Col([html.H2("Depended on by", className="h6"),
                     service_links(used_by, statuses, "Nothing.")], xs=12, md=6),
        ], className="g-2 mt-2"),
        checks_table(health_check_rows(name, latest), now),
    ]


def page_charts(name: str, kind: str, series: Sequence[str]) -> tuple[list[sv.Chart], list[str]]:
    """Charts with data for this service, and the titles of those it does not report."""
    shown, missing = sv.split_present(sv.chart_specs(kind), [name], set(series))
    return sv.resolve(shown, [name]), [s.title for s in missing]


def layout(name: str | None = None, **query: str) -> Any:
    """The page for ``name`` (query: range, start/end or t); a message for an unknown name."""
    rt = context.runtime()
    doc = context.snapshot()
    if name is None or name not in doc["services"]:
        return unknown_service(name, list(doc["services"]))
    now = context.now()
    charts, missing = page_charts(name, doc["services"][name]["kind"], context.series())
    plan = sv.plan_view(query, now, rt.settings.interval_s)
    frame, last = sv.initial_frame(context.frame, [k for c in charts for k in c.keys], plan, now)
    figures, state = sv.build_figures(frame, charts, plan, "light", last)
    state["service"] = name
    panels = [sv.chart_panel(PAGE, c, figures[c.group], sv.describe_chart(frame, c),
                             sv.chart_filename(c, plan)) for c in charts]
    note = (html.P("Not reported by this service: " + ", ".join(missing) + ".",
                   className="small text-body-secondary") if missing else None)
    return html.Div([
        html.Section(header_parts(name, doc, rt.services, context.latest(), now),
                     id="service-header", **aria(f"{name} status and health checks")),
        html.Div([html.H2("History", className="h5 m-0"), export_page_controls(PAGE)],
                 className="d-flex flex-wrap justify-content-between align-items-center mt-4"),
        moment_note(name, plan), note,
        dbc.Row(panels, className="g-3"),
        dcc.Store(id="service-live", data=state),
    ])


def moment_note(name: str, plan: sv.Plan) -> Any:
    """Says which moment the dashed line marks, with a way back to the live view."""
    if plan.marker is None:
        return None
    when = datetime.fromtimestamp(plan.marker, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return html.P([f"Showing 15 minutes either side of {when} (the dashed line). ",
                   dcc.Link("Back to the live view", href=f"/service/{name}")], className="small")


register_live_charts(PAGE, "service-live")


@dash.callback(
    Output("service-header", "children"), Input("tick", "data"), State("service-live", "data"),
    prevent_initial_call=True,
)
def refresh_header(_tick: Any, state: dict[str, Any]) -> Any:
    """Status, dependencies and checks from the newest snapshot."""
    name = state.get("service")
    doc = context.snapshot()
    if not isinstance(name, str) or name not in doc["services"]:
        return dash.no_update
    return header_parts(name, doc, context.runtime().services, context.latest(), context.now())


def title(name: str | None = None, **_: Any) -> str:
    """The browser tab names the service, so several open tabs stay apart."""
    return f"tamma-dash · {name or 'service'}"


dash.register_page(__name__, path_template="/service/<name>", name="Service", title=title,
                   order=1, layout=layout)
