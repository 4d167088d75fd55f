"""Notifications out, to real HTTP receivers on 127.0.0.1: exact bodies, retries, timeouts."""

from __future__ import annotations

import json
import logging
import socket
import time

import pytest

from tamma_dash.alerts.lifecycle import Alert, AlertState
from tamma_dash.alerts.notify import Format, Notifier, exponential_backoff, redact_url
from tamma_dash.alerts.payloads import Notification
from tamma_dash.models import Severity
from tests.test_alerts_support import T0, receiver


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_alert(**kw: object) -> Alert:
    base: dict[str, object] = dict(
        id=7, fingerprint="0123456789abcdef", rule="ServiceDown", kind="status",
        service="database", severity=Severity.CRITICAL, state=AlertState.FIRING,
        labels={"alertname": "ServiceDown", "service": "database", "severity": "critical"},
        summary="database is down", started_at=T0, fired_at=T0 + 0.25, value=2.0,
        runbook_url="https://wiki.example/db", description="Not answering.")
    base.update(kw)
    return Alert(**base)  # type: ignore[arg-type]


def note(*alerts: Alert, receiver_name: str = "ops") -> Notification:
    return Notification(receiver_name, '{}:{service="database"}', {"service": "database"},
                        list(alerts), T0 + 1, "http://dash.example:8050")


def symptom() -> Alert:
    return make_alert(
        id=8, fingerprint="fedcba9876543210", rule="HighErrorRate", kind="threshold",
        service="api", severity=Severity.WARNING, summary="api error_rate is 12 (> 5)",
        labels={"alertname": "HighErrorRate", "service": "api", "severity": "warning"},
        runbook_url="", description="", state=AlertState.RESOLVED, resolved_at=T0 + 60)


def test_webhook_posts_the_exact_alertmanager_v4_body() -> None:
    with receiver() as rec:
        n = Notifier("ops", rec.url + "/hook", clock=lambda: T0)
        assert n.notify(note(make_alert(), symptom()))
        [got] = rec.wait_for(1)
        assert n.flush(5)
        n.close()
    assert got.path == "/hook"
    assert got.headers["Content-Type"] == "application/json"
    assert got.json() == {
        "version": "4",
        "groupKey": '{}:{service="database"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "ops",
        "groupLabels": {"service": "database"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://dash.example:8050",
        "alerts": [
            {"status": "firing",
             "labels": {"alertname": "ServiceDown", "service": "database",
                        "severity": "critical"},
             "annotations": {"summary": "database is down", "description": "Not answering.",
                             "runbook_url": "https://wiki.example/db", "tamma_dash_alert_id": "7"},
             "startsAt": "2027-01-15T08:00:00.250Z", "endsAt": "0001-01-01T00:00:00Z",
             "generatorURL": "http://dash.example:8050/alerts/7",
             "fingerprint": "0123456789abcdef"},
            {"status": "resolved",
             "labels": {"alertname": "HighErrorRate", "service": "api", "severity": "warning"},
             "annotations": {"summary": "api error_rate is 12 (> 5)", "tamma_dash_alert_id": "8"},
             "startsAt": "2027-01-15T08:00:00.250Z", "endsAt": "2027-01-15T08:01:00.000Z",
             "generatorURL": "http://dash.example:8050/alerts/8",
             "fingerprint": "fedcba9876543210"},
        ],
    }
    assert n.status() == {
        "name": "ops", "format": "alertmanager", "target": f"{rec.url}/…", "sent": 1,
        "failed": 0, "dropped": 0, "attempts": 1, "retries": 0, "queued": 0,
        "last_error": None, "last_error_at": None, "last_success_at": T0}


def test_common_labels_and_truncation() -> None:
    other = make_alert(id=9, fingerprint="1111111111111111",
                       labels={"alertname": "ServiceDown", "service": "api",
                               "severity": "critical"})
    n = Notifier("ops", "http://127.0.0.1:9/", max_alerts=1)
    doc = json.loads(n.body(note(make_alert(), other)))
    assert doc["commonLabels"] == {"alertname": "ServiceDown", "severity": "critical"}
    assert doc["commonAnnotations"] == {"description": "Not answering.",
                                        "runbook_url": "https://wiki.example/db",
                                        "summary": "database is down"}
    assert (len(doc["alerts"]), doc["truncatedAlerts"]) == (1, 1)
    n.close()


def test_failing_receiver_is_retried_with_backoff_then_succeeds() -> None:
    waits: list[float] = []
    with receiver(statuses=[500, 503]) as rec:
        n = Notifier("ops", rec.url, sleep=waits.append, backoff=exponential_backoff(0.5, 30))
        n.notify(note(make_alert()))
        got = rec.wait_for(3)
        assert n.flush(5)
        n.close()
    assert waits == [0.5, 1.0]
    assert len({r.body for r in got}) == 1  # the same body each time
    status = n.status()
    assert {k: status[k] for k in ("sent", "failed", "attempts", "retries", "last_error")} == {
        "sent": 1, "failed": 0, "attempts": 3, "retries": 2, "last_error": "HTTP 503"}


def test_gives_up_after_max_attempts_and_does_not_retry_client_errors() -> None:
    waits: list[float] = []
    with receiver(statuses=[500, 500, 500, 400]) as rec:
        n = Notifier("ops", rec.url, sleep=waits.append, max_attempts=3)
        n.notify(note(make_alert()))
        n.notify(note(make_alert()))
        rec.wait_for(4)
        assert n.flush(5)
        n.close()
    status = n.status()
    assert (status["sent"], status["failed"], status["attempts"], status["retries"]) == (0, 2, 4, 2)
    assert status["last_error"] == "HTTP 400"
    assert waits == [0.5, 1.0]


def test_hanging_receiver_times_out_and_never_blocks_the_caller() -> None:
    with receiver(hang=True) as rec:
        n = Notifier("ops", rec.url, timeout_s=1.0, max_attempts=1, queue_size=1)
        started = time.perf_counter()
        assert n.notify(note(make_alert()))
        rec.wait_for(1)  # the sender is now stuck in the request
        assert n.notify(note(make_alert()))  # queued behind it
        assert not n.notify(note(make_alert()))  # queue full: dropped, not waited for
        assert time.perf_counter() - started < 2.0
        assert n.flush(10)
        n.close()
    status = n.status()
    assert (status["failed"], status["dropped"], status["sent"]) == (2, 1, 0)
    assert status["last_error"] == "timed out after 1 s"


def test_unreachable_receiver_error_names_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}/hooks/T000/B000/s3cr3tTOKEN?token=abc"
    caplog.set_level(logging.WARNING, logger="tamma_dash.alerts.notify")
    n = Notifier("slack", url, format=Format.SLACK, max_attempts=2, sleep=lambda s: None,
                 timeout_s=1)
    n.notify(note(make_alert()))
    assert n.flush(10)
    n.close()
    status = n.status()
    assert status["target"] == f"http://127.0.0.1:{port}/…"
    assert status["last_error"] == f"ConnectionError: could not reach http://127.0.0.1:{port}/…"
    assert status["failed"] == 1
    text = json.dumps(status) + caplog.text
    assert "s3cr3t" not in text and "abc" not in text
    assert "attempt 2 failed" in caplog.text


