"""Rules: parsing with clear problems, defaults, and what each kind finds on one tick."""

from __future__ import annotations

from typing import Any

from tamma_dash.alerts import AlertManager, AlertStore
from tamma_dash.alerts.defaults import default_rules
from tamma_dash.alerts.pace import PaceTracker, exhausted_before_reset
from tamma_dash.alerts.ruleparse import parse_rules
from tamma_dash.alerts.rules import (
    AbsenceRule,
    AnomalyRule,
    EvalContext,
    ForecastRule,
    RateLimitRule,
    RuleKind,
    StatusRule,
    ThresholdRule,
    fingerprint,
)
from tamma_dash.alerts.tick import AlertTicker
from tamma_dash.config import ServiceConfig
from tamma_dash.demo.topology import SERVICES
from tamma_dash.models import M, ServiceKind, Severity, series_key
from tamma_dash.store.base import Latest
from tests.test_alerts_support import T0, chain_fleet

FLEET = chain_fleet()
NAMES = [s.name for s in FLEET]


def ctx(latest: dict[str, Latest] | None = None, statuses: dict[str, str] | None = None,
        now: float = T0, **kw: Any) -> EvalContext:
    return EvalContext(latest or {}, statuses or {}, NAMES, now, T0, **kw)


def test_parse_valid_threshold_rule_with_every_common_field() -> None:
    rules, problems = parse_rules([{
        "name": "HotCpu", "kind": "threshold", "series": "*/cpu_percent", "operator": ">=",
        "value": 90, "clear_value": 80, "for_s": 30, "keep_firing_for_s": 15,
        "severity": "critical", "labels": {"team": "platform"},
        "runbook_url": "https://wiki.example/cpu", "description": "CPU hot", "route": "pager",
        "services": ["api", "database"],
    }], FLEET)
    assert problems == []
    assert rules == [ThresholdRule(
        name="HotCpu", series="*/cpu_percent", operator=">=", value=90.0, clear_value=80.0,
        for_s=30.0, keep_firing_for_s=15.0, severity=Severity.CRITICAL,
        labels=(("team", "platform"),), runbook_url="https://wiki.example/cpu",
        description="CPU hot", route="pager", services=("api", "database"))]


def test_parse_reports_every_problem_with_where_and_fix() -> None:
    raw = [
        {"name": "ok", "kind": "status"},
        {"name": "a", "kind": "threshold", "series": "*/cpu_percent", "value": 1},
        {"name": "b", "kind": "threshold", "series": "*/x", "operator": "=>", "value": 1},
        {"name": "c", "kind": "absence", "series": "nosuch/up", "after_s": -1},
        {"name": "d", "kind": "bogus"},
        {"name": "e", "kind": "status", "statuses": ["sideways"], "colour": "red"},
        {"name": "f", "kind": "rate_limit", "min_share": 2, "severity": "huge"},
        {"name": "g", "kind": "threshold", "series": "cpu", "operator": ">", "value": "9"},
        {"name": "ok", "kind": "status", "labels": {"severity": "x"}, "runbook_url": "wiki"},
        "not a table",
    ]
    rules, problems = parse_rules(raw, FLEET)
    assert [r.name for r in rules] == ["ok", "a"]
    assert problems == [
        "alerts.rules[2].operator: '=>' is not one of >, >=, <, <=, ==, !=",
        "alerts.rules[3].series: unknown service 'nosuch'; use '*' or one of "
        "database, api, dashboard, worker-1, openai",
        "alerts.rules[3].after_s: -1 is out of range; use a number between 0",
        "alerts.rules[4].kind: 'bogus' is not one of threshold, status, absence, rate_limit, "
        "anomaly, forecast",
        "alerts.rules[5]: unknown key 'colour' for a status rule; known keys are description, "
        "for_s, keep_firing_for_s, kind, labels, name, route, runbook_url, services, severity, "
        "statuses",
        "alerts.rules[5].statuses: 'sideways' is not one of down, degraded, unknown",
        "alerts.rules[5].statuses: choose at least one of \"down\", \"degraded\", \"unknown\"",
        "alerts.rules[6].severity: 'huge' is not one of info, warning, critical",
        "alerts.rules[6].min_share: 2 is out of range; use a number between 0 and 1",
        "alerts.rules[7].series: 'cpu' is not service/metric, e.g. \"*/cpu_percent\"",
        "alerts.rules[7].value: expected a number, got '9'",
        "alerts.rules[8].labels: 'severity' is not a usable label name (letters, digits, _; "
        "not alertname, service, severity)",
        "alerts.rules[8].runbook_url: 'wiki' is not an http(s) URL, e.g. "
        "https://wiki.example/runbook",
        "alerts.rules[9]: expected a table with at least name and kind",
    ]


