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
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
MAX_SECONDS, MAX_CLIENTS = 900, 200
TICK = ("tick", "data")
Store = dict[str, dict[str, Any]]  # id key -> {"id": id, "props": {...}}


# -- the browser side: what dash-renderer sends ------------------------------------------------

def id_key(cid: Any) -> str:
    return json.dumps(cid, sort_keys=True, separators=(",", ":")) if isinstance(cid, dict) else cid


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every component (a dict with type and props) in a layout tree."""
    if isinstance(node, list):
        for item in node:
            yield from walk(item)
    elif isinstance(node, dict):
        if "props" in node and "type" in node:
            yield node
            for value in node["props"].values():
                yield from walk(value)
        else:
            for value in node.values():
                yield from walk(value)


def add_components(store: Store, tree: Any) -> None:
    for comp in walk(tree):
        cid = comp["props"].get("id")
        if cid is not None:
            store[id_key(cid)] = {"id": cid, "props": dict(comp["props"])}


def matches(pattern: dict[str, Any], cid: Any) -> bool:
    if not isinstance(cid, dict) or set(cid) != set(pattern):
        return False
    return all(v == ["ALL"] or v == cid[k] for k, v in pattern.items())


def entries(store: Store, spec_id: str, prop: str, value: bool) -> Any:
    """One entry, or a list of them for an ALL wildcard, as the renderer builds them."""
    def entry(item: dict[str, Any]) -> dict[str, Any]:
        out = {"id": item["id"], "property": prop}
        if value and prop in item["props"]:
            out["value"] = item["props"][prop]
        elif value and prop == "id":
            out["value"] = item["id"]
        return out
    if spec_id.startswith("{"):
        pattern = json.loads(spec_id)
        return [entry(item) for item in store.values() if matches(pattern, item["id"])]
    return entry(store[spec_id])


def output_specs(output: str) -> list[tuple[str, str]]:
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    specs = []
    for part in parts:
        cid, _, prop = part.rpartition(".")
        specs.append((cid, prop.split("@")[0]))
    return specs


def present(store: Store, spec_id: str) -> bool:
    return spec_id.startswith("{") or spec_id in store


def body(dep: dict[str, Any], store: Store, changed: list[str]) -> dict[str, Any]:
    outs = [entries(store, cid, prop, False) for cid, prop in output_specs(dep["output"])]
    return {
        "output": dep["output"],
        "outputs": outs if dep["output"].startswith("..") else outs[0],
        "inputs": [entries(store, i["id"], i["property"], True) for i in dep["inputs"]],
        "changedPropIds": changed, "parsedChangedPropsIds": changed,
        "state": [entries(store, s["id"], s["property"], True) for s in dep["state"]],
    }


def tick_callbacks(deps: list[dict[str, Any]], store: Store) -> list[dict[str, Any]]:
    """Server callbacks a tick fires on this page: tick.data in, every fixed id rendered."""
    found = []
    for dep in deps:
        ins = [(i["id"], i["property"]) for i in dep["inputs"]]
        ids = [cid for cid, _ in output_specs(dep["output"])] + [i for i, _ in ins]
        ids += [s["id"] for s in dep["state"]]
        if TICK in ins and not dep.get("clientside_function") and all(
                present(store, i) for i in ids):
            found.append(dep)
    return found


def kind_of(dep: dict[str, Any]) -> str:
    """A short name for a callback: its first output's id (a pattern's type)."""
    cid = output_specs(dep["output"])[0][0]
    return str(json.loads(cid).get("type", "pattern")) if cid.startswith("{") else cid


def apply(store: Store, answer: dict[str, Any]) -> None:
    """Feed outputs back into the page, as the renderer does (patches are not needed)."""
    for key, props in answer.get("response", {}).items():
        if key in store:
            store[key]["props"].update({p: v for p, v in props.items() if not is_patch(v)})


def is_patch(value: Any) -> bool:
    return isinstance(value, dict) and "__dash_patch_update" in value


def load_page(session: requests.Session, url: str, path: str = "/") -> tuple[Store, list[Any]]:
    """GET the shell, layout and dependencies, then route to ``path`` like the browser."""
    session.get(url + path, timeout=30).raise_for_status()
    store: Store = {}
    add_components(store, session.get(url + "/_dash-layout", timeout=30).json())
    deps = session.get(url + "/_dash-dependencies", timeout=30).json()
    store["_pages_location"]["props"].update(pathname=path, search="")
    route = next(d for d in deps if "_pages_content.children" in d["output"])
    changed = ["_pages_location.pathname", "_pages_location.search"]
    r = session.post(url + "/_dash-update-component", json=body(route, store, changed), timeout=30)
    r.raise_for_status()
    add_components(store, r.json()["response"])
    return store, deps


# -- load generators ---------------------------------------------------------------------------

@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    sse_events: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, seconds: float, error: str | None = None) -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)
            if error:
                self.errors.append(error)


def client(url: str, interval: float, stop: threading.Event, res: Results, seed: int) -> None:
    """One browser tab on the overview, ticking every ``interval`` from a random phase."""
    session = requests.Session()
    try:
        store, deps = load_page(session, url)
    except (requests.RequestException, KeyError, StopIteration, ValueError) as exc:
        res.record("page-load", 0.0, f"page load: {exc!r}")
        return
    callbacks = tick_callbacks(deps, store)
    seq, rng = 0, random.Random(seed)
    next_at = time.monotonic() + rng.uniform(0, interval)
    while not stop.wait(max(0.0, next_at - time.monotonic())):
        next_at += interval
        seq += 1
        store["tick"]["props"]["data"] = {"seq": seq, "ts": datetime.now(UTC).isoformat()}
        for dep in callbacks:
            kind = kind_of(dep)
            t0 = time.perf_counter()
            try:
                r = session.post(url + "/_dash-update-component", timeout=30,
                                 json=body(dep, store, ["tick.data"]))
                took = time.perf_counter() - t0
                ok = r.status_code in (200, 204)
                res.record(kind, took, None if ok else f"{kind}: HTTP {r.status_code}")
                if r.status_code == 200:
                    apply(store, r.json())
            except requests.RequestException as exc:
                res.record(kind, time.perf_counter() - t0, f"{kind}: {exc!r}")


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
                res.record("sse", 0.0, f"sse: {exc!r}")
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
    every = [x for v in res.latencies.values() for x in v]
    per = {k: {"n": len(v), "p50_ms": round(statistics.median(v) * 1e3, 1),
               "p95_ms": round(percentile(v, 0.95) * 1e3, 1)}
           for k, v in res.latencies.items() if k not in ("sse", "page-load")}
    return {"callbacks": len(every), "p50_ms": round(statistics.median(every) * 1e3, 1),
            "p95_ms": round(percentile(every, 0.95) * 1e3, 1),
            "p99_ms": round(percentile(every, 0.99) * 1e3, 1),
            "max_ms": round(max(every) * 1e3, 1), "per_callback": per,
            "errors": len(res.errors), "first_errors": res.errors[:5],
            "sse_events": res.sse_events}


def phase(url: str, procs: dict[str, psutil.Process], args: argparse.Namespace, n: int,
          seconds: float) -> dict[str, Any]:
    """Run ``n`` clients and the SSE subscribers for ``seconds``; cost and latency."""
    res, stop = Results(), threading.Event()
    threads = [threading.Thread(target=subscriber, args=(url, stop, res), daemon=True)
               for _ in range(args.sse)]
    threads += [threading.Thread(target=client, args=(url, args.interval, stop, res, i),
                                 daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    time.sleep(min(10.0, seconds / 4))  # page loads and first ticks: not in the figures
    with res.lock:
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
    out.update(clients=n, sse=args.sse, seconds=round(took, 1), rss_start_mb=rss0,
               rss_end_mb=rss1, workers_cpu_pct=round(100 * (cpu1 - cpu0) / took, 1),
               bench_cpu_pct=round(100 * (own1 - own0) / took, 1))
    return out


def gunicorn_cmd(args: argparse.Namespace) -> list[str]:
    from gunicorn.config import KNOWN_SETTINGS

    cmd = [sys.executable, "-m", "gunicorn", "-w", str(args.workers), "-k", "gthread",
           "--threads", str(args.threads), "-b", "127.0.0.1:0", "tamma_dash.wsgi:server"]
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
        report = {"setup": {k: getattr(args, k) for k in ("workers", "threads", "interval")},
                  "rss_after_boot_mb": rss_mb(procs)}
        report["main"] = phase(url, procs, args, args.clients, args.seconds)
        report["plus"] = phase(url, procs, args, args.clients + args.extra, args.extra_seconds)
        delta = report["plus"]["workers_cpu_pct"] - report["main"]["workers_cpu_pct"]
        report["cpu_pct_per_extra_client"] = round(delta / max(1, args.extra), 2)
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
    p.add_argument("--out", type=Path, default=None, help="also write the JSON report here")
    args = p.parse_args()
    if not (0 < args.seconds <= MAX_SECONDS and 0 < args.extra_seconds <= MAX_SECONDS):
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
