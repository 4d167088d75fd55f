"""The demo fleet's state as a pure, deterministic, vectorised function of time, seed and faults.

``FleetModel(seed, interval_s).state(t, faults)`` returns, for every service, a dict of numpy
arrays aligned with ``t``. The live servers evaluate it at ``clock()``; the backfill at 17,280
instants at once; both get the same numbers for the same tick.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tamma_dash.demo.context import Arr, FleetState, ServiceState, TickContext, level
from tamma_dash.demo.faults import Fault
from tamma_dash.demo.model_external import externals
from tamma_dash.demo.model_work import database_state, http_state, work_state
from tamma_dash.demo.topology import SERVICES, ServiceSpec
from tamma_dash.models import ServiceKind

_DAY = 86400.0
DEPLOY_PERIOD_S = 4 * _DAY
DISK_CYCLE_DAYS = 20.0
DB_TIMEOUT_MS = 5000.0

# (base %, span % at full activity) per kind
_CPU = {
    ServiceKind.ORCHESTRATOR: (6.0, 30.0), ServiceKind.WORKER: (5.0, 70.0),
    ServiceKind.API: (8.0, 55.0), ServiceKind.DASHBOARD: (4.0, 22.0),
    ServiceKind.DATABASE: (7.0, 50.0),
}
_MEMORY = {
    ServiceKind.ORCHESTRATOR: 42.0, ServiceKind.WORKER: 55.0, ServiceKind.API: 38.0,
    ServiceKind.DASHBOARD: 30.0, ServiceKind.DATABASE: 68.0,
}
_ALWAYS_KEPT = ("up", "health", "success_rate")


class FleetModel:
    """The whole demo fleet for one seed; ``interval_s`` sets the tick that noise follows."""

    def __init__(self, seed: int = 42, interval_s: float = 5.0) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be positive, got {interval_s!r}")
        self.seed = int(seed)
        self.interval_s = float(interval_s)

    def state(self, t: np.ndarray | float, faults: Sequence[Fault] = ()) -> FleetState:
        """Every service's state at each instant of ``t`` given the fault timeline."""
        ctx = TickContext(self.seed, self.interval_s, t, faults)
        fleet = externals(ctx)
        fleet["database"] = database_state(ctx)
        fleet.update(work_state(ctx))
        for name, st in http_state(ctx, fleet).items():
            fleet.setdefault(name, {}).update(st)
        for spec in SERVICES:
            if spec.is_fleet:
                fleet[spec.name].update(self._system(ctx, spec, fleet))
                if spec.checks_database:
                    fleet[spec.name].update(_db_checks(ctx, spec, fleet["database"]))
                fleet[spec.name]["health"] = _health(ctx, spec, fleet[spec.name])
        for spec in SERVICES:
            _mask_down(ctx, spec.name, fleet[spec.name])
        return fleet

    def _system(self, ctx: TickContext, spec: ServiceSpec, fleet: FleetState) -> ServiceState:
        """cpu, memory, disk, uptime and health round trip of one fleet service."""
        name = spec.name
        base, span = _CPU[spec.kind]
        cpu = base + span * _activity(ctx, spec, fleet) + 1.5 * ctx.white(name, "cpu")
        cpu = cpu + 2.0 * ctx.slow(name, "cpu", 900.0)
        mem = _MEMORY[spec.kind] + 6.0 * ctx.load + 2.0 * ctx.slow(name, "mem", 1800.0)
        mem = mem + 0.3 * ctx.white(name, "mem")
        mem = mem + (98.0 - mem) * ctx.progress(name, "memory_leak")
        rt = 18.0 + 25.0 * ctx.load + 6.0 * np.abs(ctx.white(name, "rt"))
        rt = np.where(ctx.fault(name, "latency"), 300.0 + 500.0 * ctx.unif(name, "delay"), rt)
        return {
            "up": np.ones(ctx.n),
            "cpu_percent": np.clip(cpu, 0.5, 100.0),
            "memory_percent": np.clip(mem, 1.0, 99.5),
            "disk_percent": self.disk(ctx.t, spec),
            "uptime_s": self.uptime(ctx, spec),
            "response_time_ms": rt,
            "slowed": ctx.fault(name, "latency").astype(np.float64),
        }

    def disk(self, t: Arr, spec: ServiceSpec) -> Arr:
        """Sawtooth: ~+2.2 %/day from ~40 %, cleaned up every 20 days, phase per service."""
        days = t / _DAY + spec.index * 7.3 + (self.seed % 20)
        phase = days % DISK_CYCLE_DAYS
        base = 40.0 - 1.5 * (spec.index % 3)
        slope = 2.1 + 0.08 * (spec.index % 4)
        return np.round(base + slope * phase, 2)

    def uptime(self, ctx: TickContext, spec: ServiceSpec) -> Arr:
        """Seconds since the last deploy (every 4 days, staggered) or recovery from ``down``."""
        offset = ((spec.index * 0.61 + (self.seed % 97) * 0.013) * _DAY) % DEPLOY_PERIOD_S
        last_deploy = np.floor((ctx.t - offset) / DEPLOY_PERIOD_S) * DEPLOY_PERIOD_S + offset
        restart = np.maximum(last_deploy, ctx.last_end(spec.name, "down"))
        return np.floor(ctx.t - restart)


