"""The demo Tamma fleet as real HTTP servers on 127.0.0.1, one per service, faults on demand."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from tamma_dash.config import ServiceConfig
from tamma_dash.demo.context import FleetState, ServiceState
from tamma_dash.demo.counters import CounterBook
from tamma_dash.demo.faults import FaultBook
from tamma_dash.demo.health import HEALTH_CONTENT_TYPE, health_document
from tamma_dash.demo.listener import Listener
from tamma_dash.demo.metrics import render_metrics
from tamma_dash.demo.model import FleetModel
from tamma_dash.demo.providers import PROBE_PATHS, Response, probe_response
from tamma_dash.demo.topology import SERVICES, spec
from tamma_dash.models import Clock

_NORMAL_DELAY_SHARE = 0.2  # a healthy answer never waits longer than this share of a tick


class DemoFleet:
    """Eleven loopback services whose every answer is the model's state at ``clock()``.

    A ``down`` fault closes the service's listener (connections are refused) and the same
    port is reopened when the fault ends; ``sync()`` applies that now, a watcher thread
    calls it every ``poll_s`` seconds of real time.
    """

    def __init__(
        self, seed: int = 42, interval_s: float = 5.0, clock: Clock = time.time, *,
        host: str = "127.0.0.1", sleep: Callable[[float], None] = time.sleep,
        poll_s: float = 0.25,
    ) -> None:
        self.model = FleetModel(seed, interval_s)
        self.book = FaultBook(clock)
        self.host = host
        self._clock = clock
        self._sleep = sleep
        self._poll_s = poll_s
        self._listeners = {s.name: Listener(s.name, _handler_for(self, s.name), host)
                           for s in SERVICES}
        self._counters: CounterBook | None = None
        self._lock = threading.RLock()
        self._state_lock = threading.Lock()
        self._cached: tuple[tuple[float, int], FleetState] | None = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self.started_at: float | None = None

    # lifecycle -------------------------------------------------------------------------
    def start(self) -> DemoFleet:
        """Open every listener (port 0 the first time) and start the expiry watcher."""
        with self._lock:
            if self._watcher is not None:
                return self
            self.started_at = self._clock()
            self._counters = CounterBook(self.model, self.started_at, self.book.timeline)
            self._stopping.clear()
            failed = [f"{n}: {lst.error}" for n, lst in self._listeners.items()
                      if not lst.open()]  # every port is known, even a down service's
            if failed:
                self._close_all()
                raise OSError("demo fleet could not listen: " + "; ".join(failed))
            self.sync()
            self._watcher = threading.Thread(target=self._watch, name="demo-faults", daemon=True)
            self._watcher.start()
        return self

    def stop(self) -> None:
        """Stop the watcher and every listener, freeing the ports; safe to call twice."""
        self._stopping.set()
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.join(5.0)
        with self._lock:
            self._close_all()

    def __enter__(self) -> DemoFleet:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def sync(self) -> None:
        """Apply fault starts and ends now: close listeners of down services, reopen the rest."""
        with self._lock:
            if self.started_at is None or self._stopping.is_set():
                return
            down = {f.service for f in self.book.active() if f.kind == "down"}
            for name, listener in self._listeners.items():
                if name in down:
                    listener.close()
                else:
                    listener.open()

    # configuration and faults -----------------------------------------------------------
    def port(self, service: str) -> int:
        """The loopback port ``service`` listens on (kept while it is down)."""
        return self._listeners[spec(service).name].port

    def services_config(self) -> tuple[ServiceConfig, ...]:
        """ServiceConfig for every demo service with its real URLs; needs start() first."""
        if self.started_at is None:
            raise RuntimeError("the demo fleet has no ports yet: call start() (or use it in a "
                               "with block) before services_config()")
        out = []
        for s in SERVICES:
            base = f"http://{self.host}:{self.port(s.name)}"
            fleet = s.is_fleet
            out.append(ServiceConfig(
                name=s.name, kind=s.kind, depends_on=s.depends_on,
                health_url=f"{base}/health" if fleet else None,
                metrics_url=f"{base}/metrics" if fleet else None,
                probe_url=None if fleet else base + PROBE_PATHS[s.name],
            ))
        return tuple(out)

    def inject(self, service: str, kind: str, duration_s: float) -> dict[str, Any]:
        """Start a fault now (ValueError names the valid choices); returns it as a dict."""
        fault = self.book.inject(service, kind, duration_s)
        self.sync()
        return fault.as_dict(self._clock())

    def faults(self) -> list[dict[str, Any]]:
        """Active faults: id, service, kind, started, ends, remaining_s."""
        now = self._clock()
        return [f.as_dict(now) for f in self.book.active()]

    def clear(self) -> int:
        """End every active fault now; returns how many were ended."""
        ended = self.book.clear()
        self.sync()
        return len(ended)

    # answers ----------------------------------------------------------------------------
    def state_now(self, service: str) -> ServiceState:
        """The model's state of ``service`` at ``clock()`` given the fault timeline."""
        return self._fleet_state(self._clock())[service]

    def _fleet_state(self, now: float) -> FleetState:
        """Fleet state at ``now`` rounded up to a fine grid, shared by concurrent requests.

        A collection round sends a score of requests within milliseconds; evaluating the
        model once for all of them keeps the demo's own CPU out of the measured round trips.
        """
        steps = max(4, math.ceil(20.0 / self.model.interval_s))  # grid: 1/steps s, <= 0.25 s
        at = math.ceil(now * steps - 1e-6) / steps
        key = (at, self.book.version)
        with self._state_lock:
            if self._cached is None or self._cached[0] != key:
                self._cached = (key, self.model.state(at, self.book.timeline()))
            return self._cached[1]

    def respond(self, service: str, path: str) -> tuple[Response, float]:
        """The full answer to GET ``path`` on ``service`` and how long to wait before it."""
        now = self._clock()
        st = self._fleet_state(now)[service]
        delay = self._delay(service, st, now)
        if not spec(service).is_fleet:
            return probe_response(service, path, st, now), delay
        route = path.split("?")[0]
        if route == "/health":
            status, doc = health_document(spec(service), st, now)
            body = json.dumps(doc).encode()
            return (status, {"Content-Type": HEALTH_CONTENT_TYPE}, body), delay
        if route == "/metrics" and self._counters is not None:
            totals = self._counters.totals(now).get(service, {})
            body = render_metrics(service, st, totals)
            return (200, {"Content-Type": CONTENT_TYPE_LATEST}, body), 0.0
        body = json.dumps({"message": "Not Found", "try": ["/health", "/metrics"]}).encode()
        return (404, {"Content-Type": "application/json"}, body), 0.0

    def _delay(self, service: str, st: ServiceState, now: float) -> float:
        """Seconds to hold the answer: the modelled round trip, capped unless a fault slows it."""
        wait_s = max(0.0, float(st["response_time_ms"][0]) / 1000.0 - 0.0005)
        slowed = any(f.service == service and f.kind == "latency" and f.active_at(now)
                     for f in self.book.timeline())
        return wait_s if slowed else min(wait_s, _NORMAL_DELAY_SHARE * self.model.interval_s)

    def _watch(self) -> None:
        while not self._stopping.wait(self._poll_s):
            self.sync()

    def _close_all(self) -> None:
        """Close every listener in parallel (each close waits for its serve loop to notice)."""
        closers = [threading.Thread(target=lst.close, daemon=True)
                   for lst in self._listeners.values()]
        for thread in closers:
            thread.start()
        for thread in closers:
            thread.join()
        self.started_at = None

    def send(self, handler: BaseHTTPRequestHandler, service: str, received: float) -> None:
        """Answer one request on ``handler``, holding it until the modelled round trip is up.

        ``received`` is the ``time.perf_counter()`` at which the request arrived, so the time
        spent computing the answer counts towards the modelled delay.
        """
        (status, headers, body), delay = self.respond(service, handler.path)
        wait_s = delay - (time.perf_counter() - received)
        if wait_s > 0:
            self._sleep(wait_s)
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


def _handler_for(fleet: DemoFleet, service: str) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to one service of ``fleet``."""

    class Handler(BaseHTTPRequestHandler):
        server_version = f"tamma-demo-{service}/1"

        def do_GET(self) -> None:
            fleet.send(self, service, time.perf_counter())

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the demo must not flood the dashboard's console."""

    return Handler
