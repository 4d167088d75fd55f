"""Status verdicts and the HealthMetrics document of the story."""

from tamma_dash.analytics.status import service_status
from tamma_dash.api.snapshot import health_metrics
from tamma_dash.config import DEFAULT_THRESHOLDS, ServiceConfig
from tamma_dash.models import ServiceKind, Status, make_labels
from tamma_dash.store.base import Latest

NOW = 10_000.0


def _latest(**values: float) -> dict[str, Latest]:
    return {k: Latest(NOW - 1, v) for k, v in values.items()}


def test_healthy_when_answering_and_within_thresholds() -> None:
    v = service_status(
        _latest(up=1, status=0, cpu_percent=20), DEFAULT_THRESHOLDS, now=NOW, interval_s=5
    )
    assert v.status is Status.HEALTHY and v.reasons == ()


def test_down_when_not_answering_with_reason() -> None:
    latest = {"up": Latest(NOW - 1, 0.0, make_labels(reason="timeout", detail="no answer in 2 s"))}
    v = service_status(latest, DEFAULT_THRESHOLDS, now=NOW, interval_s=5)
    assert v.status is Status.DOWN
    assert v.reasons == ("not answering: timeout (no answer in 2 s)",)


def test_threshold_degrades_but_never_marks_down() -> None:
    v = service_status(
        _latest(up=1, status=0, disk_percent=99.0), DEFAULT_THRESHOLDS, now=NOW, interval_s=5
    )
    assert v.status is Status.DEGRADED
    assert v.reasons == ("disk_percent critical: 99 (limit 95)",)


def test_self_reported_fail_is_down() -> None:
    v = service_status(_latest(up=1, status=2), DEFAULT_THRESHOLDS, now=NOW, interval_s=5)
    assert v.status is Status.DOWN


def test_stale_data_is_unknown() -> None:
    latest = {"up": Latest(NOW - 60, 1.0)}
    v = service_status(latest, DEFAULT_THRESHOLDS, now=NOW, interval_s=5)
    assert v.status is Status.UNKNOWN and "no data for 60 s" in v.reasons[0]


def test_health_metrics_document_follows_the_story_schema() -> None:
    services = (
        ServiceConfig("orchestrator", ServiceKind.ORCHESTRATOR, depends_on=("database",)),
        ServiceConfig("database", ServiceKind.DATABASE),
        ServiceConfig("github", ServiceKind.GIT),
    )
    latest = {
        "orchestrator/up": Latest(NOW - 1, 1.0),
        "orchestrator/status": Latest(NOW - 1, 0.0),
        "orchestrator/cpu_percent": Latest(NOW - 1, 12.345),
        "orchestrator/response_time_p95_ms": Latest(NOW - 1, 80.0),
        "orchestrator/error_rate": Latest(NOW - 1, 0.5),
        "orchestrator/active_workers": Latest(NOW - 1, 3.0),
        "orchestrator/queue_depth": Latest(NOW - 1, 17.0),
        "database/up": Latest(NOW - 1, 1.0),
        "database/db_pool_active": Latest(NOW - 1, 8.0),
        "database/db_pool_max": Latest(NOW - 1, 20.0),
        "github/up": Latest(NOW - 1, 1.0),
        "github/response_time_ms": Latest(NOW - 1, 120.0),
        "github/success_rate": Latest(NOW - 1, 100.0),
        "github/ratelimit_remaining": Latest(NOW - 1, 4000.0),
    }
    doc = health_metrics(
        services, latest, thresholds=DEFAULT_THRESHOLDS, now=NOW, interval_s=5, demo=True
    )
    assert doc["timestamp"] == "1970-01-01T02:46:40.000Z"
    assert doc["demo"] is True and doc["alerts"] == [] and doc["status"] == "healthy"
    orch = doc["services"]["orchestrator"]
    assert orch["status"] == "healthy" and orch["cpu"] == 12.345 and orch["responseTime"] == 80.0
    assert orch["errorRate"] == 0.5 and orch["disk"] is None and orch["dependsOn"] == ["database"]
    sysm = doc["system"]
    assert sysm["activeWorkers"] == 3 and sysm["queueDepth"] == 17 and sysm["dbConnections"] == 8
    assert sysm["dbPool"]["max"] == 20
    assert sysm["externalApis"]["github"] == {
        "kind": "git",
        "status": "healthy",
        "responseTime": 120.0,
        "successRate": 100.0,
        "rateLimitRemaining": 4000.0,
        "rateLimitLimit": None,
        "rateLimitResetS": None,
    }