def test_slack_body_is_a_text_field() -> None:
    with receiver() as rec:
        n = Notifier("chat", rec.url + "/services/T/B/X", format="slack")
        n.notify(note(make_alert(), symptom()))
        [got] = rec.wait_for(1)
        n.close()
    assert got.json() == {"text": (
        "[FIRING:1] service=database\n"
        "• critical ServiceDown (firing): database is down <https://wiki.example/db|runbook>\n"
        "• warning HighErrorRate (resolved): api error_rate is 12 (> 5)")}


def test_alertmanager_api_posts_postable_alerts_to_api_v2() -> None:
    with receiver() as rec:
        n = Notifier("am", rec.url, format=Format.ALERTMANAGER_API)
        assert n.resend_s == 60.0
        n.notify(note(make_alert(), symptom()))
        [got] = rec.wait_for(1)
        n.close()
    assert got.path == "/api/v2/alerts"
    assert got.json() == [
        {"labels": {"alertname": "ServiceDown", "service": "database", "severity": "critical"},
         "annotations": {"summary": "database is down", "description": "Not answering.",
                         "runbook_url": "https://wiki.example/db", "tamma_dash_alert_id": "7"},
         "startsAt": "2027-01-15T08:00:00.250Z", "endsAt": "2027-01-15T08:05:01.000Z",
         "generatorURL": "http://dash.example:8050/alerts/7"},
        {"labels": {"alertname": "HighErrorRate", "service": "api", "severity": "warning"},
         "annotations": {"summary": "api error_rate is 12 (> 5)", "tamma_dash_alert_id": "8"},
         "startsAt": "2027-01-15T08:00:00.250Z", "endsAt": "2027-01-15T08:01:00.000Z",
         "generatorURL": "http://dash.example:8050/alerts/8"},
    ]


def test_redact_url_and_bad_urls() -> None:
    assert redact_url("https://user:pw@hooks.example.com/services/abc?x=1") == \
        "https://hooks.example.com/…"
    assert redact_url("http://127.0.0.1:9093") == "http://127.0.0.1:9093"
    with pytest.raises(ValueError, match="'ftp://h/…' is not an http"):
        Notifier("x", "ftp://h/secret")
