"""History for a first start: 24 h at full resolution and days of rollups, from the same model.

The series keys are exactly those the collectors produce from the live demo servers, and the
values are the model as the collectors measure it (:mod:`tamma_dash.demo.model_observed`:
rates and quantiles from floored counters, success over the last probes, round trips with what
observing from this process costs, measured on the running fleet), so the charts, baselines
and anomaly models have data the moment the dashboard opens and the first live ticks look
like the history before them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from tamma_dash.demo.context import Arr, FleetState, ServiceState, quantiles_ms
from tamma_dash.demo.faults import Fault
from tamma_dash.demo.model import FleetModel
from tamma_dash.demo.model_external import PROFILES
from tamma_dash.demo.model_observed import (
    NOMINAL_COST,
    SCRAPE_DURATION,
    Observation,
    ObservationCost,
    hold_cap_ms,
    measure_observation,
    observed_columns,
    zero_columns,
)
from tamma_dash.demo.servers import DemoFleet
from tamma_dash.demo.topology import EXTERNAL_NAMES, FLEET_NAMES, WORKERS, spec
from tamma_dash.models import M, series_key

_HOUR = 3600.0
_DAY = 86400.0
_PCT = ("p50", "p95", "p99")

# (service, kind, seconds before now, duration s): in the full-resolution day ...
RECENT_INCIDENTS = (
    ("api", "errors", 20 * _HOUR, 600.0),
    ("worker-2", "down", 14 * _HOUR, 300.0),
    ("database", "db_pool_exhaustion", 6 * _HOUR, 600.0),
    ("github", "rate_limit", 3 * _HOUR, 900.0),
)
# ... and in the rollup days before it.
OLDER_INCIDENTS = (
    ("worker-1", "memory_leak", 5 * _DAY + 4 * _HOUR, 7200.0),
    ("orchestrator", "queue_backlog", 3 * _DAY + 2 * _HOUR, 1800.0),
)


class BulkStore(Protocol):
    """The store's bulk API used for a first start."""

    def is_empty(self) -> bool: ...

    def bulk_load(self, ts: np.ndarray, columns: Mapping[str, np.ndarray]) -> Any: ...

    def bulk_rollups(
        self, step_ts: np.ndarray, columns: Mapping[str, tuple[Arr, Arr, Arr, Arr]]
    ) -> Any: ...


def expected_keys(fleet: object = None) -> set[str]:
    """Every series key the collectors produce from the live demo fleet (``fleet`` unused)."""
    del fleet
    keys: list[tuple[str, str]] = []
    for name in FLEET_NAMES:
        keys += [(name, m) for m in (M.UP, M.STATUS, M.RESPONSE_TIME_MS, M.CPU, M.MEMORY,
                                     M.DISK, "check:uptime", M.SCRAPE_OK, SCRAPE_DURATION,
                                     "health_invalid_values", "scrape_series_dropped")]
        if spec(name).checks_database:
            keys += [(name, "check:database:connections"), (name, "check:database:responseTime")]
    http = (M.REQUEST_RATE, M.ERROR_RATE, M.API_P50, M.API_P95, M.API_P99)
    keys += [("orchestrator", m) for m in (
        M.QUEUE_DEPTH, M.ACTIVE_WORKERS, M.WORKERS_TOTAL, "tamma_tasks_completed_rate",
        "tamma_tasks_failed_rate", *http)]
    for w in WORKERS:
        keys += [(w, m) for m in ("worker_busy", "tamma_worker_tasks_rate",
                                  *(f"tamma_task_duration_{p}_ms" for p in _PCT))]
    keys += [(s, m) for s in ("api", "dashboard") for m in http]
    keys += [("database", m) for m in (M.DB_ACTIVE, M.DB_IDLE, M.DB_WAITING, M.DB_MAX,
                                       M.DB_QUERY_P50, M.DB_QUERY_P95, M.DB_QUERY_P99)]
    keys += [(s, m) for s in EXTERNAL_NAMES for m in (
        M.UP, M.STATUS, M.RESPONSE_TIME_MS, M.SUCCESS_RATE, M.RL_REMAINING, M.RL_LIMIT,
        M.RL_RESET_S)]
    keys += [(s, f"{m}:{s}:tokens") for s in EXTERNAL_NAMES if PROFILES[s].tokens is not None
             for m in (M.RL_REMAINING, M.RL_LIMIT, M.RL_RESET_S)]
    return {series_key(s, m) for s, m in keys}