def test_parse_rejects_duplicate_names_and_a_non_list() -> None:
    rules, problems = parse_rules([{"name": "x", "kind": "status"}] * 2, FLEET)
    assert len(rules) == 2
    assert problems == ["alerts.rules: the name 'x' is used twice; rule names must be unique"]
    assert parse_rules({"name": "x"}, FLEET) == ([], ["alerts.rules: expected [[alerts.rules]] "
                                                      "tables"])


def test_default_rules_cover_the_demo_fleet_and_are_unique() -> None:
    fleet = [ServiceConfig(s.name, s.kind, health_url=None if not s.is_fleet else
                           f"http://127.0.0.1:1/{s.name}", depends_on=s.depends_on)
             for s in SERVICES]
    rules = default_rules(fleet)
    kinds = {r.kind for r in rules}
    assert kinds == {RuleKind.STATUS, RuleKind.THRESHOLD, RuleKind.ABSENCE, RuleKind.RATE_LIMIT}
    assert len({r.name for r in rules}) == len(rules)
    rate = next(r for r in rules if isinstance(r, RateLimitRule))
    assert rate.services == ("openai", "anthropic", "github", "gitlab")
    down = next(r for r in rules if r.name == "ServiceDown")
    assert down.for_s == 0.0 and down.severity is Severity.CRITICAL


def test_threshold_wildcard_applies_to_every_service_with_the_series() -> None:
    rule = ThresholdRule(name="Hot", series="*/cpu_percent", operator=">", value=90)
    latest = {"api/cpu_percent": Latest(T0, 95.0), "database/cpu_percent": Latest(T0, 90.0),
              "worker-1/cpu_percent": Latest(T0, 99.5)}
    found = rule.check(ctx(latest))
    assert [(c.service, c.value) for c in found] == [("api", 95.0), ("worker-1", 99.5)]
    assert found[0].summary == "api cpu_percent is 95 (> 90)"


def test_threshold_clear_value_holds_an_active_alert_until_it_drops_below() -> None:
    rule = ThresholdRule(name="Hot", series="api/cpu_percent", operator=">", value=90,
                         clear_value=80)
    latest = {"api/cpu_percent": Latest(T0, 85.0)}
    assert rule.check(ctx(latest)) == []
    fp = fingerprint("Hot", "api", ())
    assert [c.value for c in rule.check(ctx(latest, active=frozenset({fp})))] == [85.0]
    latest = {"api/cpu_percent": Latest(T0, 79.0)}
    assert rule.check(ctx(latest, active=frozenset({fp}))) == []


def test_status_rule_matches_listed_statuses_and_services() -> None:
    rule = StatusRule(name="Down", statuses=("down", "degraded"), services=("api", "database"))
    found = rule.check(ctx(statuses={"api": "degraded", "database": "healthy",
                                     "dashboard": "down"}))
    assert [(c.service, c.value, c.summary) for c in found] == [("api", 1.0, "api is degraded")]


def test_status_rule_summary_says_why_the_service_has_its_status() -> None:
    rule = StatusRule(name="Degraded", statuses=("degraded",))
    found = rule.check(ctx(statuses={"api": "degraded", "database": "degraded"},
                           reasons={"api": ("error_rate high: 2.778 (limit 2)",
                                            "cpu_percent high: 91 (limit 80)")}))
    assert {c.service: c.summary for c in found} == {
        "api": "api is degraded: error_rate high: 2.778 (limit 2); cpu_percent high: 91 "
               "(limit 80)",
        "database": "database is degraded"}  # no reason known: the status alone


def test_status_alert_from_the_ticker_carries_the_status_reasons(tmp_path: Any) -> None:
    # The whole path a tick takes: latest points -> verdicts -> the manager -> the alert.
    fleet = [ServiceConfig(name="api", kind=ServiceKind.API)]
    rule = StatusRule(name="Degraded", statuses=("degraded",))
    manager = AlertManager([rule], fleet, AlertStore(tmp_path / "a.sqlite3"), clock=lambda: T0)
    latest = {series_key("api", M.ERROR_RATE): Latest(T0, 7.5),
              series_key("api", M.UP): Latest(T0, 1.0)}
    ticker = AlertTicker(manager, lambda: latest, lambda: fleet,
                         thresholds={M.ERROR_RATE: (2.0, 5.0)}, interval_s=5.0,
                         clock=lambda: T0)
    assert ticker() is not None and ticker.errors == 0
    [alert] = manager.active()
    assert alert["summary"] == "api is degraded: error_rate critical: 7.5 (limit 5)"


