"""From the ``[alerts]`` table of the config to a running AlertManager (and its validation)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tamma_dash.alerts.channels import check_rule_routes, parse_notifiers, parse_routes
from tamma_dash.alerts.defaults import default_rules
from tamma_dash.alerts.engine import AlertManager
from tamma_dash.alerts.notify import Notifier
from tamma_dash.alerts.ruleparse import parse_rules
from tamma_dash.alerts.rules import Rule
from tamma_dash.alerts.store import AlertStore
from tamma_dash.config import ServiceConfig
from tamma_dash.models import Clock
from tamma_dash.suggest import unknown_keys

log = logging.getLogger(__name__)

ALERT_KEYS = frozenset({"rules", "notifiers", "routes", "default_rules", "external_url"})
ALERTS_FILE = "alerts.sqlite3"


def check_alerts(raw: Any, services: Sequence[ServiceConfig]) -> list[str]:
    """Every problem in an ``[alerts]`` table, each naming its place and the fix."""
    if not isinstance(raw, Mapping):
        return ['alerts: expected a table, e.g. [alerts] with [[alerts.rules]] below it']
    problems = unknown_keys(raw, ALERT_KEYS, "alerts")
    if "default_rules" in raw and not isinstance(raw["default_rules"], bool):
        problems.append("alerts.default_rules: expected true or false")
    url = raw.get("external_url", "")
    if not isinstance(url, str) or (url and not url.startswith(("http://", "https://"))):
        problems.append("alerts.external_url: expected the dashboard's http(s) URL as people "
                        "reach it, e.g. https://tamma-dash.example")
    rules, more = _rules(raw, services)
    problems += more
    specs, more = parse_notifiers(raw.get("notifiers", []))
    problems += more
    routes, more = parse_routes(raw.get("routes", []), [s.name for s in specs])
    problems += more
    problems += check_rule_routes(rules, routes)
    return problems


def _rules(raw: Mapping[str, Any], services: Sequence[ServiceConfig]) -> tuple[list[Rule],
                                                                               list[str]]:
    """Configured rules, plus the defaults unless ``default_rules = false``; a configured rule
    replaces the default of the same name."""
    rules, problems = parse_rules(raw.get("rules", []), services)
    if raw.get("default_rules", True) is False:
        return rules, problems
    named = {r.name for r in rules}
    return [r for r in default_rules(services) if r.name not in named] + rules, problems


def build_alert_manager(
    raw: Mapping[str, Any], services: Sequence[ServiceConfig], data_dir: Path, *,
    clock: Clock, environ: Mapping[str, str] | None = None,
) -> AlertManager:
    """The AlertManager for a validated ``[alerts]`` table; a notifier whose URL variable is
    unset is left out with a warning naming the variable (the rest still works)."""
    rules, problems = _rules(raw, services)
    for p in problems:  # config.parse reported these already; services may have changed since
        log.warning("alerts: %s", p)
    specs, _ = parse_notifiers(raw.get("notifiers", []))
    routes, _ = parse_routes(raw.get("routes", []), [s.name for s in specs])
    notifiers: dict[str, Notifier] = {}
    for spec in specs:
        try:
            notifiers[spec.name] = spec.build(environ)
        except ValueError as exc:
            log.warning("alerts: %s; notifications to it are off", exc)
    return AlertManager(rules, services, AlertStore(data_dir / ALERTS_FILE), routes=routes,
                        notifiers=notifiers, clock=clock,
                        external_url=str(raw.get("external_url", "")))
