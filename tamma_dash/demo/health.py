"""The IETF health-check (application/health+json) document of one demo fleet service."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from tamma_dash.demo.context import ServiceState, level
from tamma_dash.demo.topology import ServiceSpec

HEALTH_CONTENT_TYPE = "application/health+json"
WORDS = ("pass", "warn", "fail")


def rfc3339(ts: float) -> str:
    """UTC RFC 3339 timestamp with millisecond precision."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _value(st: ServiceState, key: str) -> float:
    return float(st[key][0])


def _check(
    st: ServiceState, key: str, unit: str, status: int, when: str, **extra: str
) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {"componentType": "system", **extra,
                             "observedValue": round(_value(st, key), 2),
                             "observedUnit": unit, "status": WORDS[status], "time": when}
    return [entry]


def _pct_check(st: ServiceState, key: str, when: str) -> list[dict[str, Any]]:
    return _check(st, key, "percent", int(level(st[key], key)[0]), when)


def _output(spec: ServiceSpec, st: ServiceState) -> str:
    """A short human reason for warn/fail, naming what to look at."""
    reasons = []
    if "db_waiting" in st and _value(st, "db_waiting") > 0:
        active, cap = _value(st, "db_active"), _value(st, "db_max")
        reasons.append(f"connection pool exhausted ({active:.0f}/{cap:.0f} active, "
                       f"{_value(st, 'db_waiting'):.0f} waiting)")
    if "db_check" in st and _value(st, "db_check") > 0 and spec.name != "database":
        reasons.append("database degraded")
    if "error_share" in st and _value(st, "error_share") >= 0.05:
        reasons.append(f"{100 * _value(st, 'error_share'):.0f}% of requests failing")
    if "queue_depth" in st and _value(st, "queue_depth") >= 100:
        reasons.append(f"task queue backlog ({_value(st, 'queue_depth'):.0f} waiting)")
    if "workers_total" in st and _value(st, "workers_total") < 3:
        reasons.append(f"only {_value(st, 'workers_total'):.0f} of 3 workers alive")
    for key, what in (("cpu_percent", "cpu"), ("memory_percent", "memory"),
                      ("disk_percent", "disk")):
        if level(st[key], key)[0] > 0:
            reasons.append(f"{what} at {_value(st, key):.0f}%")
    return "; ".join(reasons) or "slow responses"


def health_document(spec: ServiceSpec, st: ServiceState, now: float) -> tuple[int, dict[str, Any]]:
    """HTTP status (200 for pass/warn, 503 for fail) and the health+json body."""
    when = rfc3339(now)
    status = int(np.nan_to_num(st["health"][0], nan=2.0))
    checks: dict[str, list[dict[str, Any]]] = {
        "cpu:utilization": _pct_check(st, "cpu_percent", when),
        "memory:utilization": _pct_check(st, "memory_percent", when),
        "disk:utilization": _pct_check(st, "disk_percent", when),
        "uptime": _check(st, "uptime_s", "s", 0, when),
    }
    if spec.checks_database:
        db_status = int(st["db_check"][0])
        ds = {"componentId": "postgres", "componentType": "datastore"}
        checks["database:connections"] = _check(st, "db_connections", "connections",
                                                db_status, when, **ds)
        checks["database:responseTime"] = _check(st, "db_response_ms", "ms", db_status,
                                                 when, **ds)
    doc: dict[str, Any] = {
        "status": WORDS[status], "version": "1", "releaseId": "1.4.2",
        "serviceId": spec.name, "description": f"Tamma {spec.name} (demo)",
    }
    if status > 0:
        doc["output"] = _output(spec, st)
    doc["checks"] = checks
    return (503 if status == 2 else 200), doc
