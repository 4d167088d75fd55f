"""Overview: KPIs, the status grid, the dependency map and the active alerts, live every tick."""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import ALL, Input, Output, State, dcc, html

from tamma_dash.ui import context
from tamma_dash.ui.a11y import aria
from tamma_dash.ui.alerts_view import alert_counts, marker_text
from tamma_dash.ui.analytics_view import fleet_hint
from tamma_dash.ui.depmap import dependency_figure
from tamma_dash.ui.live import extend_patch
from tamma_dash.ui.overview_view import (
    alerts_panel,
    card_class,
    kpi_row,
    service_card,
    spark_key,
    spark_label,
    status_cards,
)
from tamma_dash.ui.sparkline import describe_series, sparkline_figure

SPARK_WINDOW_S = 3600.0


def layout(**_: Any) -> Any:
    doc = context.snapshot()
    theme = "light"
    now = context.now()
    return html.Div([
        html.H1("System health", className="h4 mb-3"),
        html.Div(fleet_hint(context.runtime()), id="root-cause-hint"),
        html.Div(kpi_row(doc), id="kpis"),
        dbc.Row([
            dbc.Col(html.Section([
                html.H2("Services", className="h5 mt-4"),
                dbc.Row(status_cards(doc, spark_components(sparklines(doc, now, theme))),
                        className="g-3", id="status-grid"),
            ], **aria("Service status")), xs=12, xl=8),
            dbc.Col([
                html.Section([
                    html.H2("Active alerts", className="h5 mt-4", id="alerts"),
                    html.Div(alerts_panel(doc.get("alerts", [])), id="alerts-panel"),
                ]),
                html.Section([
                    html.H2("Dependency map", className="h5 mt-4"),
                    html.P("Select a service to open it. Services drawn with a ring depend on "
                           "something that is failing.", className="small text-body-secondary"),
                    html.P(depmap_text(doc), className="visually-hidden", id="depmap-text"),
                    dcc.Graph(id="depmap", figure=depmap(doc, theme),
                              config={"displaylogo": False, "displayModeBar": False},
                              responsive=True),
                ], **aria("Dependency map")),
            ], xs=12, xl=4),
        ]),
        dcc.Store(id="overview-last", data={"ts": now, "statuses": map_state(doc)}),
    ])


def statuses(doc: dict[str, Any]) -> dict[str, str]:
    return {name: s["status"] for name, s in doc["services"].items()}


def alert_numbers(doc: dict[str, Any]) -> dict[str, int]:
    """Firing and acknowledged alerts per service (the map's rings and labels)."""
    return {name: len(found) for name, found in alert_counts(doc.get("alerts", [])).items()}


def map_state(doc: dict[str, Any]) -> dict[str, Any]:
    """What the map shows: when it changes, the map is redrawn."""
    return {"status": statuses(doc), "alerts": alert_numbers(doc)}


def depmap(doc: dict[str, Any], theme: str) -> Any:
    return dependency_figure(context.runtime().services, statuses(doc), theme=theme,
                             alerts=alert_numbers(doc))


def depmap_text(doc: dict[str, Any]) -> str:
    counts = alert_numbers(doc)
    parts = [f"{name} {s['status']}" + (f", {marker_text(counts[name])}" if counts.get(name)
                                        else "")
             + (f", depends on {', '.join(s['dependsOn'])}" if s["dependsOn"] else "")
             for name, s in doc["services"].items()]
    return "Dependency map: " + "; ".join(parts) + "."


def sparklines(doc: dict[str, Any], now: float, theme: str) -> dict[str, tuple[str, Any]]:
    """Per service: a text alternative and a sparkline figure of the last hour."""
    keys = [spark_key(name, s["kind"]) for name, s in doc["services"].items()]
    frame = context.frame(keys, now - SPARK_WINDOW_S, now)
    out = {}
    for (name, svc), key in zip(doc["services"].items(), keys, strict=True):
        values = frame[key].to_numpy() if key in frame else np.array([])
        ts = frame.index.to_numpy(dtype=np.float64)
        what, unit = spark_label(svc["kind"])
        label = describe_series(f"{name} {what}", values, unit)
        fig = sparkline_figure(ts, values, status=svc["status"], theme=theme,
                               max_points=len(ts) + 1)
        out[name] = (label, fig)
    return out


