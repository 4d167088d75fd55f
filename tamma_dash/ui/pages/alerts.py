"""Alerts: active alerts grouped by cause, each with the analytics' hint that concerns it;
acknowledge / resolve with a comment, history, MTTA/MTTR.

Live on the shell's ``tick``, but the active list is re-rendered only when its signature (ids,
states, notifier counts, the analytics' root-cause hint) changes, so a tick never resets what a
person is reading; the acknowledge / resolve form is a modal outside the re-rendered part and
survives every tick.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, dcc, html
from flask import g, has_request_context

from tamma_dash.alerts.lifecycle import AlertNotFound, AlertStateError
from tamma_dash.alerts.remote import ActionPending
from tamma_dash.ui import alert_groups as ag
from tamma_dash.ui import alerts_view as av
from tamma_dash.ui import context
from tamma_dash.ui.a11y import aria

HISTORY_LIMIT = 200
MAX_COMMENT, MAX_ACTOR = 2000, 100
ACTIONS = {"ack": "Acknowledge", "resolve": "Resolve"}


def manager() -> Any:
    """The AlertManager of this process, the collector's alerts read from its store (``serve``
    mode: actions are queued for the collector), or None when neither is available."""
    return context.runtime().alerts


def layout(**_: Any) -> Any:
    am = manager()
    if am is None:
        return html.Div([html.H1("Alerts", className="h4 mb-3"), dbc.Alert(
            "Alerts are unavailable in this process: its data directory has no readable alert "
            "store. Start `tamma-dash collect` (or `run`) on the same data directory.",
            color="info", id="alerts-off")])
    now = context.now()
    active, stats, hint = am.active(), am.stats(now), fleet_hint()
    services = [s.name for s in context.runtime().services]
    return html.Div([
        html.H1("Alerts", className="h4 mb-3"),
        html.Div(id="alerts-feedback", role="status", className="mb-2"),
        dbc.Row([
            dbc.Col(html.Section([
                html.H2("Active alerts, by root cause", className="h5"),
                html.Div(ag.active_section(am.groups(), active, now, hint), id="alerts-active"),
            ], **aria("Active alerts")), xs=12, xl=8),
            dbc.Col([
                html.Section([html.H2("Last 24 hours", className="h5"),
                              html.Div(av.stats_block(stats), id="alerts-stats")],
                             **aria("Alert statistics")),
                html.Section([html.H2("Notifications", className="h5 mt-4"),
                              html.Div(av.notifier_block(stats["notifiers"]),
                                       id="alerts-notifiers")], **aria("Notifications")),
            ], xs=12, xl=4),
        ], className="g-4"),
        history_section(services),
        action_form(),
        dcc.Store(id="alerts-sig", data=av.signature(active, stats["notifiers"],
                                                     ag.hint_key(hint))),
        dcc.Store(id="alerts-bump", data=0),
    ])


def fleet_hint() -> Any:
    """The analytics' root-cause hint of the running fleet (None when there is none)."""
    from tamma_dash.analytics.service import analytics_for

    return analytics_for(context.runtime()).root_cause()


def history_section(services: list[str]) -> Any:
    """Filters (service, severity, time range) and the table they drive."""
    def select(ident: str, label: str, options: list[tuple[str, str]], value: str) -> Any:
        return dbc.Col([dbc.Label(label, html_for=ident),
                        dbc.Select(id=ident, value=value,
                                   options=[{"label": t, "value": v} for v, t in options])],
                       xs=12, sm=4, lg=2)
    return html.Section([
        html.H2("History", className="h5 mt-4"),
        dbc.Row([
            select("alerts-f-service", "Service", [("all", "all services")]
                   + [(s, s) for s in services], "all"),
            select("alerts-f-severity", "Severity", [("all", "all severities")]
                   + [(s, s) for s in av.SEVERITIES], "all"),
            select("alerts-f-window", "Time range", [(w, f"last {w}") for w in
                                                     av.HISTORY_WINDOWS], "24h"),
        ], className="g-3 mb-2"),
        html.Div(id="alerts-history"),
    ], **aria("Alert history"))


def action_form() -> Any:
    """The acknowledge / resolve form: who (remembered in this browser) and a comment."""
    return dbc.Modal([
        dbc.ModalHeader(dbc.ModalTitle("Acknowledge alert", id="alert-form-title")),
        dbc.ModalBody([
            html.P(id="alert-form-what", className="small"),
            dbc.Label("Your name", html_for="alert-actor"),
            dbc.Input(id="alert-actor", value=av.ACTOR_DEFAULT, maxlength=MAX_ACTOR,
                      persistence=True, persistence_type="local", autocomplete="name"),
            dbc.Label("Comment", html_for="alert-comment", className="mt-2"),
            dbc.Textarea(id="alert-comment", value="", maxlength=MAX_COMMENT, rows=3),
            html.Div(id="alert-form-error", role="alert", className="text-danger small mt-2"),
        ]),
        dbc.ModalFooter([
            dbc.Button("Cancel", id="alert-form-cancel", color="secondary", outline=True),
            dbc.Button("Acknowledge", id="alert-form-submit", color="primary"),
        ]),
        dcc.Store(id="alert-form-target"),
    ], id="alert-form", is_open=False, labelledby="alert-form-title")


