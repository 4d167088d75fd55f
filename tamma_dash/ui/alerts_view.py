"""Alert builders: severity, one alert, history, MTTA/MTTR, notifiers, toast, markers.

Plain functions, alert dicts (``tamma_dash.alerts.views.alert_dict``) in, components out; the
groups by root cause are built in :mod:`tamma_dash.ui.alert_groups`.
Everything an alert carries (summary, labels, comments, runbook URL) is shown as text, never
as HTML; a runbook link is a link only when it is http(s).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlparse

import dash_bootstrap_components as dbc
from dash import dcc, html

from tamma_dash.ui.a11y import aria
from tamma_dash.ui.format import MISSING, fmt_duration, fmt_number

Alert = Mapping[str, Any]
SEVERITIES = ("critical", "warning", "info")
SEVERITY_LOOK = {"critical": ("‼", "danger"), "warning": ("▲", "warning"), "info": ("ℹ", "info")}
STATE_ICONS = {"pending": "◔", "firing": "●", "acknowledged": "⚑", "resolved": "✔"}
SHOWN = ("firing", "acknowledged")  # what the badge, the markers and the toast count
HISTORY_WINDOWS = {"1h": 3600.0, "6h": 6 * 3600.0, "24h": 24 * 3600.0, "7d": 7 * 24 * 3600.0}
ACTOR_DEFAULT = "operator"
SEEN_MAX = 500


def alert_href(alert: Alert) -> str:
    """The affected component at the alert's time: ``/service/<name>?t=<epoch>``."""
    at = alert.get("startsAtTs")
    return f"/service/{quote(str(alert.get('service', '')), safe='')}" + (
        f"?t={int(at)}" if at else "")


def when(ts: float | None) -> str:
    """Epoch seconds as ``2026-11-27 21:34:48 UTC``."""
    if ts is None:
        return MISSING
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso_ts(text: str | None) -> float | None:
    """An ISO 8601 time from the API (``...Z``) back to epoch seconds."""
    return datetime.fromisoformat(text).timestamp() if text else None


def severity_badge(severity: str) -> Any:
    """Icon, word and colour together, never colour alone."""
    icon, colour = SEVERITY_LOOK.get(severity, ("?", "secondary"))
    return html.Span(f"{icon} {severity}", className=f"badge text-bg-{colour} sev-badge")


def state_text(state: str) -> str:
    return f"{STATE_ICONS.get(state, '?')} {state}"


def runbook(url: str) -> Any:
    """An http(s) runbook opens in a new tab as a visible-URL link; anything else is text."""
    if not url:
        return None
    if urlparse(url).scheme not in ("http", "https"):
        return html.Span(["Runbook: ", html.Code(url)], className="small")
    return html.Span(["Runbook: ", html.A(url, href=url, target="_blank",
                                          rel="noopener noreferrer")], className="small")


def labels(alert: Alert) -> Any:
    skip = {"alertname", "service", "severity"}
    shown = [f"{k}={v}" for k, v in (alert.get("labels") or {}).items() if k not in skip]
    if not shown:
        return None
    return html.Ul([html.Li(t, className="badge text-bg-light border me-1") for t in shown],
                   className="list-unstyled d-inline m-0 small", **aria("labels"))


def action_buttons(alert: Alert) -> Any:
    """Acknowledge (only a firing alert) and Resolve (any active one), named for the alert."""
    aid, state = alert["id"], alert.get("state")
    what = f"alert {aid}, {alert.get('service', '')} {alert.get('rule', '')}".strip()
    buttons = []
    if state == "firing":
        buttons.append(html.Button("Acknowledge", type="button", className="btn btn-primary btn-sm",
                                   id={"type": "alert-act", "act": "ack", "id": aid},
                                   **aria(f"Acknowledge {what}")))
    if state in ("pending", "firing", "acknowledged"):
        buttons.append(html.Button("Resolve", type="button",
                                   className="btn btn-outline-secondary btn-sm",
                                   id={"type": "alert-act", "act": "resolve", "id": aid},
                                   **aria(f"Resolve {what}")))
    return html.Div(buttons, className="d-flex gap-2")


