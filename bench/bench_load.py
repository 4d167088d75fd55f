"""Load: simulated dashboard browsers and SSE subscribers against gunicorn and one collector.

Starts `tamma-dash collect` (demo fleet) and `gunicorn -k gthread tamma_dash.wsgi:server` on
127.0.0.1 in a temporary data directory, then runs N clients that do what a browser on the
overview does (load the page, then on every tick POST each tick-driven callback, with the ids
and state of the rendered layout, feeding outputs back as state) plus SSE subscribers on
/health-stream. Phase 2 adds ``--extra`` clients to price one more client in CPU. Loopback only;
bounded in clients and seconds; stops by itself.

    python bench/bench_load.py [--seconds 300] [--clients 50] [--extra 10] [--sse 10]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import requests
from dash_client import Store, apply, body, kind_of, load_page, tick_callbacks

ROOT = Path(__file__).resolve().parent.parent
MAX_SECONDS, MAX_CLIENTS = 900, 200


# -- load generators ---------------------------------------------------------------------------

@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    sse_events: int = 0
    loaded: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, seconds: float, error: str | None = None) -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)
            if error:
                self.errors.append(error)


def client(url: str, interval: float, stop: threading.Event, res: Results, seed: int,
           delay: float) -> None:
    """One browser tab on the overview: opened after ``delay``, then a tick every ``interval``."""
    if stop.wait(delay):
        return
    session, t0 = requests.Session(), time.perf_counter()
    try:
        store, deps = load_page(session, url)
    except (requests.RequestException, KeyError, StopIteration, ValueError) as exc:
        res.record("page-load", time.perf_counter() - t0, f"page load: {exc!r}")
        return
    res.record("page-load", time.perf_counter() - t0)
    with res.lock:
        res.loaded += 1
    callbacks = tick_callbacks(deps, store)
    seq, next_at = 0, time.monotonic() + random.Random(seed).uniform(0, interval)
    while not stop.wait(max(0.0, next_at - time.monotonic())):
        next_at += interval
        seq += 1
        store["tick"]["props"]["data"] = {"seq": seq, "ts": datetime.now(UTC).isoformat()}
        for dep in callbacks:
            fire(session, url, dep, store, res)


def fire(session: requests.Session, url: str, dep: dict[str, Any], store: Store,
         res: Results) -> None:
    """POST one callback as the renderer does; time it and feed its outputs back."""
    kind, t0 = kind_of(dep), time.perf_counter()
    try:
        r = session.post(url + "/_dash-update-component", timeout=30,
                         json=body(dep, store, ["tick.data"]))
    except requests.RequestException as exc:
        res.record(kind, time.perf_counter() - t0, f"{kind}: {exc!r}")
        return
    ok = r.status_code in (200, 204)
    res.record(kind, time.perf_counter() - t0, None if ok else f"{kind}: HTTP {r.status_code}")
    if r.status_code == 200:
        apply(store, r.json())


def subscriber(url: str, stop: threading.Event, res: Results) -> None:
    """An EventSource on /health-stream: counts health events, reconnects like a browser."""
    while not stop.is_set():
        try:
            with requests.get(url + "/health-stream", stream=True, timeout=(5, 30)) as r:
                r.raise_for_status()
                for line in r.iter_lines():
                    if line.startswith(b"event: health"):
                        with res.lock:
                            res.sse_events += 1
                    if stop.is_set():
                        return
        except requests.RequestException as exc:
            if not stop.is_set():
                with res.lock:
                    res.errors.append(f"sse: {exc!r}")
                stop.wait(1.0)


# -- processes and their cost ------------------------------------------------------------------

def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop_group(proc: subprocess.Popen[bytes], how: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, how)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def wait_until(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise SystemExit(f"bench_load: {what} not ready within {timeout:g} s")


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).ok
    except requests.RequestException:
        return False


def processes(collector: int, web: int) -> dict[str, psutil.Process]:
    master = psutil.Process(web)
    found = {"collector": psutil.Process(collector), "gunicorn-master": master}
    for i, child in enumerate(sorted(master.children(), key=lambda p: p.pid)):
        found[f"worker-{i + 1}"] = child
    return found


def rss_mb(procs: dict[str, psutil.Process]) -> dict[str, float]:
    return {name: round(p.memory_info().rss / 2**20, 1) for name, p in procs.items()}


def cpu_s(procs: dict[str, psutil.Process], prefix: str) -> float:
    return sum(sum(p.cpu_times()[:2]) for n, p in procs.items() if n.startswith(prefix))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def summary(res: Results) -> dict[str, Any]:
    every = [x for v in res.latencies.values() for x in v] or [float("nan")]
    per = {k: {"n": len(v), "p50_ms": round(statistics.median(v) * 1e3, 1),
               "p95_ms": round(percentile(v, 0.95) * 1e3, 1)}
           for k, v in res.latencies.items()}
    return {"callbacks": len(every), "p50_ms": round(statistics.median(every) * 1e3, 1),
            "p95_ms": round(percentile(every, 0.95) * 1e3, 1),
            "p99_ms": round(percentile(every, 0.99) * 1e3, 1),
            "max_ms": round(max(every) * 1e3, 1), "per_callback": per,
            "errors": len(res.errors), "first_errors": res.errors[:5],
            "sse_events": res.sse_events}


def phase(url: str, procs: dict[str, psutil.Process], args: argparse.Namespace, n: int,
          seconds: float) -> dict[str, Any]:
    """Open ``n`` tabs (staggered), then measure them and the SSE subscribers for ``seconds``."""
    res, stop = Results(), threading.Event()
    threads = [threading.Thread(target=subscriber, args=(url, stop, res), daemon=True)
               for _ in range(args.sse)]
    threads += [threading.Thread(target=client, daemon=True, args=(
        url, args.interval, stop, res, i, i * args.ramp / n)) for i in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + args.ramp + 180
    while res.loaded + len(res.errors) < n and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(args.interval)  # every tab has ticked once: steady state from here
    with res.lock:
        loads = res.latencies.pop("page-load", [])
        res.latencies.clear()
    me = psutil.Process()
    cpu0, own0, t0, rss0 = cpu_s(procs, "worker"), sum(me.cpu_times()[:2]), time.monotonic(), \
        rss_mb(procs)
    time.sleep(seconds)
    took = time.monotonic() - t0
    cpu1, own1, rss1 = cpu_s(procs, "worker"), sum(me.cpu_times()[:2]), rss_mb(procs)
    stop.set()
    for t in threads:
        t.join(35)
    out = summary(res)
    out.update(clients=n, loaded=res.loaded, sse=args.sse, seconds=round(took, 1),
               page_load_p50_s=round(statistics.median(loads), 2) if loads else None,
               page_load_max_s=round(max(loads), 2) if loads else None,
               rss_start_mb=rss0, rss_end_mb=rss1,
               workers_cpu_pct=round(100 * (cpu1 - cpu0) / took, 1),
               workers_cpu_ms_per_callback=round(1e3 * (cpu1 - cpu0) / max(1, out["callbacks"]),
                                                 1),
               bench_cpu_pct=round(100 * (own1 - own0) / took, 1))
    return out


def gunicorn_cmd(args: argparse.Namespace) -> list[str]:
    from gunicorn.config import KNOWN_SETTINGS

    cmd = [sys.executable, "-m", "gunicorn", "-w", str(args.workers), "-k", "gthread",
           "--threads", str(args.threads), "--keep-alive", "30", "-b", "127.0.0.1:0",
           "tamma_dash.wsgi:server"]
    if any("--no-control-socket" in (s.cli or ()) for s in KNOWN_SETTINGS):
        cmd.insert(-1, "--no-control-socket")
    return cmd


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAMMA_")}
    env.update(TAMMA_DATA_DIR=str(tmp / "data"), PYTHONPATH=str(ROOT))
    config = tmp / "tamma.toml"
    config.write_text(f"interval_s = {args.interval}\n")
    env["TAMMA_CONFIG"] = str(config)
    collector = start([sys.executable, "-m", "tamma_dash.cli", "collect"], env, tmp / "c.log")
    web = None
    try:
        wait_until("collector", lambda: (tmp / "data" / "runtime.json").exists(), 180)
        web = start(gunicorn_cmd(args), env, tmp / "web.log")
        found = wait_until("gunicorn", lambda: re.search(
            r"Listening at: (http://127\.0\.0\.1:\d+)", (tmp / "web.log").read_text()), 60)
        url = found.group(1)
        wait_until("workers", lambda: len(psutil.Process(web.pid).children()) == args.workers
                   and answers(url + "/healthz"), 120)
        procs = processes(collector.pid, web.pid)
        keys = ("workers", "threads", "interval", "ramp")
        report = {"setup": {k: getattr(args, k) for k in keys}, "load_avg_1m": os.getloadavg()[0],
                  "rss_after_boot_mb": rss_mb(procs)}
        report["main"] = phase(url, procs, args, args.clients, args.seconds)
        report["plus"] = phase(url, procs, args, args.clients + args.extra, args.extra_seconds)
        delta = report["plus"]["workers_cpu_pct"] - report["main"]["workers_cpu_pct"]
        report["cpu_pct_per_extra_client"] = round(delta / max(1, args.extra), 2)
        report["load_avg_1m_end"] = os.getloadavg()[0]
        return report
    finally:
        if web is not None:
            stop_group(web, signal.SIGINT)
        stop_group(collector)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=300.0, help="main phase length")
    p.add_argument("--extra-seconds", type=float, default=60.0, help="phase 2 length")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--extra", type=int, default=10, help="clients added in phase 2")
    p.add_argument("--sse", type=int, default=10, help="SSE subscribers")
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--threads", type=int, default=16, help="gthread threads per worker")
    p.add_argument("--interval", type=float, default=5.0, help="collector tick, s")
    p.add_argument("--ramp", type=float, default=30.0, help="tabs open over this many s")
    p.add_argument("--out", type=Path, default=None, help="also write the JSON report here")
    args = p.parse_args()
    if not (0 < args.seconds <= MAX_SECONDS and 0 < args.extra_seconds <= MAX_SECONDS
            and 0 <= args.ramp <= MAX_SECONDS):
        raise SystemExit(f"--seconds and --extra-seconds must be in (0, {MAX_SECONDS}]")
    if not 0 < args.clients + args.extra <= MAX_CLIENTS or args.sse > MAX_CLIENTS:
        raise SystemExit(f"at most {MAX_CLIENTS} clients and {MAX_CLIENTS} SSE subscribers")
    with tempfile.TemporaryDirectory(prefix="tamma-load-") as tmp:
        report = run(args, Path(tmp))
    text = json.dumps(report, indent=1)
    print(text)
    if args.out is not None:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
