"""The work the fleet does: tasks through queue and workers, requests through api and database.

One chain of cause and effect: load -> request and task arrival -> worker utilisation ->
busy workers and queue depth -> latency -> database pool and query latency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tamma_dash.demo.context import Arr, FleetState, ServiceState, TickContext
from tamma_dash.demo.topology import PROVIDERS, WORKERS

TASK_MEDIAN_S = 1.6
TASK_SIGMA = 0.65
ARRIVAL_PEAK = 0.95  # tasks per second at load 1.0 (three workers manage about 1.2)
POOL_MAX = 20
_WORKER_EXTERNALS = (*PROVIDERS, "github")


@dataclass(frozen=True)
class HttpProfile:
    """Healthy traffic of one HTTP-serving service at load 1.0."""

    peak_rps: float
    median_s: float
    sigma: float
    error_share: float
    share_404: float


HTTP_PROFILES: dict[str, HttpProfile] = {
    "orchestrator": HttpProfile(45.0, 0.018, 0.5, 0.002, 0.001),
    "api": HttpProfile(210.0, 0.032, 0.55, 0.004, 0.02),
    "dashboard": HttpProfile(28.0, 0.055, 0.5, 0.002, 0.01),
}


def error_fault_share(ctx: TickContext, service: str) -> Arr:
    """Share of 5xx added by an ``errors`` fault: 20-40 %, wandering over minutes."""
    z = ctx.slow(service, "errfault", 120.0)
    share = 0.2 + 0.2 * np.clip(0.5 + 0.35 * z, 0.0, 1.0)
    return np.where(ctx.fault(service, "errors"), share, 0.0)


def database_state(ctx: TickContext) -> ServiceState:
    """Connection pool and query latency; exhaustion pins active at max and queues callers."""
    name, load = "database", ctx.load
    exhausted = ctx.fault(name, "db_pool_exhaustion")
    wobble = 1.0 + 0.12 * ctx.white(name, "active")
    active = np.clip(np.round(2.0 + 12.0 * load * wobble), 1, POOL_MAX - 2)
    active = np.where(exhausted, POOL_MAX, active)
    waiting = np.round(4.0 + 8.0 * load + 3.0 * np.abs(ctx.white(name, "waiting"))
                       + ctx.elapsed(name, "db_pool_exhaustion") / 30.0)
    median = 0.0022 * (1.0 + 0.9 * load**2) * np.exp(0.1 * ctx.white(name, "query"))
    median = median * np.where(exhausted, 8.0, 1.0) * np.where(ctx.fault(name, "latency"), 3.0, 1.0)
    sigma = 0.7 + 0.2 * exhausted + 0.4 * ctx.fault(name, "latency")
    return {
        "db_active": active, "db_idle": POOL_MAX - active,
        "db_waiting": np.where(exhausted, waiting, 0.0), "db_max": np.full(ctx.n, float(POOL_MAX)),
        "query_median_s": median, "query_sigma": sigma,
        "query_rate": 260.0 * load * (1.0 + 0.05 * ctx.white(name, "qps")),
        "exhausted": exhausted.astype(np.float64),
        "error_share": 0.001 + error_fault_share(ctx, name),
    }


def _impaired(ctx: TickContext, names: tuple[str, ...]) -> Arr:
    """Fraction of ``names`` that are down, slow, rate-limited or erroring at each instant."""
    total = np.zeros(ctx.n)
    for n in names:
        bad = np.zeros(ctx.n, dtype=bool)
        for kind in ("down", "latency", "rate_limit", "errors"):
            bad |= ctx.fault(n, kind)
        total += bad
    return total / len(names)


def work_state(ctx: TickContext) -> FleetState:
    """Workers and the orchestrator's queue: utilisation drives busy workers, queue, latency."""
    load = ctx.load
    slow_llm = _impaired(ctx, PROVIDERS)
    task_median = (TASK_MEDIAN_S * (1.0 + 0.25 * load) * (1.0 + 1.5 * slow_llm)
                   * np.exp(0.08 * ctx.white("orchestrator", "task")))
    backlog = ctx.fault("orchestrator", "queue_backlog")
    medians = {w: task_median * np.where(ctx.fault(w, "latency"), 3.0, 1.0) for w in WORKERS}
    rates = {w: 1.0 / (m * np.exp(TASK_SIGMA**2 / 2.0)) for w, m in medians.items()}
    ups = {w: ~ctx.fault(w, "down") for w in WORKERS}
    capacity = sum(ups[w] * rates[w] for w in WORKERS)
    arrival = ARRIVAL_PEAK * load * (1.0 + 0.05 * ctx.slow("orchestrator", "arrival"))
    rho = arrival / np.maximum(capacity, 1e-6)
    rho_busy = np.where(backlog, 1.0, np.clip(rho, 0.0, 0.98))
    fail_base = 0.015 + 0.08 * _impaired(ctx, _WORKER_EXTERNALS)
    out: FleetState = {}
    for w in WORKERS:
        busy = ups[w] & ((ctx.unif(w, "busy") < rho_busy) | backlog)
        out[w] = {
            "busy": busy.astype(np.float64),
            "tasks_rate": busy * rates[w] * (1.0 + 0.1 * ctx.white(w, "tasks")),
            "task_median_s": medians[w], "task_sigma": np.full(ctx.n, TASK_SIGMA),
            "fail_share": np.minimum(fail_base + error_fault_share(ctx, w), 1.0),
        }
    out["orchestrator"] = _orchestrator(ctx, out, rho, backlog, ups)
    return out


