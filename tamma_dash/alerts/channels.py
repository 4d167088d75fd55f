"""Notifiers and routes from ``[[alerts.notifiers]]`` and ``[[alerts.routes]]``, validated.

A webhook URL often carries a token, so the file names an environment variable (``url_env``)
and the URL is read at build time; a plain ``url`` is for token-free targets such as a local
Alertmanager.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tamma_dash.alerts.dispatch import Route, RouteStep
from tamma_dash.alerts.notify import Format, Notifier
from tamma_dash.alerts.ruleparse import FieldReader
from tamma_dash.alerts.rules import Rule
from tamma_dash.suggest import did_you_mean, unknown_keys

NOTIFIER_KEYS = frozenset({"name", "format", "url", "url_env", "timeout_s", "max_attempts",
                           "queue_size", "max_alerts"})


@dataclass(frozen=True)
class NotifierSpec:
    """A notifier as configured; holds the name of the URL's variable, never a token."""

    name: str
    format: Format
    url: str = ""
    url_env: str = ""
    timeout_s: float = 5.0
    max_attempts: int = 4
    queue_size: int = 100
    max_alerts: int = 0

    def build(self, environ: Mapping[str, str] | None = None) -> Notifier:
        """The live notifier; raises ValueError naming the variable when the URL is missing."""
        env = os.environ if environ is None else environ
        url = env.get(self.url_env, "") if self.url_env else self.url
        if not url:
            raise ValueError(f"notifier {self.name}: set the environment variable "
                             f"{self.url_env} to the webhook URL")
        return Notifier(self.name, url, format=self.format, timeout_s=self.timeout_s,
                        max_attempts=self.max_attempts, queue_size=self.queue_size,
                        max_alerts=self.max_alerts)


def parse_notifiers(raw: Any, where: str = "alerts.notifiers") -> tuple[list[NotifierSpec],
                                                                        list[str]]:
    """Validate ``[[alerts.notifiers]]`` tables; returns (specs, problems)."""
    if not isinstance(raw, list):
        return [], [f"{where}: expected [[alerts.notifiers]] tables"]
    problems: list[str] = []
    specs: list[NotifierSpec] = []
    for i, item in enumerate(raw):
        spec = _notifier(item, f"{where}[{i}]", problems)
        if spec is not None:
            specs.append(spec)
    names = [s.name for s in specs]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{where}: the name '{name}' is used twice; notifier names must be unique")
    return specs, problems


def _notifier(item: Any, where: str, problems: list[str]) -> NotifierSpec | None:
    if not isinstance(item, Mapping):
        problems.append(f"{where}: expected a table with name, format and url_env")
        return None
    before = len(problems)
    problems += unknown_keys(item, NOTIFIER_KEYS, where)
    r = FieldReader(item, where, problems)
    name = r.text("name", required=True)
    fmt = Format(r.choice("format", [f.value for f in Format], Format.ALERTMANAGER.value))
    url_env = r.text("url_env")
    if url_env and not url_env.isidentifier():
        r.bad("url_env", "the NAME of an environment variable, e.g. TAMMA_OPS_WEBHOOK_URL; "
              "never put the URL itself here")
    url = _plain_url(r)
    if bool(url) == bool(url_env) and len(problems) == before:
        problems.append(f"{where}: set exactly one of url_env (for URLs with tokens) or url")
    spec = NotifierSpec(
        name=name, format=fmt, url=url, url_env=url_env,
        timeout_s=r.number("timeout_s", 5.0, minimum=0.05, maximum=60) or 5.0,
        max_attempts=int(r.number("max_attempts", 4, minimum=1, maximum=20) or 4),
        queue_size=int(r.number("queue_size", 100, minimum=1, maximum=100_000) or 100),
        max_alerts=int(r.number("max_alerts", 0, maximum=100_000) or 0))
    return spec if len(problems) == before else None


def _plain_url(r: FieldReader) -> str:
    url = r.text("url")
    if url and not url.startswith(("http://", "https://")):
        r.bad("url", "not an http(s) URL, e.g. http://127.0.0.1:9093 (not echoed: it may hold "
              "a token)")
        return ""
    return url


def parse_routes(
    raw: Any, notifiers: Sequence[str], where: str = "alerts.routes",
) -> tuple[dict[str, Route], list[str]]:
    """Validate ``[[alerts.routes]]``; with none given, ``default`` is the first notifier."""
    if not isinstance(raw, list):
        return {}, [f"{where}: expected [[alerts.routes]] tables"]
    problems: list[str] = []
    routes: dict[str, Route] = {}
    for i, item in enumerate(raw):
        route = _route(item, f"{where}[{i}]", notifiers, problems)
        if route is not None and route.name in routes:
            problems.append(f"{where}[{i}].name: '{route.name}' is used twice")
        elif route is not None:
            routes[route.name] = route
    if not raw and notifiers:
        routes["default"] = Route("default", (RouteStep(notifiers[0]),))
    return routes, problems


def _route(item: Any, where: str, notifiers: Sequence[str], problems: list[str]) -> Route | None:
    if not isinstance(item, Mapping) or not isinstance(item.get("steps"), list):
        problems.append(f'{where}: expected name and steps = [{{ notifier = "ops", '
                        f"escalate_after_s = 900 }}, ...]")
        return None
    before = len(problems)
    r = FieldReader(item, where, problems)
    name = r.text("name", required=True)
    steps: list[RouteStep] = []
    for j, step in enumerate(item["steps"]):
        s = FieldReader(step if isinstance(step, Mapping) else {}, f"{where}.steps[{j}]",
                        problems)
        target = s.choice("notifier", list(notifiers), "")
        wait = s.number("escalate_after_s", None, minimum=1.0)
        steps.append(RouteStep(target, wait))
    if not steps:
        r.bad("steps", "list at least one notifier")
    return Route(name, tuple(steps)) if len(problems) == before else None


def check_rule_routes(rules: Sequence[Rule], routes: Mapping[str, Route]) -> list[str]:
    """Problems for rules that name a route nobody configured (``default`` may be absent)."""
    return [f"alerts.rules ({r.name}).route: unknown route "
            f"'{r.route}'{did_you_mean(r.route, routes)}; known: "
            f"{', '.join(sorted(routes)) or 'none'}"
            for r in rules if r.route != "default" and r.route not in routes]
