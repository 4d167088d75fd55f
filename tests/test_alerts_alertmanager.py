"""With a real Alertmanager (Debian's prometheus-alertmanager) on loopback: our alerts reach it
through its API v2, and alerts it routes to our webhook receiver show beside our own."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.conftest import Live, live_settings, serve_app, wait_for

AM_BIN = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
pytestmark = pytest.mark.skipif(AM_BIN is None, reason="apt-get install prometheus-alertmanager")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


AM_CONFIG = """
route:
  receiver: tamma
  group_by: ['alertname', 'service']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: tamma
    webhook_configs:
      - url: {webhook}
        send_resolved: true
"""


@pytest.fixture(scope="module")
def am_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, am_port: int) -> Iterator[tuple[Live, str]]:
    """Our product (0.5 s tick, notifier to Alertmanager) and an Alertmanager that sends back."""
    from tamma_dash.runtime import build
    from tamma_dash.ui.app import create_app

    tmp = tmp_path_factory.mktemp("am")
    am_url = f"http://127.0.0.1:{am_port}"
    alerts = {"notifiers": [{"name": "team-am", "format": "alertmanager_api", "url": am_url}]}
    rt = build(live_settings(tmp / "data", alerts=alerts), "run")
    server, url = serve_app(create_app(rt.start()).server)
    (tmp / "am.yml").write_text(AM_CONFIG.format(webhook=f"{url}/api/alerts/webhook"))
    proc = subprocess.Popen(
        [str(AM_BIN), f"--config.file={tmp / 'am.yml'}", f"--storage.path={tmp / 'am-data'}",
         f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=(tmp / "am.log").open("w"))
    try:
        wait_for(lambda: _ready(am_url), timeout=30)
        yield Live(rt, url, server), am_url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        server.shutdown()
        rt.stop()


def _ready(am_url: str) -> bool:
    try:
        return requests.get(f"{am_url}/-/ready", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _am_alerts(am_url: str) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = requests.get(f"{am_url}/api/v2/alerts", timeout=2).json()
    return got


def _ours(url: str, state: str = "all") -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = requests.get(f"{url}/api/alerts?state={state}",
                                             timeout=5).json()["alerts"]
    return got


def _am_webhooks_sent(am_url: str) -> float:
    text = requests.get(f"{am_url}/metrics", timeout=2).text
    for line in text.splitlines():
        if line.startswith('alertmanager_notifications_total{integration="webhook"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_our_firing_alert_reaches_alertmanager_with_its_labels(stack: tuple[Live, str]) -> None:
    live, am_url = stack
    r = requests.post(f"{live.url}/api/demo/faults",
                      json={"service": "worker-2", "kind": "down", "duration_s": 60}, timeout=5)
    assert r.status_code == 201
    ours = wait_for(lambda: [a for a in _ours(live.url, "firing")
                             if a["service"] == "worker-2" and a["rule"] == "ServiceDown"])
    theirs = wait_for(lambda: [a for a in _am_alerts(am_url)
                               if a["labels"].get("alertname") == "ServiceDown"
                               and a["labels"].get("service") == "worker-2"], timeout=30)
    assert isinstance(ours, list) and isinstance(theirs, list)
    assert theirs[0]["labels"]["severity"] == "critical"
    assert theirs[0]["status"]["state"] == "active"
    assert theirs[0]["annotations"]["tamma_dash_alert_id"] == str(ours[0]["id"])
    status = requests.get(f"{live.url}/api/alerts/stats", timeout=5).json()["notifiers"]
    assert [n["name"] for n in status] == ["team-am"]
    assert wait_for(lambda: requests.get(f"{live.url}/api/alerts/stats", timeout=5)
                    .json()["notifiers"][0]["sent"] >= 1)
    metrics = requests.get(f"{live.url}/metrics", timeout=5).text
    sent = [ln for ln in metrics.splitlines()
            if ln.startswith('tamma_dash_notifications_sent_total{notifier="team-am"}')]
    assert sent and float(sent[0].split()[-1]) >= 1
    assert 'tamma_dash_alerts{severity="critical",state="firing"}' in metrics
    assert "tamma_dash_notifications_failed_total" in metrics


def test_alertmanager_alerts_show_beside_ours_and_resolve(stack: tuple[Live, str]) -> None:
    live, am_url = stack
    now = time.time()
    external = {"labels": {"alertname": "NfsStale", "service": "legacy-nfs",
                           "severity": "warning"},
                "annotations": {"summary": "<b>stale</b> handles on nfs-3"},
                "generatorURL": "http://prometheus.example/graph"}
    r = requests.post(f"{am_url}/api/v2/alerts", json=[external], timeout=5)
    assert r.status_code == 200
    got = wait_for(lambda: [a for a in _ours(live.url, "firing") if a["service"] == "legacy-nfs"],
                   timeout=30)
    assert isinstance(got, list)
    [alert] = got
    assert alert["source"] == "alertmanager" and alert["rule"] == "NfsStale"
    assert alert["summary"] == "<b>stale</b> handles on nfs-3"  # kept as text, shown as text
    # Alertmanager also routed our own ServiceDown back to us: it is not taken as a new alert.
    wait_for(lambda: _am_webhooks_sent(am_url) >= 2, timeout=30)
    assert not [a for a in _ours(live.url) if a["source"] == "alertmanager"
                and a["service"] != "legacy-nfs"]
    ended = {**external, "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}
    assert requests.post(f"{am_url}/api/v2/alerts", json=[ended], timeout=5).status_code == 200
    wait_for(lambda: [a for a in _ours(live.url, "resolved") if a["id"] == alert["id"]],
             timeout=30)


def test_acknowledge_from_the_api_records_actor_and_comment(stack: tuple[Live, str]) -> None:
    live, _ = stack
    firing = wait_for(lambda: [a for a in _ours(live.url, "firing") if a["source"] == "rule"])
    assert isinstance(firing, list)
    target = firing[0]["id"]
    r = requests.post(f"{live.url}/api/alerts/{target}/ack",
                      json={"actor": "ann", "comment": "looking"}, timeout=5)
    assert r.status_code == 200 and r.json()["acknowledgedBy"] == "ann"
    again = requests.post(f"{live.url}/api/alerts/{target}/ack", json={"actor": "ann"}, timeout=5)
    assert again.status_code == 409 and "fix" in again.json()
    history = requests.get(f"{live.url}/api/alerts/history", timeout=5).json()["alerts"]
    [row] = [a for a in history if a["id"] == target]
    assert row["transitions"][-1] == {**row["transitions"][-1], "to": "acknowledged",
                                      "actor": "ann", "comment": "looking"}


def test_bad_webhook_bodies_get_clear_errors(stack: tuple[Live, str]) -> None:
    live, _ = stack
    url = f"{live.url}/api/alerts/webhook"
    bad = requests.post(url, data=b"{not json", timeout=5)
    assert bad.status_code == 400 and "JSON" in bad.json()["error"]
    old = requests.post(url, json={"version": "3", "alerts": []}, timeout=5)
    assert old.status_code == 422 and "version" in old.json()["error"]
    big = requests.post(url, data=b" " * (2 * 1024 * 1024), timeout=10)
    assert big.status_code == 413 and "limit" in big.json()["error"]

