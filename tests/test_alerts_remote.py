"""Alerts across processes: a web-only reader sees the collector's alerts and queues actions that
the collector applies (one writer), over one real SQLite file; and the same through two real
runtimes (`collect` and `serve`) on one data directory."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tamma_dash.alerts import AlertManager, AlertNotFound, AlertStateError, AlertStore
from tamma_dash.alerts.remote import ActionPending, ActionPump, RemoteAlerts, apply_actions
from tamma_dash.alerts.rules import StatusRule
from tests.conftest import live_settings, wait_for
from tests.test_alerts_support import FakeClock, chain_fleet

FLEET = chain_fleet()
DOWN = StatusRule(name="Down", statuses=("down",), keep_firing_for_s=0)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[AlertManager, RemoteAlerts, FakeClock]]:
    clock = FakeClock()
    path = tmp_path / "alerts.sqlite3"
    am = AlertManager([DOWN], FLEET, AlertStore(path), clock=clock)
    remote = RemoteAlerts(AlertStore(path), lambda: FLEET, clock=clock, wait_s=20.0)
    yield am, remote, clock
    am.close()
    remote.close()


def test_reader_sees_what_the_collector_fired(pair: tuple[AlertManager, RemoteAlerts,
                                                          FakeClock]) -> None:
    am, remote, _ = pair
    am.evaluate({}, {FLEET[0].name: "down"})
    [alert] = remote.active()
    assert alert["state"] == "firing" and alert["service"] == FLEET[0].name
    assert [a["id"] for a in remote.list("firing")] == [alert["id"]]
    assert remote.groups()[0]["root"] == FLEET[0].name
    assert remote.stats()["active"]["firing"] == 1


def test_ack_is_applied_by_the_collector_and_answered(pair: tuple[AlertManager, RemoteAlerts,
                                                                  FakeClock]) -> None:
    am, remote, _ = pair
    am.evaluate({}, {FLEET[0].name: "down"})
    alert_id = am.active()[0]["id"]
    pump = ActionPump(am, am.clock, every_s=0.02).start()
    try:
        got = remote.acknowledge(alert_id, "ann", "looking")
        with pytest.raises(AlertStateError, match="acknowledged"):
            remote.acknowledge(alert_id, "bob")
        with pytest.raises(AlertNotFound):
            remote.resolve(987, "ann")
    finally:
        pump.stop()
    assert got["state"] == "acknowledged" and got["acknowledgedBy"] == "ann"
    assert am.active()[0]["state"] == "acknowledged"  # the collector's own view changed
    [row] = remote.history()
    assert (row["transitions"][-1]["actor"], row["transitions"][-1]["comment"]) == ("ann",
                                                                                    "looking")


def test_no_collector_means_a_clear_pending_error(tmp_path: Path) -> None:
    slept: list[float] = []
    remote = RemoteAlerts(AlertStore(tmp_path / "a.sqlite3"), lambda: FLEET, wait_s=0.0,
                          sleep=slept.append)
    with pytest.raises(ActionPending, match="tamma-dash collect"):
        remote.acknowledge(1, "ann")
    am = AlertManager([DOWN], FLEET, AlertStore(tmp_path / "a.sqlite3"), clock=FakeClock())
    assert apply_actions(am, 0.0) == 1  # applied later, when the collector runs
    assert apply_actions(am, 0.0) == 0
    am.close()
    remote.close()


def test_collect_and_serve_runtimes_share_services_and_alerts(tmp_path: Path) -> None:
    from tamma_dash.runtime import build
    from tamma_dash.ui.app import create_app

    settings = live_settings(tmp_path / "data")
    web = build(settings, "serve").start()  # a web worker may start before the collector
    collector = build(settings, "collect").start()
    try:
        client = create_app(web).server.test_client()
        wait_for(lambda: "worker-3" in client.get("/api/health").json["services"])
        collector.fleet.inject("worker-3", "down", 60.0)
        found = wait_for(lambda: [a for a in client.get("/api/alerts?state=firing").json["alerts"]
                                  if a["service"] == "worker-3"])
        assert isinstance(found, list)
        r = client.post(f"/api/alerts/{found[0]['id']}/ack", json={"actor": "ann",
                                                                    "comment": "mine"})
        assert r.status_code == 200 and r.json["acknowledgedBy"] == "ann"
        assert any(a["id"] == found[0]["id"] and a["state"] == "acknowledged"
                   for a in collector.alerts.active())
        assert client.get("/api/health").json["alerts"]  # the page header sees them too
    finally:
        web.stop()
        collector.stop()


def test_reader_threads_do_not_block_each_other(pair: tuple[AlertManager, RemoteAlerts,
                                                            FakeClock]) -> None:
    am, remote, _ = pair
    am.evaluate({}, {name.name: "down" for name in FLEET})
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(20):
                assert len(remote.active()) == len(FLEET)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
