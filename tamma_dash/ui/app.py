"""The Dash app: a live status page over the API's snapshot (the full pages are their own issue)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, dcc, html

from tamma_dash.api import routes

if TYPE_CHECKING:
    from tamma_dash.runtime import Runtime

ICONS = {"healthy": "✔", "degraded": "▲", "down": "✖", "unknown": "?"}
COLOURS = {"healthy": "success", "degraded": "warning", "down": "danger", "unknown": "secondary"}


def create_app(rt: Runtime) -> Dash:
    """Build the Dash app and attach the API routes to its Flask server."""
    app = Dash(
        __name__,
        title="tamma-dash",
        external_stylesheets=[dbc.themes.BOOTSTRAP],
        update_title="",
        suppress_callback_exceptions=True,
    )
    routes.register(app.server, rt)
    app.layout = lambda: layout(rt)

    @app.callback(Output("status-body", "children"), Input("tick", "n_intervals"))
    def _refresh(_: int | None) -> Any:
        return status_body(routes.snapshot(rt))

    return app


def layout(rt: Runtime) -> Any:
    interval_ms = int(max(500, rt.settings.interval_s * 1000))
    return dbc.Container(
        [
            html.Header(
                className="d-flex align-items-center gap-3 my-3",
                children=[
                    html.H1("tamma-dash", className="h3 m-0"),
                    html.Span("System health", className="text-body-secondary"),
                ],
            ),
            dcc.Interval(id="tick", interval=interval_ms),
            html.Main(id="status-body", children=status_body(routes.snapshot(rt))),
        ],
        fluid=True,
    )


def status_body(doc: dict[str, Any]) -> Any:
    """Render one HealthMetrics document as KPIs and a service table."""
    system = doc["system"]
    banner = (
        dbc.Alert(
            "Demo data: a simulated Tamma fleet running on this machine.",
            color="info",
            className="py-2",
        )
        if doc.get("demo")
        else None
    )
    kpis = dbc.Row(
        [
            _kpi("Overall", f"{ICONS[doc['status']]} {doc['status']}"),
            _kpi("Active workers", _fmt(system.get("activeWorkers"))),
            _kpi("Queue depth", _fmt(system.get("queueDepth"))),
            _kpi(
                "DB pool in use",
                f"{_fmt(system['dbPool'].get('active'))} / {_fmt(system['dbPool'].get('max'))}",
            ),
        ],
        className="g-3 mb-3",
    )
    rows = [
        html.Tr(
            [
                html.Td(name),
                html.Td(
                    dbc.Badge(f"{ICONS[s['status']]} {s['status']}", color=COLOURS[s["status"]])
                ),
                html.Td(_fmt(s["cpu"], "%")),
                html.Td(_fmt(s["memory"], "%")),
                html.Td(_fmt(s["disk"], "%")),
                html.Td(_fmt(s["responseTime"], " ms")),
                html.Td(_fmt(s["errorRate"], "%")),
                html.Td("; ".join(s["reasons"]), className="small"),
            ]
        )
        for name, s in doc["services"].items()
    ]
    head = html.Thead(
        html.Tr(
            [
                html.Th(h, scope="col")
                for h in ("Service", "Status", "CPU", "Memory", "Disk", "Response", "Errors", "Why")
            ]
        )
    )
    table = dbc.Table([head, html.Tbody(rows)], hover=True, responsive=True, size="sm")
    updated = html.P(f"Updated {doc['timestamp']}", className="small text-body-secondary")
    return [banner, kpis, table, updated]


def _kpi(label: str, value: str) -> Any:
    return dbc.Col(
        dbc.Card(
            dbc.CardBody(
                [
                    html.Div(label, className="small text-body-secondary"),
                    html.Div(value, className="h4 m-0"),
                ]
            )
        ),
        xs=6,
        md=3,
    )


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    return (
        f"{value:,.1f}{unit}"
        if isinstance(value, float) and not value.is_integer()
        else f"{value:,.0f}{unit}"
    )
