"""The alerting core: rules, lifecycle, persistence, grouping, escalation, webhooks in and out.

Wiring (config parsing and the tick live elsewhere)::

    rules, problems = parse_rules(raw_alerts.get("rules", []), settings.services)
    rules = rules or default_rules(settings.services)
    specs, more = parse_notifiers(raw_alerts.get("notifiers", []))
    routes, even_more = parse_routes(raw_alerts.get("routes", []), [s.name for s in specs])
    am = AlertManager(rules, settings.services, AlertStore(settings.data_dir / "alerts.sqlite3"),
                      routes=routes, notifiers={s.name: s.build() for s in specs},
                      external_url="http://host:8050")
    am.evaluate(store.latest(), statuses)  # every tick; never blocks on a receiver
"""

from tamma_dash.alerts.channels import NotifierSpec, parse_notifiers, parse_routes
from tamma_dash.alerts.defaults import default_rules
from tamma_dash.alerts.dispatch import Route, RouteStep
from tamma_dash.alerts.engine import AlertManager, TickOutcome
from tamma_dash.alerts.grouping import AlertGroup, group_alerts
from tamma_dash.alerts.lifecycle import Alert, AlertNotFound, AlertState, AlertStateError
from tamma_dash.alerts.notify import Format, Notifier
from tamma_dash.alerts.receiver import (
    ExternalAlert,
    WebhookPayloadError,
    parse_alertmanager_webhook,
)
from tamma_dash.alerts.ruleparse import parse_rules
from tamma_dash.alerts.rules import Rule, RuleKind
from tamma_dash.alerts.store import AlertStore

__all__ = [
    "Alert", "AlertGroup", "AlertManager", "AlertNotFound", "AlertState", "AlertStateError",
    "AlertStore", "ExternalAlert", "Format", "Notifier", "NotifierSpec", "Route", "RouteStep",
    "Rule", "RuleKind", "TickOutcome", "WebhookPayloadError", "default_rules", "group_alerts",
    "parse_alertmanager_webhook", "parse_notifiers", "parse_routes", "parse_rules",
]