def spark_components(sparks: dict[str, tuple[str, Any]]) -> dict[str, Any]:
    return {name: html.Div([
        html.P(label, className="visually-hidden", id={"type": "spark-text", "service": name}),
        dcc.Graph(id={"type": "spark", "service": name}, figure=fig,
                  config={"displayModeBar": False}, className="px-2", style={"height": "48px"}),
    ]) for name, (label, fig) in sparks.items()}


@dash.callback(
    Output("kpis", "children"), Output({"type": "card-body", "service": ALL}, "children"),
    Output({"type": "card", "service": ALL}, "className"), Output("alerts-panel", "children"),
    Input("tick", "data"), State({"type": "card-body", "service": ALL}, "id"),
    prevent_initial_call=True,
)
def refresh_cards(_: Any, ids: list[dict[str, str]]) -> tuple[Any, list[Any], list[Any], Any]:
    """KPIs, card texts, card status classes and alerts from the newest snapshot (a few kB)."""
    doc = context.snapshot()
    services = doc["services"]
    by_service = alert_counts(doc.get("alerts", []))
    bodies = [service_card(i["service"], services[i["service"]], by_service.get(i["service"], ()))
              if i["service"] in services else dash.no_update for i in ids]
    classes = [card_class(services[i["service"]]["status"]) if i["service"] in services
               else dash.no_update for i in ids]
    return kpi_row(doc), bodies, classes, alerts_panel(doc.get("alerts", []))


@dash.callback(
    Output({"type": "spark", "service": ALL}, "figure"), Output("depmap", "figure"),
    Output("depmap-text", "children"), Output("overview-last", "data"),
    Input("tick", "data"), Input("theme", "data"),
    State({"type": "spark", "service": ALL}, "id"), State("overview-last", "data"),
    prevent_initial_call=True,
)
def refresh_figures(_: Any, theme: str, ids: list[dict[str, str]],
                    last: dict[str, Any]) -> tuple[list[Any], Any, Any, Any]:
    """Sparklines get only their new points; the map is redrawn only when a status changed."""
    doc = context.snapshot()
    now = context.now()
    if dash.ctx.triggered_id == "theme":
        sparks = sparklines(doc, now, theme)
        figs = [sparks[i["service"]][1] if i["service"] in sparks else dash.no_update
                for i in ids]
        return figs, depmap(doc, theme), depmap_text(doc), {"ts": now, "statuses": map_state(doc)}
    kinds = {name: s["kind"] for name, s in doc["services"].items()}
    keys = [spark_key(i["service"], kinds.get(i["service"], "")) for i in ids]
    frame = context.frame(keys, float(last["ts"]) - 1.0, now)
    patches: list[Any] = []
    new_ts = float(last["ts"])
    for key in keys:
        patch, ts = extend_patch([key], frame[[key]] if key in frame else frame.iloc[:, :0],
                                 last_ts=float(last["ts"]), window_s=SPARK_WINDOW_S)
        patches.append(patch if patch is not None else dash.no_update)
        new_ts = max(new_ts, ts)
    current = map_state(doc)
    if current == last.get("statuses"):
        return patches, dash.no_update, dash.no_update, {"ts": new_ts, "statuses": current}
    return patches, depmap(doc, theme), depmap_text(doc), {"ts": new_ts, "statuses": current}


@dash.callback(Output("root-cause-hint", "children"), Input("tick", "data"),
               prevent_initial_call=True)
def refresh_hint(_: Any) -> Any:
    """The root-cause hint from the analytics, when several services are unusual."""
    return fleet_hint(context.runtime())


@dash.callback(
    Output("url", "pathname", allow_duplicate=True), Input("depmap", "clickData"),
    prevent_initial_call=True,
)
def open_service(click: dict[str, Any] | None) -> Any:
    """A click on a map node opens that service's page."""
    points = (click or {}).get("points") or []
    name = points[0].get("customdata") if points else None
    if isinstance(name, list):
        name = name[0] if name else None
    return f"/service/{name}" if name else dash.no_update


dash.register_page(__name__, path="/", name="Overview", title="tamma-dash · overview", order=0,
                   layout=layout)