def alert_item(alert: Alert, now: float) -> Any:
    """One active alert: severity, state, service (a link), summary, since, value, runbook."""
    sev, state = str(alert.get("severity", "warning")), str(alert.get("state", "firing"))
    start = alert.get("startsAtTs")
    acked = (f" by {alert['acknowledgedBy']}" if alert.get("acknowledgedBy") else "")
    facts = [("Since", f"{fmt_duration(now - start) if start else MISSING} ({when(start)})"),
             ("Value", fmt_number(alert.get("value"))), ("Rule", str(alert.get("rule", "")))]
    return html.Article([
        html.Div([
            severity_badge(sev),
            html.Span(state_text(state) + acked, className="alert-state small"),
            dcc.Link(f"{alert.get('service', '')} at {when(start)}", href=alert_href(alert),
                     className="fw-semibold"),
        ], className="d-flex flex-wrap align-items-baseline gap-2"),
        html.P(str(alert.get("summary") or alert.get("rule") or "alert"), className="mb-1"),
        html.Dl([html.Div([html.Dt(k), html.Dd(v)]) for k, v in facts],
                className="alert-facts small mb-1"),
        html.Div([runbook(str(alert.get("annotations", {}).get("runbook_url", ""))),
                  labels(alert)], className="d-flex flex-wrap gap-2 mb-1"),
        action_buttons(alert),
    ], className=f"alert-item-card sev-{sev} p-2 mb-2", id=f"alert-{alert['id']}",
        **aria(f"{sev} alert on {alert.get('service', '')}"))


def signature(active: Iterable[Alert], notifiers: Iterable[Mapping[str, Any]] = (),
              hint: str = "") -> str:
    """Changes when the alert set, a state, a notifier count or the root-cause hint's sentence
    changes (not with each value: a re-render would move the keyboard focus away from the
    buttons every tick)."""
    alerts = sorted((a["id"], a.get("state"), a.get("escalationLevel")) for a in active)
    sent = [(n.get("name"), n.get("sent"), n.get("failed"), n.get("last_error")) for n in notifiers]
    return json.dumps([alerts, sent, hint], default=str)


def mean_text(seconds: float | None, count: int, verb: str) -> str:
    """``2 m 05 s over 3 alerts``, or why there is no figure."""
    if seconds is None:
        return f"– (no alert was {verb} in the last 24 h)"
    return f"{fmt_duration(seconds)} over {count} alert{'s' * (count != 1)}"


def stats_block(stats: Mapping[str, Any]) -> Any:
    """MTTA, MTTR and counts by severity over the last 24 h."""
    by_sev = stats.get("bySeverity") or {}
    counts = ", ".join(f"{by_sev.get(s, 0)} {s}" for s in SEVERITIES)
    rows = [("Mean time to acknowledge (24 h)",
             mean_text(stats.get("meanTimeToAcknowledgeS"), stats.get("acknowledged", 0),
                       "acknowledged")),
            ("Mean time to resolve (24 h)",
             mean_text(stats.get("meanTimeToResolveS"), stats.get("resolved", 0), "resolved")),
            ("Fired in the last 24 h", f"{stats.get('fired', 0)} ({counts})")]
    out = [html.Dl([html.Div([html.Dt(k), html.Dd(v, id=f"alert-stat-{i}")])
                    for i, (k, v) in enumerate(rows)], className="alert-stats mb-0")]
    if stats.get("persistError"):
        out.append(dbc.Alert(f"Alert history is not being saved: {stats['persistError']}. "
                             "Check the data directory's disk and permissions.", color="danger"))
    return html.Div(out)


def notifier_block(notifiers: Sequence[Mapping[str, Any]]) -> Any:
    """Delivery per notifier: sent, failed, queued, last error (targets already redacted)."""
    if not notifiers:
        return html.P("No notifiers are configured: alerts are shown here only.",
                      className="small mb-0")
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in
                               ("Notifier", "Target", "Sent", "Failed", "Queued", "Last error")]))
    rows = [html.Tr([html.Td(str(n.get("name", ""))), html.Td(str(n.get("target", ""))),
                     html.Td(str(n.get("sent", 0))),
                     html.Td(f"{'✖ ' if n.get('failed') else ''}{n.get('failed', 0)}"),
                     html.Td(str(n.get("queued", 0))),
                     html.Td(f"{n['last_error']} ({when(n.get('last_error_at'))})"
                             if n.get("last_error") else "none")]) for n in notifiers]
    return dbc.Table([html.Caption("Notification delivery"), head, html.Tbody(rows)],
                     size="sm", responsive=True, className="mb-0")


def history_query(service: str | None, severity: str | None, window: str | None,
                  now: float) -> dict[str, Any]:
    """AlertManager.history() keywords for the filters ("all" and unknown values mean none)."""
    span = HISTORY_WINDOWS.get(window or "", HISTORY_WINDOWS["24h"])
    return {"service": service if service and service != "all" else None,
            "severity": severity if severity in SEVERITIES else None,
            "start": now - span, "end": now}


def duration_s(alert: Alert, now: float) -> float | None:
    """How long the alert was (or has been) open: from firing (or start) to resolved (or now)."""
    start = alert.get("startsAtTs")
    if start is None:
        return None
    end = iso_ts(alert.get("resolvedAt")) if alert.get("resolvedAt") else now
    return max(0.0, (end or now) - float(start))


