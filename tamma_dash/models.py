"""The shared vocabulary every room speaks: samples, statuses, service kinds."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from typing import NamedTuple, Protocol

Clock = Callable[[], float]
"""Returns epoch seconds; injected everywhere time matters (``time.time`` in production)."""

Labels = tuple[tuple[str, str], ...]


class Sample(NamedTuple):
    """One observation of one series at one time.

    ``labels`` is metadata about the observation (a failure reason, a unit, a check status);
    it is *not* part of the series key, so a changing reason never splits a series.
    """

    ts: float
    service: str
    metric: str
    value: float
    labels: Labels = ()

    @property
    def key(self) -> str:
        return series_key(self.service, self.metric)

    def label(self, name: str, default: str = "") -> str:
        for k, v in self.labels:
            if k == name:
                return v
        return default


def series_key(service: str, metric: str) -> str:
    """The series key ``service/metric`` used by the store, the API and the UI."""
    return f"{service}/{metric}"


def split_key(key: str) -> tuple[str, str]:
    """Inverse of :func:`series_key`; metric names may themselves contain ``/``."""
    service, _, metric = key.partition("/")
    return service, metric


def make_labels(mapping: Mapping[str, object] | None = None, **extra: object) -> Labels:
    """Build a sorted, hashable label tuple from a mapping, dropping empty values."""
    merged: dict[str, object] = dict(mapping or {})
    merged.update(extra)
    return tuple(sorted((str(k), str(v)) for k, v in merged.items() if v not in (None, "")))


def is_finite(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


class Collector(Protocol):
    """A source of samples. ``collect`` must not raise for target failures: they are data."""

    name: str

    def collect(self) -> list[Sample]: ...


class Status(enum.IntEnum):
    """Service health, ordered so that ``max`` gives the worst."""

    HEALTHY = 0
    DEGRADED = 1
    DOWN = 2
    UNKNOWN = 3

    @property
    def word(self) -> str:
        return self.name.lower()

    @classmethod
    def from_health(cls, text: str) -> Status:
        """Map IETF health-check words (pass/warn/fail) and common synonyms to a Status."""
        t = text.strip().lower()
        if t in ("pass", "ok", "up", "healthy", "green"):
            return cls.HEALTHY
        if t in ("warn", "warning", "degraded", "yellow"):
            return cls.DEGRADED
        if t in ("fail", "down", "error", "critical", "unhealthy", "red"):
            return cls.DOWN
        return cls.UNKNOWN


class Severity(enum.IntEnum):
    INFO = 0
    WARNING = 1
    CRITICAL = 2


class ServiceKind(enum.StrEnum):
    ORCHESTRATOR = "orchestrator"
    WORKER = "worker"
    API = "api"
    DASHBOARD = "dashboard"
    DATABASE = "database"
    PROVIDER = "provider"
    GIT = "git"
    HOST = "host"


# Canonical metric names. Collectors map what targets report onto these so that the
# API and the UI can rely on them; anything unmapped keeps its own name.
class M:
    UP = "up"  # 1 reachable and answering, 0 not (labels: reason)
    STATUS = "status"  # Status value: 0 healthy, 1 degraded, 2 down
    RESPONSE_TIME_MS = "response_time_ms"  # health check / probe round trip
    CPU = "cpu_percent"
    MEMORY = "memory_percent"
    DISK = "disk_percent"
    LOAD1 = "load1"
    NET_RX = "net_rx_bytes_per_s"
    NET_TX = "net_tx_bytes_per_s"
    PROC_CPU = "process_cpu_percent"
    PROC_RSS = "process_rss_bytes"
    PROC_MEMORY = "process_memory_percent"
    PROC_THREADS = "process_threads"
    PROC_OPEN_FILES = "process_open_files"
    ACTIVE_WORKERS = "active_workers"
    WORKERS_TOTAL = "workers_total"
    QUEUE_DEPTH = "queue_depth"
    REQUEST_RATE = "request_rate"  # requests per second
    ERROR_RATE = "error_rate"  # percent of requests answered 5xx
    API_P50 = "response_time_p50_ms"
    API_P95 = "response_time_p95_ms"
    API_P99 = "response_time_p99_ms"
    DB_ACTIVE = "db_pool_active"
    DB_IDLE = "db_pool_idle"
    DB_WAITING = "db_pool_waiting"
    DB_MAX = "db_pool_max"
    DB_QUERY_P50 = "db_query_p50_ms"
    DB_QUERY_P95 = "db_query_p95_ms"
    DB_QUERY_P99 = "db_query_p99_ms"
    SUCCESS_RATE = "success_rate"  # percent of probes that succeeded (providers, git)
    RL_REMAINING = "ratelimit_remaining"
    RL_LIMIT = "ratelimit_limit"
    RL_RESET_S = "ratelimit_reset_s"  # seconds until the window resets
    SCRAPE_OK = "scrape_ok"  # 1 when /metrics was fetched and parsed
