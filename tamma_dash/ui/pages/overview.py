"""Overview: KPIs, the status grid, the dependency map and the active alerts, live every tick."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import dash
import dash_bootstrap_components as dbc
import numpy as np
import plotly.graph_objects as go
from dash import ALL, ClientsideFunction, Input, Output, State, dcc, html

from tamma_dash.ui import context
from tamma_dash.ui.a11y import aria
from tamma_dash.ui.alerts_view import alert_counts
from tamma_dash.ui.analytics_view import fleet_hint
from tamma_dash.ui.depmap import dependency_figure
from tamma_dash.ui.downsample import column
from tamma_dash.ui.live import CARD_FIELDS, same_as_shown
from tamma_dash.ui.overview_view import (
    alerts_panel,
    card_class,
    kpi_row,
    kpis,
    service_card,
    spark_key,
    spark_label,
    status_cards,
)
from tamma_dash.ui.sparkline import (
    describe_series,
    spark_store,
    sparkline_figure,
    sparkline_update,
)
from tamma_dash.ui.theme import alert_count_text

SPARK_WINDOW_S = 3600.0


def layout(**_: Any) -> Any:
    doc = context.snapshot()
    theme = "light"
    now = context.now()
    sparks = sparklines(doc, now, theme)
    return html.Div([
        html.H1("System health", className="h4 mb-3"),
        html.Div(fleet_hint(context.runtime()), id="root-cause-hint"),
        html.Div(kpi_row(doc), id="kpis"),
        dbc.Row([
            dbc.Col(html.Section([
                html.H2("Services", className="h5 mt-4"),
                dbc.Row(status_cards(doc, spark_components(sparks)),
                        className="g-3", id="status-grid"),
            ], **aria("Service status")), xs=12, xl=8),
            dbc.Col([
                html.Section([
                    html.H2("Active alerts", className="h5 mt-4", id="alerts"),
                    html.Div(alerts_panel(doc.get("alerts", [])), id="alerts-panel"),
                ]),
                html.Section([
                    html.H2("Dependency map", className="h5 mt-4"),
                    html.P("Select a service to open it. A ring marks a service with active "
                           "alerts; \"at risk\" marks one that depends on something failing.",
                           className="small text-body-secondary"),
                    html.P(depmap_text(doc), className="visually-hidden", id="depmap-text"),
                    dcc.Graph(id="depmap", figure=depmap(doc, theme),
                              config={"displaylogo": False, "displayModeBar": False},
                              responsive=True),
                ], **aria("Dependency map")),
            ], xs=12, xl=4),
        ]),
        dcc.Store(id="overview-last", data=last_state(doc, now, sparks)),
        dcc.Store(id="cards-last", data=card_digests(doc)),
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
    parts = [f"{name} {s['status']}" + (f", {alert_count_text(counts[name])}" if counts.get(name)
                                        else "")
             + (f", depends on {', '.join(s['dependsOn'])}" if s["dependsOn"] else "")
             for name, s in doc["services"].items()]
    return "Dependency map: " + "; ".join(parts) + "."


def sparklines(doc: dict[str, Any], now: float, theme: str) -> dict[str, tuple[str, Any]]:
    """Per service: a text alternative and a sparkline figure of the last hour (downsampled)."""
    keys = [spark_key(name, s["kind"]) for name, s in doc["services"].items()]
    frame = context.frame(keys, now - SPARK_WINDOW_S, now)
    ts = frame.index.to_numpy(dtype=np.float64)
    end = float(ts[-1]) if len(ts) else now
    out = {}
    for (name, svc), key in zip(doc["services"].items(), keys, strict=True):
        values = column(frame, key)
        what, unit = spark_label(svc["kind"])
        label = describe_series(f"{name} {what}", values, unit)
        fig = sparkline_figure(ts, values, status=svc["status"], theme=theme,
                               window=(end - SPARK_WINDOW_S, end))
        out[name] = (label, fig)
    return out


def last_state(doc: dict[str, Any], now: float, sparks: dict[str, tuple[str, Any]],
               ) -> dict[str, Any]:
    """What the next tick's update starts from: newest row, map state, points per sparkline."""
    return {"ts": now, "statuses": map_state(doc),
            "n": {name: len(fig.data[0].x) for name, (_, fig) in sparks.items()}}


def spark_components(sparks: dict[str, tuple[str, Any]]) -> dict[str, Any]:
    """Per card: its sentence for screen readers, the line's data (a figure-shaped dict the
    ticks patch) and the image the browser draws it into (assets/sparkline.js)."""
    return {name: html.Div([
        html.P(label, className="visually-hidden", id={"type": "spark-text", "service": name}),
        dcc.Store(id={"type": "spark", "service": name}, data=spark_store(fig)),
        html.Img(id={"type": "spark-img", "service": name}, alt="", className="spark px-2"),
    ]) for name, (label, fig) in sparks.items()}


dash.clientside_callback(
    ClientsideFunction("tamma", "sparklines"),
    Output({"type": "spark-img", "service": ALL}, "src"),
    Output({"type": "spark-img", "service": ALL}, "data-newest"),
    Input({"type": "spark", "service": ALL}, "data"),
)