def _orchestrator(
    ctx: TickContext, workers: FleetState, rho: Arr, backlog: Arr, ups: dict[str, Arr]
) -> ServiceState:
    """Queue depth grows steeply as utilisation nears 1; a backlog fault piles tasks up."""
    rho_c = np.clip(rho, 0.0, 0.95)
    queue = 6.0 * rho_c**3 / (1.0 - rho_c) * (1.0 + 0.15 * ctx.white("orchestrator", "queue"))
    queue = queue + 0.8 * np.abs(ctx.white("orchestrator", "queue2"))
    queue = queue + backlog * (40.0 + 0.5 * ctx.elapsed("orchestrator", "queue_backlog"))
    done = sum(workers[w]["tasks_rate"] * (1.0 - workers[w]["fail_share"]) for w in WORKERS)
    failed = sum(workers[w]["tasks_rate"] * workers[w]["fail_share"] for w in WORKERS)
    return {
        "queue_depth": np.round(np.maximum(queue, 0.0)),
        "active_workers": sum(workers[w]["busy"] for w in WORKERS),
        "workers_total": sum(ups[w].astype(np.float64) for w in WORKERS),
        "tasks_completed_rate": done, "tasks_failed_rate": failed,
        "rho": rho_c,
    }


def http_state(ctx: TickContext, fleet: FleetState) -> FleetState:
    """Request rate, latency and errors of orchestrator, api and dashboard."""
    db = fleet["database"]
    db_down = ctx.fault("database", "down")
    exhausted = db["exhausted"] > 0
    db_slow = ctx.fault("database", "latency")
    extra_factor = {
        "orchestrator": (1.0 + 1.2 * fleet["orchestrator"]["rho"] ** 2
                         + np.minimum(fleet["orchestrator"]["queue_depth"], 600.0) / 60.0)
        * np.where(exhausted, 2.0, 1.0),
        "api": (1.0 + 1.1 * ctx.load**2) * np.where(exhausted, 4.0, 1.0)
        * np.where(db_slow, 2.0, 1.0),
        "dashboard": (1.0 + 0.6 * ctx.load**2) * np.where(ctx.fault("api", "latency"), 2.0, 1.0),
    }
    db_errors = 0.05 * exhausted + 0.5 * (db["error_share"] - 0.001)
    extra_errors = {
        "orchestrator": db_errors + 0.3 * db_down,
        "api": 0.004 * ctx.load + 2.0 * db_errors + 0.06 * ctx.unif("api", "exh") * exhausted
        + 0.6 * db_down + 0.1 * ctx.fault("orchestrator", "down"),
        "dashboard": 0.6 * ctx.fault("api", "down") + 0.5 * error_fault_share(ctx, "api"),
    }
    out: FleetState = {}
    for name, p in HTTP_PROFILES.items():
        slow = ctx.fault(name, "latency")
        median = p.median_s * extra_factor[name] * np.exp(0.06 * ctx.white(name, "median"))
        sigma = p.sigma + 0.2 * ctx.load + 0.3 * exhausted * (name == "api") + 0.5 * slow
        share = p.error_share + extra_errors[name] + error_fault_share(ctx, name)
        out[name] = {
            "request_rate": p.peak_rps * ctx.load * (1.0 + 0.05 * ctx.white(name, "rps")),
            "error_share": np.clip(share, 0.0, 1.0),
            "share_404": np.full(ctx.n, p.share_404),
            "lat_median_s": median * np.where(slow, 3.0, 1.0),
            "lat_sigma": sigma,
        }
    return out