def transition_text(t: Mapping[str, Any]) -> str:
    """``21:34:48 UTC firing → acknowledged by bob: looking into it``."""
    at = when(iso_ts(t.get("at")))
    move = f"{t['from']} → {t['to']}" if t.get("from") else f"opened {t.get('to')}"
    comment = f": {t['comment']}" if t.get("comment") else ""
    return f"{at} {move} by {t.get('actor', '')}{comment}"


def history_row(alert: Alert, now: float) -> Any:
    state = str(alert.get("state", ""))
    dur = fmt_duration(duration_s(alert, now)) + (" so far" if state != "resolved" else "")
    return html.Tr([
        html.Td(severity_badge(str(alert.get("severity", "warning")))),
        html.Td([html.Div(str(alert.get("rule", ""))),
                 html.Div(str(alert.get("summary", "")), className="small")]),
        html.Td(dcc.Link(str(alert.get("service", "")), href=alert_href(alert))),
        html.Td(when(alert.get("startsAtTs"))),
        html.Td(dur),
        html.Td(state_text(state)),
        html.Td(html.Ol([html.Li(transition_text(t)) for t in alert.get("transitions") or []],
                        className="small ps-3 mb-0")),
    ], id=f"history-{alert['id']}")


def history_table(rows: Sequence[Alert], now: float, limit: int) -> Any:
    """Alerts open at some time in the range, newest first, with every transition."""
    if not rows:
        return html.P("No alerts match these filters.", className="mb-0")
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in (
        "Severity", "Alert", "Service", "Started", "Duration", "State", "Transitions")]))
    more = f" (the newest {limit})" if len(rows) >= limit else ""
    return dbc.Table([html.Caption(f"{len(rows)} alerts{more}"), head,
                      html.Tbody([history_row(a, now) for a in rows])],
                     size="sm", responsive=True, hover=True, className="alert-history mb-0")


def alert_counts(alerts: Iterable[Alert]) -> dict[str, list[Alert]]:
    """Firing and acknowledged alerts per service, newest first (for card and map markers)."""
    out: dict[str, list[Alert]] = {}
    for a in sorted(alerts, key=lambda a: a.get("startsAtTs") or 0.0, reverse=True):
        if a.get("state") in SHOWN:
            out.setdefault(str(a.get("service", "")), []).append(a)
    return out


def new_firing(
    alerts: Iterable[Alert], seen: Sequence[int] | None,
) -> tuple[list[Alert], list[int]]:
    """Firing alerts not seen before, and the ids now seen (bounded).

    ``seen`` None means a first visit: what is firing now is remembered without a toast (the
    badge already says it); afterwards, every newly firing alert is announced once.
    """
    firing = [a for a in alerts if a.get("state") == "firing"]
    known = set(seen or ())
    new = [] if seen is None else [a for a in firing if a["id"] not in known]
    ids = sorted(known | {a["id"] for a in firing})[-SEEN_MAX:]
    return sorted(new, key=lambda a: -a["id"]), ids


def announce(
    alerts: Sequence[Alert], memo: Any, toast_open: bool,
) -> tuple[list[Alert] | None, dict[str, list[int]]]:
    """What the toast shows: new alerts first, then those it already showed while still open.

    ``memo`` is the browser's ``{"seen": [...], "shown": [...]}``; returns (None, memo) when
    nothing new fired, so an open toast is left as it is and a closed one stays closed.
    """
    memo = memo if isinstance(memo, dict) else {}
    new, seen = new_firing(alerts, memo.get("seen"))
    before = [int(i) for i in memo.get("shown", [])] if toast_open else []
    if not new:
        return None, {"seen": seen, "shown": before}
    fresh = [a["id"] for a in new]
    shown = (fresh + [i for i in before if i not in fresh])[:SEEN_MAX]
    by_id = {a["id"]: a for a in alerts}
    return [by_id[i] for i in shown if i in by_id], {"seen": seen, "shown": shown}


def toast_header(new: Sequence[Alert]) -> str:
    worst = min((str(a.get("severity")) for a in new), key=_sev_rank, default="warning")
    icon = SEVERITY_LOOK.get(worst, ("?", ""))[0]
    return f"{icon} {len(new)} new alert{'s' * (len(new) != 1)}, worst {worst}"


def toast_body(new: Sequence[Alert], shown: int = 3) -> Any:
    """The newest few new alerts, each a link to its component at the alert's time."""
    items = [html.Li([f"{a.get('severity')}: ", dcc.Link(
        f"{a.get('service')}: {a.get('summary') or a.get('rule')}", href=alert_href(a))])
        for a in new[:shown]]
    rest = len(new) - shown
    return html.Div([html.Ul(items, className="ps-3 mb-1"),
                     html.P(f"and {rest} more", className="mb-1") if rest > 0 else None,
                     dcc.Link("All alerts", href="/alerts")])


def _sev_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)
