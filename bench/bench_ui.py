"""The dashboard in headless Chromium against `python app.py` with a full 24 h demo history.

Measures: first load of the overview (navigation start to every chart drawn and the status
cards filled), median over ``--runs`` cold (fresh profile) and warm (same profile, reload)
loads; the bytes of a cold first load; bytes per second to one open tab (overview and
/service/api) against resending its figures every tick; the server time of the update
callbacks (p95, from DevTools request timing); and the time from a tick being stored (the SSE
document's timestamp) to the chart showing its point (p95).

    python bench/bench_ui.py [--runs 5] [--seconds 60] [--interval 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Injected before any page script: when every graph is drawn, and when each tick reaches a chart.
PROBE = r"""
performance.setResourceTimingBufferSize(100000);
window.__bench = {drawn: null, shown: []};
(function watch() {
  const graphs = document.querySelectorAll('.dash-graph');
  const drawn = document.querySelectorAll('.dash-graph .js-plotly-plot .main-svg');
  const cards = document.querySelectorAll('#status-grid .status-card, #service-header h1');
  const sparks = Array.from(document.querySelectorAll('img.spark'));
  if (window.__bench.drawn === null && graphs.length > 0 && cards.length > 0 &&
      Array.from(graphs).every(g => g.querySelector('.main-svg')) &&
      sparks.every(img => img.complete && img.naturalWidth > 0)) {
    window.__bench.drawn = performance.now();
  }
  let newest = null;
  document.querySelectorAll('.js-plotly-plot').forEach(gd => (gd.data || []).forEach(t => {
    const x = t.x && t.x.length ? t.x[t.x.length - 1] : null;
    if (typeof x === 'string' && (newest === null || x > newest)) newest = x;
  }));
  sparks.forEach(img => {  // the overview's sparklines: SVG images, their newest point
    const x = img.getAttribute('data-newest');
    if (x && (newest === null || x > newest)) newest = x;
  });
  const b = window.__bench;
  if (newest !== null && newest !== b.newest) {
    const el = document.getElementById('conn-status');
    const stored = el && el.getAttribute('data-last-ts');
    const received = el && Number(el.getAttribute('data-received-ms'));
    b.newest = newest;
    b.shown.push({x: newest, at: Date.now(), stored: stored, received: received});
  }
  requestAnimationFrame(watch);
})();
"""
DRAWN_JS = "return window.__bench && window.__bench.drawn;"
BYTES_JS = """
const nav = performance.getEntriesByType('navigation')[0];
const all = [nav, ...performance.getEntriesByType('resource')];
const sum = k => all.reduce((s, e) => s + (e[k] || 0), 0);
return {transfer: sum('transferSize'), encoded: sum('encodedBodySize'),
        decoded: sum('decodedBodySize'), requests: all.length,
        biggest: all.map(e => [e.name.split('?')[0].split('/').slice(-1)[0], e.transferSize])
                    .sort((a, b) => b[1] - a[1]).slice(0, 6)};
"""
# What resending every chart each tick would send: plotly figures, and the sparkline images.
FIGURES_JS = """
return Array.from(document.querySelectorAll('.js-plotly-plot')).map(
  gd => JSON.stringify({data: gd.data, layout: gd.layout})).concat(
  Array.from(document.querySelectorAll('img.spark')).map(img => img.getAttribute('src') || ''));
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_app(interval: float) -> Iterator[str]:
    """`python app.py` on a free port with a fresh data dir (the demo backfills 24 h)."""
    data = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--data-dir", str(data),
         "--interval", str(interval)], cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait(lambda: _ok(url + "/healthz"), 180, "the app did not answer /healthz")
        wait(lambda: _ok(url + "/"), 60, "the app did not serve /")
        yield url
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data, ignore_errors=True)


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code < 500
    except requests.RequestException:
        return False


def wait(pred: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``pred`` until truthy; raise naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := pred()):
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.02)
    return value


def browser(profile: Path, perf_log: bool = False) -> webdriver.Chrome:
    """Headless Debian Chromium with its own profile (cold when the dir is new)."""
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1920,1080",
                "--disable-dev-shm-usage", f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    if perf_log:
        opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE})
    return driver


def load_once(driver: webdriver.Chrome, url: str, reload: bool = False) -> float:
    """Seconds from navigation start to every chart drawn."""
    if reload:
        driver.refresh()
    else:
        driver.get(url)
    return float(wait(lambda: driver.execute_script(DRAWN_JS), 60, "charts not drawn")) / 1000