def test_absence_counts_from_last_point_or_from_start_when_never_seen() -> None:
    rule = AbsenceRule(name="Quiet", series="*/up", services=("api", "database"), after_s=60)
    latest = {"api/up": Latest(T0 + 10, 1.0)}
    assert rule.check(ctx(latest, now=T0 + 59)) == []
    found = rule.check(ctx(latest, now=T0 + 69))
    assert [(c.service, c.summary) for c in found] == [("database", "database/up: never seen")]
    found = rule.check(ctx(latest, now=T0 + 75))
    assert [(c.service, c.value) for c in found] == [("api", 65.0), ("database", 75.0)]
    fp = fingerprint("Quiet", "database", ())
    after_restart = ctx(latest, now=T0 + 20, active=frozenset({fp}))
    assert [c.service for c in rule.check(after_restart)] == ["database"]


def test_rate_limit_below_share_with_policy_label() -> None:
    rule = RateLimitRule(name="Quota", min_share=0.1)
    latest = {"openai/ratelimit_remaining:requests": Latest(T0, 40.0),
              "openai/ratelimit_limit:requests": Latest(T0, 500.0),
              "openai/ratelimit_remaining": Latest(T0, 4000.0),
              "openai/ratelimit_limit": Latest(T0, 5000.0)}
    found = rule.check(ctx(latest))
    assert [(c.service, c.labels, c.value) for c in found] == [
        ("openai", (("policy", "requests"),), 0.08)]
    assert found[0].summary == "openai rate limit requests: 40 of 500 left (8%, below 10%)"


def test_rate_limit_at_current_pace_exhausted_before_reset() -> None:
    rule = RateLimitRule(name="Quota", min_share=0.1)
    pace = PaceTracker()

    def at(ts: float, remaining: float) -> list[Any]:
        latest = {"openai/ratelimit_remaining": Latest(ts, remaining),
                  "openai/ratelimit_limit": Latest(ts, 5000.0),
                  "openai/ratelimit_reset_s": Latest(ts, 600.0)}
        return rule.check(ctx(latest, now=ts, pace=pace))

    assert at(T0, 3000.0) == []  # first reading: no pace yet
    assert at(T0 + 10, 2990.0) == []  # 1/s: 2990 s > 600 s to reset
    found = at(T0 + 20, 2890.0)  # 10/s: 289 s < 600 s
    assert [(c.service, c.value) for c in found] == [("openai", 289.0)]
    assert found[0].summary.startswith("openai rate limit quota: at 10/s the 2890 left run out")
    assert at(T0 + 20, 2890.0)[0].value == 289.0  # same sample again: same pace
    assert at(T0 + 30, 5000.0) == []  # window reset: remaining rose, pace forgotten


def test_exhausted_before_reset() -> None:
    assert exhausted_before_reset(100, 2.0, 60) == 50.0
    assert exhausted_before_reset(100, 1.0, 60) is None
    assert exhausted_before_reset(100, 0.0, 60) is None


def test_anomaly_and_forecast_hooks_read_analytics_inputs() -> None:
    anomaly = AnomalyRule(name="Odd", series="*/response_time_ms", min_score=0.7)
    forecast = ForecastRule(name="Full", series="database/disk_percent", within_s=3600)
    c = ctx(anomalies={"api/response_time_ms": 0.9, "database/response_time_ms": 0.2},
            forecasts={"database/disk_percent": 1800.0})
    assert [(x.service, x.value) for x in anomaly.check(c)] == [("api", 0.9)]
    assert [(x.service, x.value) for x in forecast.check(c)] == [("database", 1800.0)]
    assert anomaly.check(ctx()) == [] and forecast.check(ctx()) == []


def test_fingerprint_depends_on_rule_service_and_labels() -> None:
    a = fingerprint("R", "api", (("policy", "x"),))
    assert len(a) == 16
    assert a == fingerprint("R", "api", (("policy", "x"),))
    assert len({a, fingerprint("R", "db", (("policy", "x"),)), fingerprint("R", "api", ()),
                fingerprint("S", "api", (("policy", "x"),))}) == 4
