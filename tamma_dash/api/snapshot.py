"""The HealthMetrics document of the story, built from the newest point of every series."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from tamma_dash import __version__
from tamma_dash.analytics.status import service_status
from tamma_dash.config import ServiceConfig
from tamma_dash.models import M, ServiceKind, Status, split_key
from tamma_dash.store.base import Latest

EXTERNAL = (ServiceKind.PROVIDER, ServiceKind.GIT)


def by_service(latest: Mapping[str, Latest]) -> dict[str, dict[str, Latest]]:
    """Regroup ``{service/metric: Latest}`` as ``{service: {metric: Latest}}``."""
    out: dict[str, dict[str, Latest]] = defaultdict(dict)
    for key, point in latest.items():
        service, metric = split_key(key)
        out[service][metric] = point
    return dict(out)


def health_metrics(
    services: Sequence[ServiceConfig],
    latest: Mapping[str, Latest],
    *,
    thresholds: Mapping[str, tuple[float, float]],
    now: float,
    interval_s: float,
    demo: bool,
    alerts: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Build the HealthMetrics JSON (timestamps ISO 8601 UTC; missing values are null)."""
    grouped = by_service(latest)
    doc_services: dict[str, Any] = {}
    external: dict[str, Any] = {}
    for svc in services:
        values = grouped.get(svc.name, {})
        verdict = service_status(values, thresholds, now=now, interval_s=interval_s)
        if svc.kind in EXTERNAL:
            external[svc.name] = _external(svc, values, verdict.status)
        doc_services[svc.name] = {
            "kind": svc.kind.value,
            "status": verdict.status.word,
            "reasons": list(verdict.reasons),
            "cpu": _first(values, M.CPU, M.PROC_CPU),
            "memory": _first(values, M.MEMORY, M.PROC_MEMORY),
            "disk": _first(values, M.DISK),
            "responseTime": _first(values, M.API_P95, M.RESPONSE_TIME_MS),
            "errorRate": _first(values, M.ERROR_RATE),
            "dependsOn": list(svc.depends_on),
            "lastSeen": _iso(max((p.ts for p in values.values()), default=None)),
        }
    return {
        "timestamp": _iso(now),
        "version": __version__,
        "demo": demo,
        "status": _overall(doc_services),
        "services": doc_services,
        "system": _system(services, grouped, external),
        "alerts": list(alerts),
    }


def _system(
    services: Sequence[ServiceConfig],
    grouped: Mapping[str, Mapping[str, Latest]],
    external: dict[str, Any],
) -> dict[str, Any]:
    def total(metric: str, kinds: tuple[ServiceKind, ...]) -> float | None:
        vals = [grouped.get(s.name, {}).get(metric) for s in services if s.kind in kinds]
        found = [v.value for v in vals if v is not None]
        return sum(found) if found else None

    orchestration = (ServiceKind.ORCHESTRATOR,)
    database = (ServiceKind.DATABASE,)
    return {
        "activeWorkers": _int(total(M.ACTIVE_WORKERS, orchestration)),
        "totalWorkers": _int(total(M.WORKERS_TOTAL, orchestration)),
        "queueDepth": _int(total(M.QUEUE_DEPTH, orchestration)),
        "dbConnections": _int(total(M.DB_ACTIVE, database)),
        "dbPool": {
            "active": _int(total(M.DB_ACTIVE, database)),
            "idle": _int(total(M.DB_IDLE, database)),
            "waiting": _int(total(M.DB_WAITING, database)),
            "max": _int(total(M.DB_MAX, database)),
            "queryP95Ms": _round(total(M.DB_QUERY_P95, database)),
        },
        "externalApis": external,
    }


def _external(svc: ServiceConfig, values: Mapping[str, Latest], status: Status) -> dict[str, Any]:
    return {
        "kind": svc.kind.value,
        "status": status.word,
        "responseTime": _first(values, M.RESPONSE_TIME_MS),
        "successRate": _first(values, M.SUCCESS_RATE),
        "rateLimitRemaining": _first(values, M.RL_REMAINING),
        "rateLimitLimit": _first(values, M.RL_LIMIT),
        "rateLimitResetS": _first(values, M.RL_RESET_S),
    }


def _overall(services: Mapping[str, Any]) -> str:
    words = [s["status"] for s in services.values()]
    if not words:
        return Status.UNKNOWN.word
    if Status.DOWN.word in words:
        return Status.DOWN.word
    if Status.DEGRADED.word in words or Status.UNKNOWN.word in words:
        return Status.DEGRADED.word
    return Status.HEALTHY.word


def _first(values: Mapping[str, Latest], *metrics: str) -> float | None:
    for metric in metrics:
        point = values.get(metric)
        if point is not None:
            return _round(point.value)
    return None


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def _int(value: float | None) -> int | None:
    return None if value is None else round(value)


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return (
        datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
