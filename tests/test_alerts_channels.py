"""Notifier and route configuration: validated, URLs with tokens only via the environment."""

from __future__ import annotations

import pytest

from tamma_dash.alerts import NotifierSpec, Route, RouteStep, parse_notifiers, parse_routes
from tamma_dash.alerts.channels import check_rule_routes
from tamma_dash.alerts.notify import Format
from tamma_dash.alerts.rules import StatusRule


def test_parse_notifiers_valid() -> None:
    specs, problems = parse_notifiers([
        {"name": "ops", "format": "slack", "url_env": "OPS_HOOK", "timeout_s": 2,
         "max_attempts": 3},
        {"name": "am", "format": "alertmanager_api", "url": "http://127.0.0.1:9093"},
    ])
    assert problems == []
    assert specs == [
        NotifierSpec("ops", Format.SLACK, url_env="OPS_HOOK", timeout_s=2.0, max_attempts=3),
        NotifierSpec("am", Format.ALERTMANAGER_API, url="http://127.0.0.1:9093"),
    ]


def test_parse_notifiers_problems_never_echo_a_url_path() -> None:
    specs, problems = parse_notifiers([
        {"name": "a", "format": "email", "url_env": "A"},
        {"name": "b", "url": "hooks.example/T0/SECRET"},
        {"name": "c"},
        {"name": "d", "url_env": "https://hooks.example/T0/SECRET2"},
        {"name": "e", "url_env": "E", "retries": 3, "timeout_s": 0},
        {"name": "f", "url_env": "F"}, {"name": "f", "url_env": "F2"},
    ])
    assert [s.name for s in specs] == ["f", "f"]
    assert problems == [
        "alerts.notifiers[0].format: 'email' is not one of alertmanager, slack, alertmanager_api",
        "alerts.notifiers[1].url: not an http(s) URL, e.g. http://127.0.0.1:9093 (not echoed: "
        "it may hold a token)",
        "alerts.notifiers[2]: set exactly one of url_env (for URLs with tokens) or url",
        "alerts.notifiers[3].url_env: the NAME of an environment variable, e.g. "
        "TAMMA_OPS_WEBHOOK_URL; never put the URL itself here",
        "alerts.notifiers[4]: unknown key 'retries'; known keys are format, max_alerts, "
        "max_attempts, name, queue_size, timeout_s, url, url_env",
        "alerts.notifiers[4].timeout_s: 0 is out of range; use a number between 0.05 and 60",
        "alerts.notifiers: the name 'f' is used twice; notifier names must be unique",
    ]
    assert "SECRET" not in "\n".join(problems)


def test_build_reads_the_url_from_the_environment() -> None:
    spec = NotifierSpec("ops", Format.ALERTMANAGER, url_env="OPS_HOOK")
    n = spec.build({"OPS_HOOK": "https://hooks.example/T0/SECRET"})
    assert (n.name, n.target) == ("ops", "https://hooks.example/…")
    n.close()
    with pytest.raises(ValueError, match="notifier ops: set the environment variable OPS_HOOK"):
        spec.build({})


def test_parse_routes_and_default() -> None:
    routes, problems = parse_routes([
        {"name": "oncall", "steps": [{"notifier": "ops", "escalate_after_s": 900},
                                     {"notifier": "pager"}]},
    ], ["ops", "pager"])
    assert problems == []
    assert routes == {"oncall": Route("oncall", (RouteStep("ops", 900.0), RouteStep("pager")))}
    assert parse_routes([], ["ops", "pager"]) == (
        {"default": Route("default", (RouteStep("ops"),))}, [])


def test_parse_routes_problems() -> None:
    routes, problems = parse_routes([
        {"name": "x", "steps": [{"notifier": "nobody"}, {"notifier": "ops",
                                                         "escalate_after_s": 0}]},
        {"name": "y"},
        {"name": "z", "steps": []},
    ], ["ops"])
    assert routes == {}
    assert problems == [
        "alerts.routes[0].steps[0].notifier: 'nobody' is not one of ops",
        "alerts.routes[0].steps[1].escalate_after_s: 0 is out of range; use a number between 1",
        'alerts.routes[1]: expected name and steps = [{ notifier = "ops", '
        "escalate_after_s = 900 }, ...]",
        "alerts.routes[2].steps: list at least one notifier",
    ]
    rules = [StatusRule(name="A", route="pager"), StatusRule(name="B")]
    assert check_rule_routes(rules, {}) == [
        "alerts.rules (A).route: unknown route 'pager'; known: none"]
