"""Detection time: from a fault injected into the demo fleet to the alert firing.

Runs the whole product in this process (demo fleet, collectors, store, default alert rules) at
the default 5 s tick, injects each fault kind again and again (on services that have no active
alert, round-robin so recoveries overlap), and reports per kind the median, p95 and max of
``fired_at - injected_at`` and the misses.

It first watches ``--quiet`` seconds with no fault and lists the alerts that fired anyway.

    python bench/bench_alert_detection.py [--reps 5] [--interval 5] [--timeout 60] [--quiet 120]
                                          [--services openai,github]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tamma_dash.config import Settings
from tamma_dash.runtime import Runtime, build

PLAN: dict[str, tuple[str, ...]] = {
    "down": ("worker-1", "worker-2", "worker-3", "dashboard", "openai", "github"),
    "latency": ("api", "orchestrator", "anthropic", "gitlab", "worker-1"),
    "errors": ("api", "dashboard", "orchestrator", "openai", "worker-2"),
    "queue_backlog": ("orchestrator",),
    "db_pool_exhaustion": ("database",),
    "rate_limit": ("openai", "anthropic", "github", "gitlab"),
}


def restrict(plan: dict[str, tuple[str, ...]], only: str) -> dict[str, tuple[str, ...]]:
    """The plan cut down to the comma-separated services in ``only`` (all when empty)."""
    if not only:
        return plan
    wanted = {s.strip() for s in only.split(",") if s.strip()}
    known = {s for services in plan.values() for s in services}
    if wanted - known:
        raise SystemExit(f"--services: {', '.join(sorted(wanted - known))} never get a fault; "
                         f"choose from {', '.join(sorted(known))}")
    cut = {k: tuple(s for s in services if s in wanted) for k, services in plan.items()}
    return {k: services for k, services in cut.items() if services}


def busy(rt: Runtime) -> set[str]:
    """Services with an active alert or fault: not a clean place for the next injection."""
    alerted = {a["service"] for a in rt.alerts.active()}
    return alerted | {f["service"] for f in rt.fleet.faults()}


def one(rt: Runtime, kind: str, service: str, timeout: float, duration: float) -> dict[str, Any]:
    """Inject one fault; wait for a new alert on that service; return what happened."""
    seen = {a["id"] for a in rt.alerts.active()}
    fault = rt.fleet.inject(service, kind, duration)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = [a for a in rt.alerts.active() if a["service"] == service
               and a["id"] not in seen and a["state"] in ("firing", "acknowledged")]
        if new:
            first = min(new, key=lambda a: a["startsAtTs"])
            return {"kind": kind, "service": service, "rule": first["rule"],
                    "seconds": round(first["startsAtTs"] - fault["started"], 3)}
        time.sleep(0.05)
    return {"kind": kind, "service": service, "rule": None, "seconds": None}


def quiet(rt: Runtime, seconds: float) -> list[str]:
    """Alerts that fire with no fault injected (false alarms) over ``seconds``."""
    seen = {a["id"] for a in rt.alerts.active()}
    fired: dict[int, str] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for a in rt.alerts.active():
            if a["id"] not in seen and a["state"] != "pending":
                fired[a["id"]] = f"{a['rule']}:{a['service']}"
        time.sleep(0.2)
    return sorted(fired.values())


def run(reps: int, interval_s: float, timeout: float, quiet_s: float,
        plan: dict[str, tuple[str, ...]]) -> list[dict[str, Any]]:
    data = Path(tempfile.mkdtemp(prefix="tamma-detect-"))
    rt = build(Settings(data_dir=data, interval_s=interval_s, retention_s=3600.0), "run").start()
    results: list[dict[str, Any]] = []
    try:
        _wait(lambda: rt.alert_ticker.last is not None, 120)
        if quiet_s > 0:
            false = quiet(rt, quiet_s)
            print(json.dumps({"quiet_s": quiet_s, "false_alarms": false}), flush=True)
        cursor = dict.fromkeys(plan, 0)
        rng = random.Random(7)  # injections at random phases of the tick, reproducibly
        for rep in range(reps):
            for kind, services in plan.items():
                service = _free(rt, services, cursor[kind], timeout * 3)
                cursor[kind] += 1
                time.sleep(rng.uniform(0.0, interval_s))
                got = one(rt, kind, service, timeout, duration=3 * interval_s + 5)
                print(json.dumps({"rep": rep, **got}), flush=True)
                results.append(got)
    finally:
        rt.stop()
    return results


def _free(rt: Runtime, services: tuple[str, ...], start: int, timeout: float) -> str:
    """The next service in round-robin order without an active alert or fault."""
    order = [services[(start + i) % len(services)] for i in range(len(services))]
    found = _wait(lambda: next((s for s in order if s not in busy(rt)), None), timeout)
    return str(found or order[0])


def _wait(predicate: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return None


def report(results: list[dict[str, Any]]) -> None:
    print("\n| fault | n | detected | median s | p95 s | max s | rules |")
    print("|---|---|---|---|---|---|---|")
    everything: list[float] = []
    for kind in PLAN:
        rows = [r for r in results if r["kind"] == kind]
        if not rows:
            continue
        secs = sorted(r["seconds"] for r in rows if r["seconds"] is not None)
        everything += secs
        rules = sorted({r["rule"] for r in rows if r["rule"]})
        print(f"| {kind} | {len(rows)} | {len(secs)} | {_q(secs, 0.5)} | {_q(secs, 0.95)} | "
              f"{_q(secs, 1.0)} | {', '.join(rules)} |")
    everything.sort()
    print(f"| all | {len(results)} | {len(everything)} | {_q(everything, 0.5)} | "
          f"{_q(everything, 0.95)} | {_q(everything, 1.0)} | |")


def _q(values: list[float], q: float) -> str:
    if not values:
        return "-"
    if q >= 1.0:
        return f"{values[-1]:.1f}"
    if q == 0.5:
        return f"{statistics.median(values):.1f}"
    return f"{values[min(len(values) - 1, round(q * (len(values) - 1)))]:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--interval", type=float, default=5.0)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--quiet", type=float, default=120.0, help="seconds watched with no fault")
    ap.add_argument("--services", default="", help="inject only into these (comma-separated), "
                    "e.g. openai,github,anthropic,gitlab for the probed providers")
    args = ap.parse_args()
    plan = restrict(PLAN, args.services)
    report(run(args.reps, args.interval, args.timeout, args.quiet, plan))


if __name__ == "__main__":
    main()
