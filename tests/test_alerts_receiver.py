"""Alertmanager webhook payloads in: a real-format fixture, bad payloads, ingestion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tamma_dash.alerts import (
    AlertManager,
    AlertStore,
    ExternalAlert,
    Route,
    RouteStep,
    WebhookPayloadError,
    parse_alertmanager_webhook,
)
from tests.test_alerts_support import T0, FakeClock, chain_fleet

FIXTURE = Path(__file__).parent / "fixtures" / "alertmanager" / "webhook_v4.json"


def body(**changes: Any) -> bytes:
    doc = json.loads(FIXTURE.read_bytes())
    doc.update(changes)
    return json.dumps(doc).encode()


def test_parses_the_alertmanager_fixture() -> None:
    firing, resolved = parse_alertmanager_webhook(FIXTURE.read_bytes())
    assert firing == ExternalAlert(
        fingerprint="5f8d0c1b3e2a7d41", status="firing",
        labels={"alertname": "KubePodCrashLooping", "container": "billing",
                "job": "kube-state-metrics", "namespace": "payments",
                "pod": "billing-7c9d8f6b5-x2x4k", "service": "billing", "severity": "critical"},
        annotations={
            "description": "Pod payments/billing-7c9d8f6b5-x2x4k (billing) is in waiting state "
                           "(reason: \"CrashLoopBackOff\").",
            "runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/"
                           "kubepodcrashlooping",
            "summary": "Pod is crash looping."},
        starts_at=1799999921.123456, ends_at=None,
        generator_url="http://prometheus.example:9090/graph?g0.expr=max_over_time%28kube_pod_"
                      "container_status_waiting_reason%5B5m%5D%29+%3E%3D+1&g0.tab=1",
        receiver="tamma-dash")
    assert firing.service == "billing"
    assert (resolved.status, resolved.starts_at, resolved.ends_at) == (
        "resolved", 1799993531.5, 1799999966.5)
    assert resolved.service == "node-exporter"  # no service label: the job


@pytest.mark.parametrize(("payload", "status", "message"), [
    (b"{not json", 400, "body is not UTF-8 JSON"),
    (b"\xff\xfe", 400, "body is not UTF-8 JSON"),
    (b"[]", 400, "body: expected a JSON object with version and alerts"),
    (body(version="3"), 422, "version: expected \"4\" (Alertmanager webhook format), got '3'"),
    (body(version=4), 422, "got 4"),
    (body(alerts={"a": 1}), 400, "alerts: expected a list of alert objects"),
    (body(alerts=[{"status": "firing", "labels": {"a": "b"}}, {"status": "gone"}]), 400,
     "alerts[1].status: 'gone' is not one of firing, resolved"),
    (body(alerts=[{"status": "firing", "labels": {"a": 1}}]), 400,
     "alerts[0].labels: expected an object of string values"),
    (body(alerts=[{"status": "firing", "labels": {}}]), 400,
     "alerts[0].labels: at least one label (alertname) is required"),
    (body(alerts=[{"status": "firing", "labels": {"a": "b"}, "startsAt": "yesterday"}]), 400,
     "alerts[0].startsAt: 'yesterday' is not an RFC 3339 time"),
    (body(alerts=[{"status": "firing", "labels": {"a": "b"}, "endsAt": "2027-01-15T07:00:00"}]),
     400, "alerts[0].endsAt: '2027-01-15T07:00:00' has no time zone"),
])
def test_malformed_payloads_are_refused_with_a_clear_reason(
        payload: bytes, status: int, message: str) -> None:
    with pytest.raises(WebhookPayloadError) as err:
        parse_alertmanager_webhook(payload)
    assert message in str(err.value)
    assert err.value.http_status == status


def test_oversized_payload_is_refused_before_parsing() -> None:
    with pytest.raises(WebhookPayloadError, match="payload is 2049 bytes, over the 2048-byte") \
            as err:
        parse_alertmanager_webhook(b"x" * 2049, max_bytes=2048)
    assert err.value.http_status == 413
    assert len(parse_alertmanager_webhook(FIXTURE.read_bytes(), max_bytes=4096)) == 2


def test_missing_fingerprint_is_derived_from_labels() -> None:
    raw = body(alerts=[{"status": "firing", "labels": {"alertname": "X", "job": "j"}}])
    again = body(alerts=[{"status": "resolved", "labels": {"job": "j", "alertname": "X"}}])
    [a], [b] = parse_alertmanager_webhook(raw), parse_alertmanager_webhook(again)
    assert a.fingerprint == b.fingerprint and len(a.fingerprint) == 16
    assert (a.starts_at, a.annotations, a.generator_url) == (None, {}, "")


def test_ingest_opens_firing_and_closes_resolved_external_alerts(tmp_path: Path) -> None:
    clock = FakeClock()
    route = {"default": Route("default", (RouteStep("ops", 1.0), RouteStep("pager")))}
    am = AlertManager([], chain_fleet(), AlertStore(tmp_path / "a.sqlite3"), clock=clock,
                      routes=route)
    alerts = parse_alertmanager_webhook(FIXTURE.read_bytes())
    assert am.ingest(alerts) == 1  # the resolved one was never open here
    [shown] = am.list("firing")
    assert {k: shown[k] for k in ("rule", "service", "severity", "source", "kind", "firedAt")} == {
        "rule": "KubePodCrashLooping", "service": "billing", "severity": "critical",
        "source": "alertmanager", "kind": "external", "firedAt": "2027-01-15T07:58:41.123Z"}
    assert am.ingest(alerts[:1]) == 0  # repeated: nothing new
    clock.tick(30)
    out = am.evaluate({}, {})  # rules never touch external alerts, nor does escalation
    assert (out.fired, out.resolved, out.escalated) == ([], [], [])
    assert am.list("firing")[0]["id"] == shown["id"]
    clock.tick(30)
    gone = [ExternalAlert(**{**alerts[0].__dict__, "status": "resolved", "ends_at": T0 + 30})]
    assert am.ingest(gone) == 1
    [closed] = am.list("resolved")
    assert (closed["resolvedAt"], closed["resolvedBy"]) == ("2027-01-15T08:00:30.000Z",
                                                           "alertmanager")
    am.close()