def _quantile_columns(out: dict[str, Arr], service: str, names: Sequence[str], median: Arr,
                      sigma: Arr, when: Arr | None = None) -> None:
    values = quantiles_ms(median, sigma)
    for name, v in zip(names, values, strict=True):
        out[series_key(service, name)] = v if when is None else np.where(when, v, np.nan)


def series_columns(state: FleetState, seen: Observation | None = None) -> dict[str, Arr]:
    """Map model state onto the collectors' series keys (NaN where nothing is observed).

    With ``seen`` (the ticks of ``state`` and how they are observed), the series a collector
    derives or measures are as it would record them; without, the model's own values.
    """
    out: dict[str, Arr] = {}
    _fleet_columns(out, state)
    _work_columns(out, state)
    for name in EXTERNAL_NAMES:
        st = state[name]
        _put(out, name, st, (
            (M.UP, "up"), (M.STATUS, "health"), (M.RESPONSE_TIME_MS, "response_time_ms"),
            (M.SUCCESS_RATE, "success_rate"), (M.RL_REMAINING, "rl_remaining"),
            (M.RL_LIMIT, "rl_limit"), (M.RL_RESET_S, "rl_reset_s")))
        if "rl_tokens_limit" in st:
            _put(out, name, st, tuple((f"{m}:{name}:tokens", f"rl_tokens_{src}") for m, src in (
                (M.RL_REMAINING, "remaining"), (M.RL_LIMIT, "limit"), (M.RL_RESET_S, "reset_s"))))
    out.update(zero_columns(state))
    if seen is not None:
        out.update(observed_columns(state, seen))
    return out


def _put(out: dict[str, Arr], service: str, st: ServiceState,
         pairs: Sequence[tuple[str, str]]) -> None:
    for metric, src in pairs:
        out[series_key(service, metric)] = np.asarray(st[src], dtype=np.float64)


def _fleet_columns(out: dict[str, Arr], state: FleetState) -> None:
    """What the health check and the /metrics scrape of every fleet service yield."""
    for name in FLEET_NAMES:
        st = state[name]
        _put(out, name, st, (
            (M.UP, "up"), (M.STATUS, "health"), (M.SCRAPE_OK, "up"),
            (M.RESPONSE_TIME_MS, "response_time_ms"), (M.CPU, "cpu_percent"),
            (M.MEMORY, "memory_percent"), (M.DISK, "disk_percent"),
            ("check:uptime", "uptime_s")))
        if "db_check" in st:
            _put(out, name, st, (("check:database:connections", "db_connections"),
                                 ("check:database:responseTime", "db_response_ms")))
        if "request_rate" in st:
            _put(out, name, st, ((M.REQUEST_RATE, "request_rate"),))
            out[series_key(name, M.ERROR_RATE)] = 100.0 * st["error_share"]
            _quantile_columns(out, name, (M.API_P50, M.API_P95, M.API_P99),
                              st["lat_median_s"], st["lat_sigma"])


def _work_columns(out: dict[str, Arr], state: FleetState) -> None:
    """Queue, workers and database pool series."""
    _put(out, "orchestrator", state["orchestrator"], (
        (M.QUEUE_DEPTH, "queue_depth"), (M.ACTIVE_WORKERS, "active_workers"),
        (M.WORKERS_TOTAL, "workers_total"),
        ("tamma_tasks_completed_rate", "tasks_completed_rate"),
        ("tamma_tasks_failed_rate", "tasks_failed_rate")))
    for w in WORKERS:
        st = state[w]
        _put(out, w, st, (("worker_busy", "busy"), ("tamma_worker_tasks_rate", "tasks_rate")))
        _quantile_columns(out, w, [f"tamma_task_duration_{p}_ms" for p in _PCT],
                          st["task_median_s"], st["task_sigma"], when=st["tasks_rate"] > 0)
    db = state["database"]
    _put(out, "database", db, ((M.DB_ACTIVE, "db_active"), (M.DB_IDLE, "db_idle"),
                               (M.DB_WAITING, "db_waiting"), (M.DB_MAX, "db_max")))
    _quantile_columns(out, "database", (M.DB_QUERY_P50, M.DB_QUERY_P95, M.DB_QUERY_P99),
                      db["query_median_s"], db["query_sigma"])


ROLLUP_SOURCE_S = 5.0


