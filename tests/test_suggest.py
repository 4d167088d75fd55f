"""A mistyped name in the config gets "did you mean" next to the list of valid choices."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tamma_dash import config
from tamma_dash.config import ConfigError
from tamma_dash.models import ServiceKind
from tamma_dash.suggest import did_you_mean

KINDS = ", ".join(k.value for k in ServiceKind)
SERVICES = (
    '[[services]]\nname = "database"\nkind = "database"\n'
    '[[services]]\nname = "web"\nkind = "api"\ndepends_on = ["database"]\n'
)


def problems_of(tmp_path: Path, text: str) -> list[str]:
    """The problems ``config.load`` finds in a TOML file holding ``text``."""
    path = tmp_path / "tamma.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        config.load(path, environ={})
    return err.value.problems


def rule_problems(tmp_path: Path, rule: str) -> list[str]:
    """The problems of one ``[[alerts.rules]]`` table, loaded with two known services."""
    return problems_of(tmp_path, f"{SERVICES}[alerts]\n[[alerts.rules]]\n{rule}")


# the helper


def test_a_close_choice_is_suggested() -> None:
    assert did_you_mean("apii", ["worker", "api", "database"]) == " (did you mean 'api'?)"


def test_the_closest_of_several_choices_wins() -> None:
    assert did_you_mean("critcal", ["info", "warning", "critical"]) == (
        " (did you mean 'critical'?)"
    )


def test_nothing_close_means_no_hint() -> None:
    assert did_you_mean("zzz", ["api", "worker"]) == ""
    assert did_you_mean("anything", []) == ""


def test_the_cutoff_sits_between_one_of_two_and_two_of_three_letters() -> None:
    assert did_you_mean("ab", ["ac"]) == ""  # similarity 0.5
    assert did_you_mean("abc", ["abd"]) == " (did you mean 'abd'?)"  # similarity 0.67


def test_case_is_ignored_and_the_choice_is_quoted_as_spelt() -> None:
    assert did_you_mean("API", ["api", "worker"]) == " (did you mean 'api'?)"
    assert did_you_mean("Interval_S", ["interval_s"]) == " (did you mean 'interval_s'?)"


def test_a_non_string_or_empty_word_gets_no_hint() -> None:
    assert did_you_mean(3, ["3", "api"]) == ""
    assert did_you_mean(None, ["none"]) == ""
    assert did_you_mean("", ["a"]) == ""


def test_any_iterable_of_choices_works() -> None:
    assert did_you_mean("pid_fil", (k for k in ("name", "pid_file"))) == (
        " (did you mean 'pid_file'?)"
    )


# config.py call sites, each through a real TOML file


def test_top_level_key(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "intervall_s = 5\n") == [
        "unknown key 'intervall_s' (did you mean 'interval_s'?); known keys are alerts, auth, "
        "data_dir, demo, disk_mounts, history, host, host_metrics, interval_s, port, "
        "retention_s, rollup, seed, services, thresholds"
    ]


def test_rollup_key(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "[rollup]\nstepp_s = 60\n") == [
        "rollup: unknown key 'stepp_s' (did you mean 'step_s'?); known keys are retention_s, step_s"
    ]


def test_service_kind(tmp_path: Path) -> None:
    assert problems_of(tmp_path, '[[services]]\nname = "web"\nkind = "apii"\n') == [
        f"services[0] (web).kind: 'apii' is not one of {KINDS} (did you mean 'api'?)"
    ]


def test_service_kind_with_nothing_close_lists_the_kinds_only(tmp_path: Path) -> None:
    assert problems_of(tmp_path, '[[services]]\nname = "web"\nkind = "zzz"\n') == [
        f"services[0] (web).kind: 'zzz' is not one of {KINDS}"
    ]


def test_service_key(tmp_path: Path) -> None:
    text = '[[services]]\nname = "web"\nkind = "api"\nhelth_url = "http://x/health"\n'
    assert problems_of(tmp_path, text) == [
        "services[0]: unknown key 'helth_url' (did you mean 'health_url'?); known keys are "
        "depends_on, health_url, kind, max_body_bytes, metrics_url, name, probe_url, process, "
        "timeout_s, token_env"
    ]


def test_process_key(tmp_path: Path) -> None:
    text = '[[services]]\nname = "w"\nkind = "worker"\nprocess = { pid_fil = "/run/w.pid" }\n'
    assert problems_of(tmp_path, text) == [
        "services[0] (w).process: unknown key 'pid_fil' (did you mean 'pid_file'?); "
        "known keys are cmdline, name, pid_file"
    ]


def test_depends_on_service(tmp_path: Path) -> None:
    text = SERVICES.replace('depends_on = ["database"]', 'depends_on = ["databse"]')
    assert problems_of(tmp_path, text) == [
        "services[1] (web).depends_on: unknown service 'databse' (did you mean 'database'?); "
        "known: database, web"
    ]


def test_check_config_command_prints_the_hint_and_the_choices(tmp_path: Path) -> None:
    path = tmp_path / "tamma.toml"
    path.write_text('[[services]]\nname = "web"\nkind = "apii"\n', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "tamma_dash.cli", "check-config", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 1
    assert f"services[0] (web).kind: 'apii' is not one of {KINDS} (did you mean 'api'?)" in (
        done.stderr
    )


# ruleparse.py call sites, each through [[alerts.rules]] in a real TOML file


def test_rule_kind(tmp_path: Path) -> None:
    assert rule_problems(tmp_path, 'name = "r"\nkind = "anomally"\n') == [
        "alerts.rules[0].kind: 'anomally' is not one of threshold, status, absence, rate_limit, "
        "anomaly, forecast (did you mean 'anomaly'?)"
    ]


def test_rule_severity(tmp_path: Path) -> None:
    assert rule_problems(tmp_path, 'name = "r"\nkind = "status"\nseverity = "critcal"\n') == [
        "alerts.rules[0].severity: 'critcal' is not one of info, warning, critical "
        "(did you mean 'critical'?)"
    ]


def test_rule_key(tmp_path: Path) -> None:
    assert rule_problems(tmp_path, 'name = "r"\nkind = "status"\nfor_sec = 30\n') == [
        "alerts.rules[0]: unknown key 'for_sec' (did you mean 'for_s'?) for a status rule; "
        "known keys are description, for_s, keep_firing_for_s, kind, labels, name, route, "
        "runbook_url, services, severity, statuses"
    ]


def test_rule_status_word(tmp_path: Path) -> None:
    assert rule_problems(tmp_path, 'name = "r"\nkind = "status"\nstatuses = ["dwn"]\n') == [
        "alerts.rules[0].statuses: 'dwn' is not one of down, degraded, unknown "
        "(did you mean 'down'?)",
        'alerts.rules[0].statuses: choose at least one of "down", "degraded", "unknown"',
    ]


def test_rule_services(tmp_path: Path) -> None:
    assert rule_problems(tmp_path, 'name = "r"\nkind = "status"\nservices = ["databse"]\n') == [
        "alerts.rules[0].services: 'databse' is not one of database, web "
        "(did you mean 'database'?)"
    ]


def test_rule_series_service(tmp_path: Path) -> None:
    rule = 'name = "r"\nkind = "anomaly"\nseries = "databse/cpu_percent"\n'
    assert rule_problems(tmp_path, rule) == [
        "alerts.rules[0].series: unknown service 'databse' (did you mean 'database'?); "
        "use '*' or one of database, web"
    ]


def test_rule_operator_gets_no_hint_since_spelling_points_the_wrong_way(tmp_path: Path) -> None:
    rule = 'name = "r"\nkind = "threshold"\nseries = "*/cpu_percent"\noperator = "=>"\nvalue = 1\n'
    assert rule_problems(tmp_path, rule) == [
        "alerts.rules[0].operator: '=>' is not one of >, >=, <, <=, ==, !="
    ]


# the other tables: [alerts], notifiers, routes, [auth], [history]


def hint_lines(problems: list[str], hint: str) -> list[str]:
    return [p for p in problems if hint in p]


def test_alerts_key(tmp_path: Path) -> None:
    found = hint_lines(problems_of(tmp_path, f"{SERVICES}[alerts]\ndefault_rule = false\n"),
                       "(did you mean 'default_rules'?)")
    assert len(found) == 1 and "known keys are default_rules, external_url" in found[0], found


def test_notifier_key(tmp_path: Path) -> None:
    text = (f'{SERVICES}[alerts]\n[[alerts.notifiers]]\nname = "ops"\nurl_env = "OPS_URL"\n'
            'timout_s = 3\n')
    found = hint_lines(problems_of(tmp_path, text), "unknown key 'timout_s'")
    assert len(found) == 1, found
    assert "(did you mean 'timeout_s'?)" in found[0] and "max_attempts" in found[0], found


def test_rule_route(tmp_path: Path) -> None:
    text = (f'{SERVICES}[alerts]\n[[alerts.notifiers]]\nname = "ops"\nurl_env = "OPS_URL"\n'
            '[[alerts.routes]]\nname = "pager"\nsteps = [{ notifier = "ops" }]\n'
            '[[alerts.rules]]\nname = "Down"\nkind = "status"\nroute = "pagr"\n')
    found = hint_lines(problems_of(tmp_path, text), "unknown route 'pagr'")
    assert found == ["alerts.rules (Down).route: unknown route 'pagr' (did you mean 'pager'?); "
                     "known: pager"], found


def test_auth_key_and_mode(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, '[auth]\nmode = "bearr"\ntokn_env = "T"\n')
    assert "auth: unknown key 'tokn_env' (did you mean 'token_env'?); known keys are mode, " \
           "user, password_env, token_env" in problems, problems
    assert "auth.mode: 'bearr' is not one of basic, bearer (did you mean 'bearer'?)" in problems


def test_history_key(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, '[history]\nbackend = "sqlite"\nstep = 60\n')
    assert problems == ["history: unknown key 'step' (did you mean 'step_s'?); known keys are "
                        "backend, step_s, timeout_s, url"], problems
