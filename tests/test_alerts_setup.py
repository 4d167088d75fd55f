"""From the config's [alerts] table to a running AlertManager: validation and defaults."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tamma_dash.alerts.setup import build_alert_manager, check_alerts
from tamma_dash.config import ConfigError, ServiceConfig, parse
from tamma_dash.models import ServiceKind

API = {"name": "api", "kind": "api", "health_url": "http://127.0.0.1:1/health"}
RULE = {"name": "SlowApi", "kind": "threshold", "series": "api/response_time_p95_ms",
        "value": 800}


def test_config_reports_every_alert_problem_with_its_place() -> None:
    raw = {"services": [API], "alerts": {
        "rules": [{**RULE, "series": "nope/cpu_percent"}, {"name": "x", "kind": "sometimes"}],
        "notifiers": [{"name": "hook", "format": "alertmanager"}],
        "colour": "red"}}
    with pytest.raises(ConfigError) as err:
        parse(raw)
    text = str(err.value)
    assert "alerts: unknown key 'colour'" in text
    assert "alerts.rules[0].series" in text and "nope" in text
    assert "alerts.rules[1].kind" in text
    assert "alerts.notifiers[0]: set exactly one of url_env" in text


def test_demo_service_names_are_known_when_the_demo_runs() -> None:
    settings = parse({"alerts": {"rules": [{**RULE, "series": "database/db_pool_waiting"}]}})
    assert settings.demo and settings.alerts["rules"][0]["name"] == "SlowApi"


def test_a_rule_replaces_the_default_of_its_name(tmp_path: Path) -> None:
    services = [ServiceConfig(name="api", kind=ServiceKind.API)]
    override = {"rules": [{"name": "ServiceDown", "kind": "status", "for_s": 30}]}
    am = build_alert_manager(override, services, tmp_path, clock=lambda: 0.0)
    names = [r.name for r in am.rules]
    assert names.count("ServiceDown") == 1
    assert next(r for r in am.rules if r.name == "ServiceDown").for_s == 30
    assert "HighErrorRate" in names
    am.close()
    off = build_alert_manager({**override, "default_rules": False}, services, tmp_path,
                              clock=lambda: 0.0)
    assert [r.name for r in off.rules] == ["ServiceDown"]
    off.close()


def test_a_notifier_without_its_url_variable_is_left_out_by_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    raw = {"notifiers": [{"name": "oncall", "url_env": "TAMMA_TEST_HOOK"},
                         {"name": "am", "format": "alertmanager_api",
                          "url": "http://127.0.0.1:9"}]}
    assert check_alerts(raw, []) == []
    with caplog.at_level(logging.WARNING):
        am = build_alert_manager(raw, [], tmp_path, clock=lambda: 0.0,
                                 environ={"OTHER": "https://hooks.example/SECRET"})
    assert list(am.notifiers) == ["am"]
    assert "TAMMA_TEST_HOOK" in caplog.text and "SECRET" not in caplog.text
    am.close()


def test_alerts_must_be_a_table() -> None:
    assert check_alerts(["rules"], []) == [
        "alerts: expected a table, e.g. [alerts] with [[alerts.rules]] below it"]