def _activity(ctx: TickContext, spec: ServiceSpec, fleet: FleetState) -> Arr:
    """0..~1.3: how hard a service works, which drives its CPU."""
    kind, name = spec.kind, spec.name
    if kind is ServiceKind.WORKER:
        return 0.25 * ctx.load + 0.75 * fleet[name]["busy"]
    if kind is ServiceKind.ORCHESTRATOR:
        backlog = ctx.fault(name, "queue_backlog")
        return 0.6 * ctx.load + 0.4 * fleet[name]["rho"] + 0.3 * backlog
    if kind is ServiceKind.DATABASE:
        return ctx.load + 0.4 * fleet[name]["exhausted"]
    return ctx.load


def _db_checks(ctx: TickContext, spec: ServiceSpec, db: ServiceState) -> ServiceState:
    """database:connections / database:responseTime as seen by one service, with a level."""
    db_down = ctx.fault("database", "down")
    exhausted = db["exhausted"] > 0
    p50_ms = db["query_median_s"] * 1000.0
    if spec.kind is ServiceKind.DATABASE:
        lvl = np.where(exhausted, 2, np.where(db["db_active"] >= 0.9 * db["db_max"], 1, 0))
        return {"db_connections": db["db_active"], "db_response_ms": p50_ms,
                "db_check": lvl.astype(np.float64)}
    lvl = np.where(db_down, 2, np.where(exhausted, 1, 0))
    return {
        "db_connections": np.where(db_down, 0.0, db["db_active"]),
        "db_response_ms": np.where(db_down, DB_TIMEOUT_MS, p50_ms),
        "db_check": lvl.astype(np.float64),
    }


def _share_level(share: Arr) -> Arr:
    return np.where(share >= 0.3, 2, np.where(share >= 0.05, 1, 0))


def _health(ctx: TickContext, spec: ServiceSpec, st: ServiceState) -> Arr:
    """0 pass / 1 warn / 2 fail: the worst of resource levels, checks, errors and faults."""
    levels = [level(st[m], m) for m in ("cpu_percent", "memory_percent", "disk_percent")]
    levels.append(ctx.fault(spec.name, "latency").astype(np.int64))
    if "db_check" in st:
        levels.append(st["db_check"].astype(np.int64))
    if "error_share" in st:
        levels.append(_share_level(st["error_share"]))
    if "fail_share" in st:
        levels.append(_share_level(st["fail_share"]))
    if spec.kind is ServiceKind.ORCHESTRATOR:
        total = st["workers_total"]
        levels.append(np.where(total == 0, 2, np.where(total < 3, 1, 0)))
        levels.append((st["queue_depth"] >= 100).astype(np.int64))
    return np.max(np.vstack(levels), axis=0).astype(np.float64)


def _mask_down(ctx: TickContext, name: str, st: ServiceState) -> None:
    """A service that is down answers nothing: every observed value becomes NaN."""
    down = ctx.fault(name, "down")
    if not down.any():
        return
    for key, values in st.items():
        if key not in _ALWAYS_KEPT:
            st[key] = np.where(down, np.nan, values)
    st["up"] = np.where(down, 0.0, st["up"])
    st["health"] = np.where(down, 2.0, st["health"])
