"""Overview builders: KPI cards, service status cards, the alerts panel (doc in, components out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from tamma_dash.ui.a11y import aria
from tamma_dash.ui.alerts_view import alert_counts, alert_href
from tamma_dash.ui.format import fmt_ms, fmt_number, fmt_percent
from tamma_dash.ui.theme import alert_count_text, status_icon

SPARK_METRIC = {"provider": ("ratelimit_remaining", "rate limit remaining", ""),
                "git": ("ratelimit_remaining", "rate limit remaining", "")}
DEFAULT_SPARK = ("cpu_percent", "CPU", "%")


def spark_key(name: str, kind: str) -> str:
    """The series each card's sparkline shows: CPU, or the rate limit left for external APIs."""
    return f"{name}/{SPARK_METRIC.get(kind, DEFAULT_SPARK)[0]}"


def spark_label(kind: str) -> tuple[str, str]:
    """(what, unit) of a card's sparkline, for its text alternative."""
    _, what, unit = SPARK_METRIC.get(kind, DEFAULT_SPARK)
    return what, unit


def status_text(status: str) -> str:
    return f"{status_icon(status)} {status}"


def kpis(doc: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(id, label, value) of each KPI card, values formatted for people."""
    system = doc["system"]
    api = _api(doc)
    pool = system.get("dbPool", {})
    workers = fmt_number(system.get("activeWorkers"))
    if system.get("totalWorkers") is not None:
        workers += f" / {fmt_number(system['totalWorkers'])}"
    return [
        ("kpi-status", "Overall status", status_text(doc["status"])),
        ("kpi-workers", "Workers busy / alive", workers),
        ("kpi-queue", "Task queue depth", fmt_number(system.get("queueDepth"))),
        ("kpi-p95", "API p95 response", fmt_ms(api.get("responseTime"))),
        ("kpi-errors", "API error rate", fmt_percent(api.get("errorRate"))),
        ("kpi-pool", "DB pool in use", f"{fmt_number(pool.get('active'))} / "
                                       f"{fmt_number(pool.get('max'))}"),
    ]


def _api(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    return next((s for s in doc["services"].values() if s.get("kind") == "api"), {})


def kpi_row(doc: Mapping[str, Any]) -> Any:
    cards = [dbc.Col(dbc.Card(dbc.CardBody([
        html.Div(label, className="small text-body-secondary"),
        html.Div(value, className="kpi-value", id=kpi_id),
    ]), className=f"h-100 status-card status-{doc['status']}" if kpi_id == "kpi-status"
        else "h-100"), xs=6, md=4, xl=2) for kpi_id, label, value in kpis(doc)]
    return html.Section(dbc.Row(cards, className="g-3"), **aria("Key indicators"))


def alert_marker(alerts: Sequence[Mapping[str, Any]]) -> Any:
    """Bell + "2 alerts" + worst severity, linking to the newest one's component at its time."""
    if not alerts:
        return None
    order = ("critical", "warning", "info")
    worst = min((str(a.get("severity")) for a in alerts),
                key=lambda s: order.index(s) if s in order else len(order))
    return dcc.Link(f"{alert_count_text(len(alerts))}, worst {worst}", href=alert_href(alerts[0]),
                    className=f"alert-marker sev-{worst} small",
                    id={"type": "alert-marker", "service": str(alerts[0].get("service"))})


def service_card(name: str, svc: Mapping[str, Any],
                 alerts: Sequence[Mapping[str, Any]] = ()) -> Any:
    """One card: name (a link), status as icon + word + colour, key metrics, why, alerts."""
    status = svc["status"]
    metrics = (("CPU", fmt_percent(svc.get("cpu"))), ("Memory", fmt_percent(svc.get("memory"))),
               ("Disk", fmt_percent(svc.get("disk"))),
               ("Response", fmt_ms(svc.get("responseTime"))),
               ("Errors", fmt_percent(svc.get("errorRate"))))
    grid = html.Dl([html.Div([html.Dt(label), html.Dd(value)]) for label, value in metrics],
                   className="metric-grid mb-1")
    reasons = "; ".join(svc.get("reasons") or [])
    return html.Div([
        html.Div([
            dcc.Link(html.H3(name, className="h6 m-0"), href=f"/service/{name}",
                     className="text-reset"),
            html.Span(status_text(status), className="status-word small",
                      **aria(f"status {status}")),
        ], className="d-flex justify-content-between align-items-baseline gap-2"),
        alert_marker(alerts),
        grid,
        html.P(reasons, className="small text-body-secondary mb-0 text-truncate",
               title=reasons) if reasons else None,
    ], className=f"card-body py-2 status-{status}")


def status_cards(doc: Mapping[str, Any], sparks: Mapping[str, Any]) -> list[Any]:
    """Every service's card with its sparkline graph (``sparks``: name -> component)."""
    by_service = alert_counts(doc.get("alerts", []))
    return [dbc.Col(html.Section(
        [html.Div(service_card(name, svc, by_service.get(name, ())),
                  id={"type": "card-body", "service": name}),
         sparks.get(name)],
        className=card_class(svc["status"]),
        id={"type": "card", "service": name}, **aria(f"{name} service"),
    ), xs=12, sm=6, lg=4, xxl=3) for name, svc in doc["services"].items()]


def card_class(status: str) -> str:
    return f"card h-100 status-card status-{status}"


def alerts_panel(alerts: Sequence[Mapping[str, Any]]) -> Any:
    """Active alerts, newest first; each opens the affected component at the alert's time."""
    active = [a for a in alerts if a.get("state", "firing") in ("pending", "firing",
                                                                   "acknowledged")]
    if not active:
        return html.P(f"{status_icon('healthy')} No active alerts.", className="mb-0")
    items = []
    for alert in sorted(active, key=lambda a: a.get("startsAtTs", 0), reverse=True):
        service = alert.get("service", "")
        href = alert_href(alert)
        items.append(dbc.ListGroupItem([
            html.Span(f"{alert.get('severity', 'warning')} · {alert.get('state', 'firing')}",
                      className="badge text-bg-secondary me-2"),
            dcc.Link(f"{service}: {alert.get('summary') or alert.get('name', 'alert')}", href=href),
        ], className="alert-item"))
    return dbc.ListGroup(items, flush=True)
