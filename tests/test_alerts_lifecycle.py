"""The alert state machine under a fake clock, persisted in a real SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tamma_dash.alerts import (
    AlertManager,
    AlertNotFound,
    AlertStateError,
    AlertStore,
)
from tamma_dash.alerts.rules import Rule, StatusRule, ThresholdRule
from tamma_dash.models import Severity
from tamma_dash.store.base import Latest
from tests.test_alerts_support import T0, FakeClock, chain_fleet

FLEET = chain_fleet()
CPU = ThresholdRule(name="HotCpu", series="api/cpu_percent", operator=">", value=90,
                    for_s=10, keep_firing_for_s=10, severity=Severity.CRITICAL,
                    runbook_url="https://wiki.example/cpu")
DOWN = StatusRule(name="Down", statuses=("down",), keep_firing_for_s=0)


class Harness:
    """An AlertManager over a SQLite file, ticked with a fake clock."""

    def __init__(self, path: Path, rules: list[Rule], clock: FakeClock | None = None) -> None:
        self.path, self.rules = path, rules
        self.clock = clock or FakeClock()
        self.am = AlertManager(rules, FLEET, AlertStore(path), clock=self.clock)

    def step(self, cpu: float | None = None, down: tuple[str, ...] = ()) -> None:
        """Advance 5 s and evaluate with this CPU reading and these services down."""
        self.clock.tick(5.0)
        latest = {} if cpu is None else {"api/cpu_percent": Latest(self.clock.now, cpu)}
        self.am.evaluate(latest, {name: "down" for name in down})

    def cpu(self, value: float) -> None:
        self.step(cpu=value)


    def states(self) -> list[tuple[int, str]]:
        return [(a["id"], a["state"]) for a in self.am.list("all")]

    def reopen(self) -> None:
        self.am.close()
        self.am = AlertManager(self.rules, FLEET, AlertStore(self.path), clock=self.clock)


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path / "alerts.sqlite3", [CPU, DOWN])
    yield harness
    harness.am.close()


def transitions(h: Harness, alert_id: int) -> list[tuple[float, str | None, str, str, str]]:
    rows = h.am.history()
    found = next(a for a in rows if a["id"] == alert_id)["transitions"]
    return [(t["at"], t["from"], t["to"], t["actor"], t["comment"]) for t in found]


def test_for_zero_fires_on_the_first_tick_with_both_transitions_stored(h: Harness) -> None:
    h.step(down=("database",))
    [alert] = h.am.list("firing")
    assert (alert["rule"], alert["service"], alert["severity"]) == ("Down", "database", "warning")
    assert alert["labels"] == {"alertname": "Down", "service": "database", "severity": "warning"}
    assert alert["firedAt"] == alert["startedAt"] == "2027-01-15T08:00:05.000Z"
    assert transitions(h, alert["id"]) == [
        ("2027-01-15T08:00:05.000Z", None, "pending", "system", "database is down"),
        ("2027-01-15T08:00:05.000Z", "pending", "firing", "system", "database is down"),
    ]


def test_pending_becomes_firing_after_for(h: Harness) -> None:
    h.cpu(95)
    assert h.am.list("pending")[0]["summary"] == "api cpu_percent is 95 (> 90)"
    h.cpu(96)  # 5 s held
    assert h.states() == [(1, "pending")]
    h.cpu(97)  # 10 s held
    assert h.states() == [(1, "firing")]
    assert h.am.list("firing")[0]["value"] == 97.0


def test_pending_that_clears_before_for_is_dropped_silently(h: Harness) -> None:
    h.cpu(95)
    h.cpu(50)
    assert h.states() == []
    assert h.am.history() == []


def test_flapping_condition_never_fires(h: Harness) -> None:
    for i in range(20):
        h.cpu(95 if i % 2 == 0 else 10)
    assert h.states() == []
    assert h.am.stats()["fired"] == 0


def test_hysteresis_resolves_only_after_clear_for_keep_firing_for(h: Harness) -> None:
    for _ in range(3):
        h.cpu(95)
    assert h.states() == [(1, "firing")]
    h.cpu(10)  # clear since t=20
    h.cpu(95)  # back: the clear count restarts
    h.cpu(10)  # clear since t=30
    h.cpu(10)  # 5 s clear
    assert h.states() == [(1, "firing")]
    h.cpu(10)  # 10 s clear
    assert h.states() == [(1, "resolved")]
    assert transitions(h, 1)[-1] == ("2027-01-15T08:00:40.000Z", "firing", "resolved", "system",
                                     "condition clear for 10 s")


def test_acknowledged_stays_while_condition_holds_then_resolves(h: Harness) -> None:
    for _ in range(3):
        h.cpu(95)
    h.clock.tick(2)
    acked = h.am.acknowledge(1, "  ana@example.org ", "looking")
    assert (acked["state"], acked["acknowledgedBy"]) == ("acknowledged", "ana@example.org")
    for _ in range(5):
        h.cpu(99)
    assert h.states() == [(1, "acknowledged")]
    h.cpu(10)
    h.cpu(10)
    h.cpu(10)
    assert h.states() == [(1, "resolved")]
    assert [t[1:4] for t in transitions(h, 1)] == [
        (None, "pending", "system"), ("pending", "firing", "system"),
        ("firing", "acknowledged", "ana@example.org"), ("acknowledged", "resolved", "system")]
    assert transitions(h, 1)[2][4] == "looking"


def test_resolve_by_a_person_then_a_new_episode_if_the_condition_holds(h: Harness) -> None:
    h.step(down=("database",))
    done = h.am.resolve(1, "bob", "restarted it")
    assert (done["state"], done["resolvedBy"]) == ("resolved", "bob")
    h.step(down=("database",))
    assert h.states() == [(2, "firing"), (1, "resolved")]
    assert transitions(h, 1)[-1][1:] == ("firing", "resolved", "bob", "restarted it")


def test_invalid_actions_raise_clear_errors(h: Harness) -> None:
    h.cpu(95)
    with pytest.raises(AlertStateError, match="alert 1 is pending; only a firing alert"):
        h.am.acknowledge(1, "ana")
    with pytest.raises(AlertNotFound, match="no alert with id 99"):
        h.am.resolve(99, "ana")
    h.cpu(95)
    h.cpu(95)
    with pytest.raises(AlertStateError, match="actor: say who you are"):
        h.am.acknowledge(1, "   ")
    h.am.resolve(1, "ana")
    with pytest.raises(AlertStateError, match="alert 1 is already resolved"):
        h.am.acknowledge(1, "ana")
    with pytest.raises(ValueError, match="state: 'open' is not one of"):
        h.am.list("open")


def test_restart_restores_firing_acknowledged_and_clear_countdown(h: Harness) -> None:
    for _ in range(3):
        h.step(cpu=95, down=("database",))  # HotCpu (id 1) fires at 10 s, Down (id 2) at once
    h.am.acknowledge(1, "ana", "on it")
    h.step(cpu=10, down=("database",))  # HotCpu clear since now
    before = [h.am.list(s) for s in ("pending", "firing", "acknowledged", "all")]
    h.reopen()
    assert [h.am.list(s) for s in ("pending", "firing", "acknowledged", "all")] == before
    assert h.states() == [(2, "firing"), (1, "acknowledged")]
    h.step(cpu=10, down=("database",))  # 5 s clear, counted across the restart
    assert h.states() == [(2, "firing"), (1, "acknowledged")]
    h.step(cpu=10, down=("database",))  # 10 s clear
    assert h.states() == [(2, "firing"), (1, "resolved")]


def test_restart_keeps_acknowledged_and_ids(tmp_path: Path) -> None:
    h = Harness(tmp_path / "a.sqlite3", [DOWN])
    h.step(down=("database", "api"))
    h.am.acknowledge(1, "ana", "on it")
    h.reopen()
    assert h.states() == [(2, "firing"), (1, "acknowledged")]
    h.step(down=("database", "api"))
    assert h.states() == [(2, "firing"), (1, "acknowledged")]  # same episodes, no duplicates
    h.step(down=("worker-1", "database", "api"))
    assert h.states()[0] == (3, "firing")  # ids continue after the restart
    h.am.close()
    with sqlite3.connect(tmp_path / "a.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_history_filters_and_stats_means(h: Harness) -> None:
    h.step(down=("database",))  # id 1 fires at T0+5
    h.clock.tick(30)
    h.am.acknowledge(1, "ana")  # acked after 30 s
    h.clock.tick(30)
    h.am.resolve(1, "ana")  # resolved after 60 s
    for _ in range(3):
        h.cpu(95)  # id 2 fires at T0+75
    h.clock.tick(100)
    h.am.resolve(2, "bob")  # resolved after 100 s
    assert [a["id"] for a in h.am.history(service="api")] == [2]
    assert [a["id"] for a in h.am.history(severity="critical")] == [2]
    assert [a["id"] for a in h.am.history(start=T0 + 70)] == [2]
    assert [a["id"] for a in h.am.history(end=T0 + 50)] == [1]
    with pytest.raises(ValueError, match="severity: 'loud'"):
        h.am.history(severity="loud")
    stats = h.am.stats()
    assert {k: stats[k] for k in ("fired", "acknowledged", "resolved",
                                  "meanTimeToAcknowledgeS", "meanTimeToResolveS")} == {
        "fired": 2, "acknowledged": 1, "resolved": 2, "meanTimeToAcknowledgeS": 30.0,
        "meanTimeToResolveS": 80.0}
    assert stats["active"] == {"pending": 0, "firing": 0, "acknowledged": 0}
    assert h.am.stats(now=T0 + 5 + 24 * 3600 + 1)["fired"] == 1  # the first is out of the window


def test_removed_rule_resolves_its_alert_on_restart(tmp_path: Path) -> None:
    h = Harness(tmp_path / "a.sqlite3", [DOWN])
    h.step(down=("database",))
    h.am.close()
    h = Harness(tmp_path / "a.sqlite3", [CPU], clock=h.clock)
    h.cpu(10)
    assert h.states() == [(1, "resolved")]
    assert transitions(h, 1)[-1][3:] == ("system", "rule 'Down' no longer configured")
    h.am.close()


def test_evaluate_reports_changes(h: Harness) -> None:
    h.clock.tick(5)
    out = h.am.evaluate({}, {"database": "down", "api": "down"})
    assert (out.fired, out.resolved, out.notifications) == ([1, 2], [], 0)
    h.clock.tick(5)
    out = h.am.evaluate({}, {"api": "down"})
    assert (out.fired, out.resolved) == ([], [1])
    assert h.clock.now == T0 + 10


def test_list_all_shows_the_newest_value_of_active_alerts(h: Harness) -> None:
    for value in (95, 96, 97, 99):
        h.cpu(value)
    assert h.am.list("all")[0]["value"] == h.am.list("firing")[0]["value"] == 99.0
    assert h.am.history()[0]["value"] == 99.0


def test_a_locked_database_is_reported_and_the_changes_saved_later(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    clock = FakeClock()
    am = AlertManager([DOWN], FLEET, AlertStore(path, busy_timeout_s=0.05), clock=clock)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    clock.tick(5)
    assert am.evaluate({}, {"database": "down"}).fired == [1]  # alerting goes on
    assert am.persist_error == "OperationalError: database is locked"
    assert am.stats()["persistError"] == "OperationalError: database is locked"
    blocker.execute("COMMIT")
    blocker.close()
    clock.tick(5)
    am.evaluate({}, {"database": "down"})
    assert am.persist_error is None
    am.close()
    am = AlertManager([DOWN], FLEET, AlertStore(path), clock=clock)
    [alert] = am.history()
    assert (alert["state"], [t["to"] for t in alert["transitions"]]) == (
        "firing", ["pending", "firing"])
    am.close()


def test_default_rules_fire_service_down_on_the_first_tick(tmp_path: Path) -> None:
    from tamma_dash.alerts import default_rules

    clock = FakeClock()
    am = AlertManager(default_rules(FLEET), FLEET, AlertStore(tmp_path / "a.sqlite3"),
                      clock=clock)
    clock.tick(1)
    out = am.evaluate({"api/up": Latest(clock.now, 0.0), "api/cpu_percent": Latest(clock.now, 99)},
                      {"api": "down"})
    assert out.fired == [1]
    assert [(a["rule"], a["state"]) for a in am.list("all")] == [
        ("HighCpu", "pending"), ("ServiceDown", "firing")]
    am.close()


def _defaults(tmp_path: Path) -> tuple[AlertManager, FakeClock]:
    from tamma_dash.alerts import default_rules

    clock = FakeClock()
    return AlertManager(default_rules(FLEET), FLEET, AlertStore(tmp_path / "a.sqlite3"),
                        clock=clock), clock


def _rules_by_state(am: AlertManager) -> list[tuple[str, str, str]]:
    return [(a["rule"], a["service"], a["state"]) for a in reversed(am.list("all"))]


def test_default_degraded_on_one_tick_does_not_fire(tmp_path: Path) -> None:
    am, clock = _defaults(tmp_path)
    clock.tick(5)
    assert am.evaluate({}, {"api": "degraded"}).fired == []
    clock.tick(5)
    assert am.evaluate({}, {"api": "healthy"}).fired == []
    clock.tick(5)
    assert am.evaluate({}, {"api": "degraded"}).fired == []
    assert _rules_by_state(am) == [("ServiceDegraded", "api", "pending")]
    am.close()


def test_default_degraded_fires_on_the_second_consecutive_tick_even_an_early_one(
    tmp_path: Path,
) -> None:
    am, clock = _defaults(tmp_path)
    clock.tick(5)
    am.evaluate({}, {"api": "degraded"})
    clock.tick(1.5)  # a slow collection delayed the first tick, the next one came on schedule
    out = am.evaluate({}, {"api": "degraded"})
    assert out.fired == [1]
    assert _rules_by_state(am) == [("ServiceDegraded", "api", "firing")]
    am.close()


def test_default_service_down_still_fires_on_the_first_tick_for_our_services(
    tmp_path: Path,
) -> None:
    am, clock = _defaults(tmp_path)
    clock.tick(5)
    out = am.evaluate({}, {"worker-1": "down", "database": "down"})
    assert len(out.fired) == 2
    assert sorted(_rules_by_state(am)) == [("ServiceDown", "database", "firing"),
                                           ("ServiceDown", "worker-1", "firing")]
    am.close()


def test_default_provider_down_needs_two_failed_probes_in_a_row(tmp_path: Path) -> None:
    am, clock = _defaults(tmp_path)
    for status in ("down", "healthy", "down"):  # lone 5xx answers: blips, not an outage
        clock.tick(5)
        assert am.evaluate({}, {"openai": status}).fired == []
    clock.tick(5)
    assert am.evaluate({}, {"openai": "down"}).fired != []
    assert _rules_by_state(am) == [("ProviderDown", "openai", "firing")]
    am.close()


def test_an_older_file_gains_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE alerts (id INTEGER PRIMARY KEY, fingerprint TEXT)")
    store = AlertStore(path)
    assert store.active() == [] and store.next_id() == 1
    store.close()
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(alerts)")]
    assert columns[:3] == ["id", "fingerprint", "rule"] and "escalated_at" in columns