def incidents(now: float, interval_s: float) -> list[Fault]:
    """The deterministic incidents written into the history, aligned to ticks."""
    out = []
    for i, (service, kind, ago, duration) in enumerate((*OLDER_INCIDENTS, *RECENT_INCIDENTS)):
        start = np.floor((now - ago) / interval_s) * interval_s
        out.append(Fault(f"history-{i + 1}", service, kind, float(start), float(start + duration)))
    return out


def _rollups(
    model: FleetModel, faults: Sequence[Fault], start: float, end: float, step_s: float,
    seen: Observation,
) -> tuple[Arr, dict[str, tuple[Arr, Arr, Arr, Arr]]]:
    """min/max/mean/count per step of every series over ticks in ``[start, end)``."""
    iv = model.interval_s
    ticks = np.arange(np.ceil(start / iv), np.ceil(end / iv), dtype=np.int64)
    chunk = max(1, int(_DAY // step_s)) * step_s
    parts: list[tuple[Arr, dict[str, tuple[Arr, Arr, Arr, Arr]]]] = []
    for c0 in np.arange(start, end, chunk):
        t = ticks[(ticks * iv >= c0) & (ticks * iv < c0 + chunk)] * iv
        if t.size:
            at = Observation(t, iv, model.seed, seen.cost, seen.hold_cap_ms)
            parts.append(_reduce_steps(t, series_columns(model.state(t, faults), at), step_s))
    steps = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0)
    keys = parts[0][1].keys() if parts else ()
    cols = {k: tuple(np.concatenate([p[1][k][i] for p in parts]) for i in range(4))
            for k in keys}
    return steps, cols  # type: ignore[return-value]


def _reduce_steps(
    t: Arr, columns: Mapping[str, Arr], step_s: float
) -> tuple[Arr, dict[str, tuple[Arr, Arr, Arr, Arr]]]:
    group = np.floor(t / step_s)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    out = {}
    for key, v in columns.items():
        finite = np.isfinite(v)
        counts = np.add.reduceat(finite.astype(np.float64), starts)
        sums = np.add.reduceat(np.where(finite, v, 0.0), starts)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(counts > 0, sums / counts, np.nan)
        out[key] = (np.fmin.reduceat(v, starts), np.fmax.reduceat(v, starts), means, counts)
    return group[starts] * step_s, out


def observation_cost(fleet: DemoFleet | None) -> ObservationCost:
    """Measured on the running ``fleet`` when there is one, else the nominal figures."""
    if fleet is None or fleet.started_at is None:
        return NOMINAL_COST
    return measure_observation(fleet)


def backfill(
    store: BulkStore, fleet_or_model: DemoFleet | FleetModel, *, now: float, interval_s: float,
    full_s: float = _DAY, rollup_days: int = 7, rollup_step_s: float = 60.0,
) -> dict[str, Any]:
    """Write history into an empty store; returns {ticks, series, rollup_steps, incidents}."""
    if not store.is_empty():
        return {"skipped": True, "ticks": 0, "series": 0, "rollup_steps": 0, "incidents": []}
    fleet = fleet_or_model if isinstance(fleet_or_model, DemoFleet) else None
    base = fleet.model if fleet is not None else fleet_or_model
    model = FleetModel(base.seed, interval_s)  # type: ignore[union-attr]
    past = incidents(now, interval_s)
    faults = [*past, *(fleet.book.timeline() if fleet is not None else ())]
    n = round(full_s / interval_s)
    last = int(np.ceil(now / interval_s)) - 1
    ts = np.arange(last - n + 1, last + 1, dtype=np.int64) * interval_s
    seen = Observation(ts, interval_s, model.seed, observation_cost(fleet),
                       hold_cap_ms(base.interval_s))  # type: ignore[union-attr]
    columns = series_columns(model.state(ts, faults), seen)
    store.bulk_load(ts, columns)
    steps = 0
    if rollup_days > 0:
        first = float(np.floor(ts[0] / rollup_step_s) * rollup_step_s) - rollup_days * _DAY
        # Rollups summarise at most a 5 s cadence: a fast test tick need not model 7 days at 0.1 s.
        coarse = model if interval_s >= ROLLUP_SOURCE_S else FleetModel(model.seed, ROLLUP_SOURCE_S)
        step_ts, rolled = _rollups(coarse, faults, first, float(ts[0]), rollup_step_s, seen)
        store.bulk_rollups(step_ts, rolled)
        steps = int(step_ts.size)
    if fleet is not None:
        fleet.book.record(past)
    return {"skipped": False, "ticks": n, "series": len(columns), "rollup_steps": steps,
            "incidents": [f.as_dict(now) for f in past]}
