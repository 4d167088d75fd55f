"""Grouping by cause, one notification per group, escalation timing, a tick never blocked."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tamma_dash.alerts import AlertManager, AlertStore, Notifier, Route, RouteStep, group_alerts
from tamma_dash.alerts.grouping import root_of, upstream
from tamma_dash.alerts.lifecycle import Alert, AlertState
from tamma_dash.alerts.rules import StatusRule, ThresholdRule
from tamma_dash.models import Severity
from tamma_dash.store.base import Latest
from tests.test_alerts_support import FakeClock, Receiver, chain_fleet, receiver

FLEET = chain_fleet()
DOWN = StatusRule(name="Down", statuses=("down",), severity=Severity.CRITICAL,
                  keep_firing_for_s=0, route="oncall")
ERRORS = ThresholdRule(name="Errors", series="*/error_rate", operator=">", value=5,
                       keep_firing_for_s=0, route="oncall")


def alert(i: int, service: str, rule: str = "Errors", down: bool = False,
          severity: Severity = Severity.WARNING) -> Alert:
    return Alert(id=i, fingerprint=f"fp{i}", rule=rule, kind="status" if down else "threshold",
                 service=service, severity=severity, labels={}, summary="",
                 state=AlertState.FIRING, started_at=float(i), value=2.0 if down else 9.0)


def test_upstream_and_root_follow_the_dependency_chain() -> None:
    graph = {s.name: s.depends_on for s in FLEET}
    assert upstream("dashboard", graph) == ["api", "database"]
    assert root_of("dashboard", {"api", "database"}, graph) == "database"
    assert root_of("dashboard", {"api"}, graph) == "api"
    assert root_of("dashboard", set(), graph) == "dashboard"
    assert root_of("worker-1", {"database"}, graph) == "worker-1"


def test_alerts_of_dependents_gather_under_the_down_root_as_symptoms() -> None:
    db_down = alert(1, "database", "Down", down=True, severity=Severity.CRITICAL)
    db_errors = alert(2, "database")
    api_down = alert(3, "api", "Down", down=True, severity=Severity.CRITICAL)
    dash_errors = alert(4, "dashboard")
    worker = alert(5, "worker-1")
    groups = group_alerts([worker, dash_errors, api_down, db_errors, db_down], FLEET)
    assert [(g.root, g.cause, g.symptoms) for g in groups] == [
        ("database", db_down, [api_down, dash_errors, db_errors]),
        ("worker-1", worker, []),
    ]
    assert groups[0].key == '{}:{service="database"}'


def test_without_a_down_dependency_each_service_is_its_own_group() -> None:
    api_errors, dash_errors = alert(1, "api"), alert(2, "dashboard")
    groups = group_alerts([dash_errors, api_errors], FLEET)
    assert [(g.root, g.cause, g.symptoms) for g in groups] == [
        ("api", api_errors, []), ("dashboard", dash_errors, [])]


def test_only_an_open_down_alert_explains_its_dependents() -> None:
    db_was_down = alert(1, "database", "Down", down=True)
    db_was_down.state = AlertState.RESOLVED
    api_errors = alert(2, "api")
    assert [g.root for g in group_alerts([db_was_down, api_errors], FLEET)] == ["api", "database"]
    db_was_down.state = AlertState.PENDING
    [group] = group_alerts([db_was_down, api_errors], FLEET)
    assert (group.root, group.cause, group.symptoms) == ("database", db_was_down, [api_errors])


def test_an_unknown_status_does_not_explain_dependents() -> None:
    db_unknown = alert(1, "database", "NoStatus", down=True)
    db_unknown.value = 3.0  # Status.UNKNOWN
    api_errors = alert(2, "api")
    assert [g.root for g in group_alerts([db_unknown, api_errors], FLEET)] == [
        "api", "database"]


def test_the_cause_is_the_down_alert_even_when_another_is_more_severe() -> None:
    down = alert(2, "database", "Down", down=True, severity=Severity.WARNING)
    worse = alert(1, "database", severity=Severity.CRITICAL)
    [group] = group_alerts([worse, down], FLEET)
    assert (group.cause, group.symptoms) == (down, [worse])


@pytest.fixture
def two() -> Iterator[tuple[Receiver, Receiver]]:
    with ExitStack() as stack:
        yield stack.enter_context(receiver()), stack.enter_context(receiver())


def manager(tmp_path: Path, ops: str, pager: str, clock: FakeClock) -> AlertManager:
    route = Route("oncall", (RouteStep("ops", 60.0), RouteStep("pager")))
    notifiers = {"ops": Notifier("ops", ops, clock=clock),
                 "pager": Notifier("pager", pager, clock=clock)}
    return AlertManager([DOWN, ERRORS], FLEET, AlertStore(tmp_path / "a.sqlite3"),
                        routes={"oncall": route}, notifiers=notifiers, clock=clock)


def flush(am: AlertManager) -> None:
    for n in am.notifiers.values():
        assert n.flush(10)


def test_one_notification_for_a_dependency_chain(tmp_path: Path, two: tuple[Receiver, Receiver]
                                                 ) -> None:
    ops, pager = two
    clock = FakeClock()
    am = manager(tmp_path, ops.url, pager.url, clock)
    latest = {"dashboard/error_rate": Latest(clock.now, 30.0)}
    out = am.evaluate(latest, {"database": "down", "api": "down"})
    assert (out.fired, out.notifications) == ([1, 2, 3], 1)
    flush(am)
    [got] = ops.requests
    body = got.json()
    assert (body["groupKey"], body["status"]) == ('{}:{service="database"}', "firing")
    assert [(a["labels"]["alertname"], a["labels"]["service"]) for a in body["alerts"]] == [
        ("Down", "database"), ("Down", "api"), ("Errors", "dashboard")]
    assert am.groups()[0]["cause"]["service"] == "database"
    assert pager.requests == []
    am.close()


def test_escalates_when_unacknowledged_then_resolution_tells_both(
        tmp_path: Path, two: tuple[Receiver, Receiver]) -> None:
    ops, pager = two
    clock = FakeClock()
    am = manager(tmp_path, ops.url, pager.url, clock)
    am.evaluate({}, {"database": "down", "worker-1": "down"})  # two groups: two to ops
    am.acknowledge(2, "ana")  # worker-1's alert will not escalate
    clock.tick(59.9)
    assert am.evaluate({}, {"database": "down", "worker-1": "down"}).escalated == []
    clock.tick(0.1)
    out = am.evaluate({}, {"database": "down", "worker-1": "down"})
    assert (out.escalated, out.notifications) == ([1], 1)
    flush(am)
    assert len(ops.requests) == 2
    [paged] = pager.requests
    assert [a["labels"]["service"] for a in paged.json()["alerts"]] == ["database"]
    history = am.history(service="database")[0]["transitions"]
    assert history[-1]["comment"] == "unacknowledged for 60 s; escalated to pager"
    clock.tick(1000)
    assert am.evaluate({}, {"database": "down", "worker-1": "down"}).escalated == []  # last step
    out = am.evaluate({}, {"worker-1": "down"})
    assert (out.resolved, out.notifications) == ([1], 2)
    flush(am)
    assert [r.json()["status"] for r in ops.requests] == ["firing", "firing", "resolved"]
    assert [r.json()["status"] for r in pager.requests] == ["firing", "resolved"]
    am.close()


def test_escalation_level_survives_a_restart(tmp_path: Path,
                                             two: tuple[Receiver, Receiver]) -> None:
    ops, pager = two
    clock = FakeClock()
    am = manager(tmp_path, ops.url, pager.url, clock)
    am.evaluate({}, {"database": "down"})
    clock.tick(30)
    am.close()
    am = manager(tmp_path, ops.url, pager.url, clock)
    clock.tick(30)
    assert am.evaluate({}, {"database": "down"}).escalated == [1]
    assert am.list("firing")[0]["escalationLevel"] == 1
    am.close()


def test_a_hanging_receiver_never_delays_a_tick(tmp_path: Path) -> None:
    with receiver(hang=True) as rec:
        clock = FakeClock()
        slow = Notifier("ops", rec.url, timeout_s=1.0, max_attempts=1, queue_size=1, clock=clock)
        am = AlertManager([DOWN], FLEET, AlertStore(tmp_path / "a.sqlite3"), clock=clock,
                          routes={"default": Route("default", (RouteStep("ops"),))},
                          notifiers={"ops": slow})
        started = time.perf_counter()
        sent = 0
        for name in ("database", "api", "worker-1", "openai"):
            clock.tick(5)
            sent += am.evaluate({}, {name: "down"}).notifications
        assert time.perf_counter() - started < 1.0  # less than one request timeout, all told
        assert len(am.list("resolved")) == 3
        rec.wait_for(1)
        assert slow.flush(10)
        status = slow.status()
        assert status["last_error"] == "timed out after 1 s"
        assert status["failed"] == sent >= 1
        assert status["failed"] + status["dropped"] == 7  # 1 + 2 + 2 + 2 group notifications
        am.close()


def test_alertmanager_api_notifier_is_resent_while_firing(tmp_path: Path) -> None:
    with receiver() as rec:
        clock = FakeClock()
        am = AlertManager(
            [DOWN], FLEET, AlertStore(tmp_path / "a.sqlite3"), clock=clock,
            routes={"default": Route("default", (RouteStep("am"),))},
            notifiers={"am": Notifier("am", rec.url, format="alertmanager_api", clock=clock)})
        am.evaluate({}, {"database": "down"})
        clock.tick(30)
        assert am.evaluate({}, {"database": "down"}).notifications == 0
        clock.tick(30)
        assert am.evaluate({}, {"database": "down"}).notifications == 1
        clock.tick(5)
        assert am.evaluate({}, {}).notifications == 1  # resolved
        got = rec.wait_for(3)
        assert [r.path for r in got] == ["/api/v2/alerts"] * 3
        assert [r.json()[0]["endsAt"] for r in got] == [
            "2027-01-15T08:05:00.000Z", "2027-01-15T08:06:00.000Z", "2027-01-15T08:01:05.000Z"]
        am.close()
