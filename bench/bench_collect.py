"""Collector cost against the demo fleet, the fleet running in another process.

Reports the collectors' own CPU (share of one core at the tick interval and per sample) and
the wall time of a whole tick (collect + store) at the median and p95.

    python bench/bench_collect.py [--seconds 60] [--interval 5] [--burst 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tamma_dash.collectors.health import HealthCheckCollector
from tamma_dash.collectors.host import HostCollector
from tamma_dash.collectors.http import direct_session
from tamma_dash.collectors.process import ProcessCollector
from tamma_dash.collectors.prometheus import PrometheusCollector
from tamma_dash.collectors.providers import ProviderCollector
from tamma_dash.config import ServiceConfig
from tamma_dash.models import ServiceKind
from tamma_dash.pipeline import Pipeline
from tamma_dash.store import Store

FLEET = """
import json, sys, threading
from tamma_dash.demo import DemoFleet
fleet = DemoFleet(seed=1).__enter__()
print(json.dumps([{"name": s.name, "kind": s.kind.value, "health_url": s.health_url,
                   "metrics_url": s.metrics_url, "probe_url": s.probe_url}
                  for s in fleet.services_config()]), flush=True)
sys.stdin.read()
"""


def start_fleet() -> tuple[subprocess.Popen[str], list[ServiceConfig]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", FLEET], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    services = [
        ServiceConfig(
            name=s["name"],
            kind=ServiceKind(s["kind"]),
            health_url=s["health_url"],
            metrics_url=s["metrics_url"],
            probe_url=s["probe_url"],
        )
        for s in json.loads(proc.stdout.readline())
    ]
    return proc, services


def collectors(services: list[ServiceConfig]) -> list:
    session = direct_session()
    return [
        HealthCheckCollector(services, session=session),
        PrometheusCollector(services, session=session),
        ProviderCollector(services),
        ProcessCollector(services),
        HostCollector(),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument(
        "--burst", type=int, default=200, help="back-to-back ticks for per-sample cost"
    )
    args = parser.parse_args()
    fleet, services = start_fleet()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = Store.open(Path(tmp), interval_s=args.interval)
            pipe = Pipeline(collectors(services), store, interval_s=args.interval)
            for _ in range(3):  # warm up: first scrapes prime rates and psutil
                pipe.tick()
            walls: list[float] = []
            samples = 0
            cpu0, t0 = time.process_time(), time.perf_counter()
            for _ in range(args.burst):
                report = pipe.tick()
                walls.append(report.seconds)
                samples += report.samples
            cpu_burst = time.process_time() - cpu0
            wall_burst = time.perf_counter() - t0
            per_sample_us = cpu_burst / samples * 1e6
            # steady state at the real interval
            cpu0, t0 = time.process_time(), time.monotonic()
            ticks = 0
            while time.monotonic() - t0 < args.seconds:
                pipe.tick()
                ticks += 1
                time.sleep(max(0.0, t0 + ticks * args.interval - time.monotonic()))
            cpu_steady = time.process_time() - cpu0
            elapsed = time.monotonic() - t0
            pipe.stop()
            store.close()
    finally:
        fleet.terminate()
        fleet.wait(10)
    walls.sort()
    print(f"services: {len(services)}, samples per tick: {samples / args.burst:.0f}")
    print(
        f"tick wall time over {args.burst} back-to-back ticks: median "
        f"{statistics.median(walls) * 1000:.1f} ms, "
        f"p95 {walls[int(0.95 * len(walls)) - 1] * 1000:.1f} ms"
    )
    print(
        f"collector CPU per sample (collect + store): {per_sample_us:.1f} us "
        f"({cpu_burst:.2f} s CPU / {samples} samples, {wall_burst:.1f} s wall)"
    )
    print(
        f"steady CPU at a {args.interval:g} s tick over {elapsed:.0f} s: "
        f"{cpu_steady / elapsed * 100:.2f} % of one core ({ticks} ticks)"
    )


if __name__ == "__main__":
    main()