def first_loads(url: str, runs: int) -> dict[str, Any]:
    """Cold (fresh profile each time) and warm (same profile, reload) loads of the overview."""
    cold, warm, sizes = [], [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as profile:
            driver = browser(Path(profile))
            try:
                cold.append(load_once(driver, url + "/"))
                time.sleep(1.0)  # let late resources finish before counting bytes
                sizes.append(driver.execute_script(BYTES_JS))
                warm.append(load_once(driver, url + "/", reload=True))
            finally:
                driver.quit()
    return {"cold_s": cold, "warm_s": warm, "cold_median_s": statistics.median(cold),
            "warm_median_s": statistics.median(warm), "bytes": sizes[len(sizes) // 2]}


def p95(values: list[float]) -> float | None:
    """The 95th percentile (nearest rank), None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def network(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Bytes received (finished requests + the open stream), and callback server times."""
    finished, streamed, posts, timing = {}, {}, {}, {}
    for raw in events:
        msg = json.loads(raw["message"])["message"]
        method, p = msg["method"], msg.get("params", {})
        if method == "Network.loadingFinished":
            finished[p["requestId"]] = p["encodedDataLength"]
        elif method == "Network.dataReceived":
            streamed[p["requestId"]] = streamed.get(p["requestId"], 0) + p["encodedDataLength"]
        elif method == "Network.requestWillBeSent" and "_dash-update-component" in p["request"][
                "url"]:
            posts[p["requestId"]] = len(p["request"].get("postData", ""))
        elif method == "Network.responseReceived" and p["requestId"] in posts:
            t = p["response"].get("timing") or {}
            timing[p["requestId"]] = t.get("receiveHeadersStart", t.get(
                "receiveHeadersEnd", 0)) - t.get("sendEnd", 0)
    open_stream = sum(n for rid, n in streamed.items() if rid not in finished)
    return {"received": sum(finished.values()) + open_stream, "stream": open_stream,
            "sent_bodies": sum(posts.values()), "callbacks": len(timing),
            "server_ms": [v for v in timing.values() if v > 0]}


def one_tab(url: str, path: str, seconds: float, interval: float) -> dict[str, Any]:
    """Bytes/s to one open tab after its first load, and what resending the figures costs."""
    with tempfile.TemporaryDirectory() as profile:
        driver = browser(Path(profile), perf_log=True)
        try:
            load_once(driver, url + path)
            wait(lambda: "Live" in driver.find_element("id", "conn-status").text, 30, "not live")
            time.sleep(2 * interval)
            driver.get_log("performance")  # drop the first load
            start_shown = len(driver.execute_script("return window.__bench.shown;"))
            started = time.monotonic()
            time.sleep(seconds)
            events = driver.get_log("performance")
            elapsed = time.monotonic() - started
            shown = driver.execute_script("return window.__bench.shown;")[start_shown:]
            figures = driver.execute_script(FIGURES_JS)
        finally:
            driver.quit()
    net = network(events)
    raw = sum(len(f.encode()) for f in figures)
    packed = sum(len(gzip.compress(f.encode())) for f in figures)
    rate = net["received"] / elapsed
    return {"path": path, "seconds": round(elapsed, 1), "bytes_per_s": rate,
            "stream_bytes_per_s": net["stream"] / elapsed,
            "sent_bytes_per_s": net["sent_bodies"] / elapsed, "figures": len(figures),
            "resend_raw_per_s": raw / interval, "resend_gzip_per_s": packed / interval,
            "share_of_resend_gzip": rate / (packed / interval), "callbacks": net["callbacks"],
            "callback_server_ms_p95": p95(net["server_ms"]),
            "callback_server_ms_median": statistics.median(net["server_ms"] or [0]),
            "tick_to_screen_s": latencies(shown)}


def latencies(shown: list[dict[str, Any]]) -> dict[str, Any]:
    """Stored (SSE document timestamp) to shown, per new point reaching a chart."""
    values = [item["at"] / 1000 - datetime.fromisoformat(item["stored"]).timestamp()
              for item in shown if item.get("stored")]
    return {"n": len(values), "median": statistics.median(values) if values else None,
            "p95": p95(values), "max": max(values, default=None)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with running_app(args.interval) as url:
        out: dict[str, Any] = {"first_load": first_loads(url, args.runs)}
        out["tabs"] = [one_tab(url, path, args.seconds, args.interval)
                       for path in ("/", "/service/api")]
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