@dash.callback(
    Output("kpis", "children"), Output({"type": "card-body", "service": ALL}, "children"),
    Output({"type": "card", "service": ALL}, "className"), Output("alerts-panel", "children"),
    Output("cards-last", "data"), Output("root-cause-hint", "children"),
    Input("tick", "data"), State({"type": "card-body", "service": ALL}, "id"),
    State("cards-last", "data"), State("root-cause-hint", "children"),
    prevent_initial_call=True,
)
def refresh_cards(_: Any, ids: list[dict[str, str]], last: dict[str, Any] | None,
                  hint: Any = None) -> tuple[Any, list[Any], list[Any], Any, Any, Any]:
    """KPIs, card texts, card status classes, alerts and the root-cause hint: only what changed
    since ``last`` (one request per tick for all of them)."""
    doc = context.snapshot()
    services = doc["services"]
    by_service = alert_counts(doc.get("alerts", []))
    seen, now = last or {}, card_digests(doc)
    cards = seen.get("cards", {})

    def changed(name: str) -> bool:
        return name in services and cards.get(name) != now["cards"][name]

    bodies = [service_card(i["service"], services[i["service"]], by_service.get(i["service"], ()))
              if changed(i["service"]) else dash.no_update for i in ids]
    classes = [card_class(services[i["service"]]["status"]) if changed(i["service"])
               else dash.no_update for i in ids]
    kpis = kpi_row(doc) if seen.get("kpis") != now["kpis"] else dash.no_update
    panel = (alerts_panel(doc.get("alerts", [])) if seen.get("alerts") != now["alerts"]
             else dash.no_update)
    return (kpis, bodies, classes, panel, now if now != seen else dash.no_update,
            refresh_hint(None, hint))


def card_digests(doc: dict[str, Any]) -> dict[str, Any]:
    """Short digests of what the KPIs, each card and the alerts panel show (kept in a Store)."""
    alerts = alert_counts(doc.get("alerts", []))
    shown = [{k: a.get(k) for k in ("id", "service", "state", "severity", "summary", "name",
                                     "startsAtTs")} for a in doc.get("alerts", [])]
    return {"kpis": _digest(kpis(doc)), "alerts": _digest(shown),
            "cards": {name: _digest([[svc.get(f) for f in CARD_FIELDS],
                                     [a.get("id") for a in alerts.get(name, ())]])
                      for name, svc in doc["services"].items()}}


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


@dash.callback(
    Output({"type": "spark", "service": ALL}, "data"), Output("depmap", "figure"),
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
        figs = [spark_store(sparks[i["service"]][1]) if i["service"] in sparks
                else dash.no_update for i in ids]
        return figs, depmap(doc, theme), depmap_text(doc), last_state(doc, now, sparks)
    return tick_updates(doc, now, theme, [i["service"] for i in ids], last)


def tick_updates(doc: dict[str, Any], now: float, theme: str, names: list[str],
                 last: dict[str, Any]) -> tuple[list[Any], Any, Any, dict[str, Any]]:
    """Per sparkline (in ``names`` order) its patch, rebuilt figure or no_update; the map and
    its text when a status or alert count changed; the next state."""
    services = doc["services"]
    keys = {n: spark_key(n, services[n]["kind"]) for n in names if n in services}
    last_ts = float(last["ts"])
    frame = context.frame(list(keys.values()), last_ts - 1.0, now)
    ts = frame.index.to_numpy(dtype=np.float64)
    before = (last.get("statuses") or {}).get("status", {})
    counts = dict(last.get("n") or {})
    updates: list[Any] = []
    hour: list[Any] = []  # the window's frame, read once if any sparkline is rebuilt
    for name in names:
        if name not in keys:
            updates.append(dash.no_update)
            continue
        key = keys[name]

        def window(key: str = key) -> tuple[np.ndarray, np.ndarray]:
            if not hour:
                hour.append(context.frame(list(keys.values()), now - SPARK_WINDOW_S - 60.0, now))
            return hour[0].index.to_numpy(dtype=np.float64), column(hour[0], key)

        update, counts[name] = sparkline_update(
            counts.get(name), ts, column(frame, key), last_ts=last_ts,
            window_s=SPARK_WINDOW_S, status=services[name]["status"], theme=theme,
            recolour=before.get(name) != services[name]["status"], window_rows=window)
        updates.append(dash.no_update if update is None else
                       spark_store(update) if isinstance(update, go.Figure) else update)
    new_ts = float(ts.max()) if len(ts) and ts.max() > last_ts else last_ts
    current = map_state(doc)
    state = {"ts": new_ts, "statuses": current, "n": counts}
    if current == last.get("statuses"):
        return updates, dash.no_update, dash.no_update, state
    return updates, depmap(doc, theme), depmap_text(doc), state


def refresh_hint(_: Any, shown: Any = None) -> Any:
    """The root-cause hint from the analytics, when several services are unusual."""
    hint = fleet_hint(context.runtime())
    return dash.no_update if same_as_shown(hint, shown) else hint


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