@dash.callback(
    Output("alerts-active", "children"), Output("alerts-stats", "children"),
    Output("alerts-notifiers", "children"), Output("alerts-sig", "data"),
    Input("tick", "data"), Input("alerts-bump", "data"), State("alerts-sig", "data"),
    prevent_initial_call=True,
)
def refresh(_tick: Any, _bump: Any, sig: str | None) -> tuple[Any, Any, Any, Any]:
    """Re-render only when the alert set, a state, a delivery count or the hint changed."""
    am = manager()
    if am is None:
        return dash.no_update, dash.no_update, dash.no_update, dash.no_update
    now = context.now()
    active, stats, hint = am.active(), am.stats(now), fleet_hint()
    new_sig = av.signature(active, stats["notifiers"], ag.hint_key(hint))
    if new_sig == sig:
        return dash.no_update, dash.no_update, dash.no_update, dash.no_update
    return (ag.active_section(am.groups(), active, now, hint), av.stats_block(stats),
            av.notifier_block(stats["notifiers"]), new_sig)


@dash.callback(
    Output("alerts-history", "children"),
    Input("alerts-f-service", "value"), Input("alerts-f-severity", "value"),
    Input("alerts-f-window", "value"), Input("alerts-sig", "data"),
)
def history(service: str | None, severity: str | None, window: str | None, _sig: Any) -> Any:
    """The history table for the filters; redrawn when a filter or the alert set changes."""
    am = manager()
    if am is None:
        return dash.no_update
    now = context.now()
    rows = am.history(**av.history_query(service, severity, window, now), limit=HISTORY_LIMIT)
    return av.history_table(rows, now, HISTORY_LIMIT)


@dash.callback(
    Output("alert-form", "is_open"), Output("alert-form-target", "data"),
    Output("alert-form-title", "children"), Output("alert-form-submit", "children"),
    Output("alert-form-what", "children"), Output("alert-comment", "value"),
    Output("alert-form-error", "children"),
    Input({"type": "alert-act", "act": ALL, "id": ALL}, "n_clicks"),
    Input("alert-form-cancel", "n_clicks"),
    prevent_initial_call=True,
)
def open_form(_clicks: list[int | None], _cancel: int | None) -> tuple[Any, ...]:
    """A click on Acknowledge / Resolve opens the form for that alert; Cancel closes it."""
    trig = dash.ctx.triggered_id
    if trig == "alert-form-cancel":
        return (False, None, *([dash.no_update] * 5))
    if not isinstance(trig, dict) or not dash.ctx.triggered[0].get("value"):
        return tuple([dash.no_update] * 7)  # buttons re-rendered, nobody clicked
    verb = ACTIONS[trig["act"]]
    what = f"Alert {trig['id']}: the action, your name and comment are kept in its history."
    return True, {"act": trig["act"], "id": trig["id"]}, f"{verb} alert", verb, what, "", ""


@dash.callback(
    Output("alert-form", "is_open", allow_duplicate=True),
    Output("alert-form-error", "children", allow_duplicate=True),
    Output("alerts-feedback", "children"), Output("alerts-bump", "data"),
    Input("alert-form-submit", "n_clicks"),
    State("alert-form-target", "data"), State("alert-actor", "value"),
    State("alert-comment", "value"), State("alerts-bump", "data"),
    prevent_initial_call=True,
)
def submit(_n: int | None, target: dict[str, Any] | None, actor: str | None,
           comment: str | None, bump: int | None) -> tuple[Any, Any, Any, Any]:
    """Acknowledge or resolve through the AlertManager; problems stay in the open form."""
    am = manager()
    if am is None or not target:
        return dash.no_update, "Nothing to act on: close the form and pick an alert.", \
            dash.no_update, dash.no_update
    who = signed_in_user() or (actor or "").strip()[:MAX_ACTOR]
    if not who:
        return dash.no_update, "Enter your name, so the history says who did it.", \
            dash.no_update, dash.no_update
    act = am.acknowledge if target["act"] == "ack" else am.resolve
    try:
        doc = act(int(target["id"]), who, (comment or "")[:MAX_COMMENT])
    except (AlertNotFound, AlertStateError) as exc:
        return dash.no_update, f"{exc}. Close the form; the list shows its current state.", \
            dash.no_update, dash.no_update
    except ActionPending as exc:
        return dash.no_update, str(exc), dash.no_update, dash.no_update
    done = f"✔ Alert {doc['id']} ({doc['service']}) is now {doc['state']}, by {who}."
    return False, "", done, (bump or 0) + 1


def signed_in_user() -> str | None:
    """With auth on, the signed-in user is the actor (as the API does), not what was typed."""
    user = g.get("tamma_user") if has_request_context() else None
    return str(user)[:MAX_ACTOR] if user else None


dash.register_page(__name__, path="/alerts", name="Alerts", title="tamma-dash · alerts", order=1,
                   layout=layout)
