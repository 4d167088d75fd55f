"""Shared pieces for the alerting tests: a fake clock, a real loopback receiver, a fleet."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tamma_dash.config import ServiceConfig
from tamma_dash.models import ServiceKind

T0 = 1_800_000_000.0


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records POSTs and answers scripted statuses."""

    statuses: list[int] = field(default_factory=list)  # consumed one per request; then 200
    hang: threading.Event | None = None  # when set-able: requests wait on it before answering
    requests: list[Received] = field(default_factory=list)
    url: str = ""
    got: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self.got:
            if not self.got.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"expected {count} request(s), got {len(self.requests)}")
            return list(self.requests)


@contextmanager
def receiver(statuses: list[int] | None = None, hang: bool = False) -> Iterator[Receiver]:
    rec = Receiver(statuses=list(statuses or []), hang=threading.Event() if hang else None)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with rec.got:
                rec.requests.append(Received(self.path, dict(self.headers), body))
                status = rec.statuses.pop(0) if rec.statuses else 200
                rec.got.notify_all()
            if rec.hang is not None:
                rec.hang.wait(30)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
            except OSError:
                pass  # the client gave up (a timeout test); nothing to answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield rec
    finally:
        if rec.hang is not None:
            rec.hang.set()
        server.shutdown()
        server.server_close()


def chain_fleet() -> list[ServiceConfig]:
    """database <- api <- dashboard, plus an unrelated worker."""
    return [
        ServiceConfig("database", ServiceKind.DATABASE),
        ServiceConfig("api", ServiceKind.API, depends_on=("database",)),
        ServiceConfig("dashboard", ServiceKind.DASHBOARD, depends_on=("api",)),
        ServiceConfig("worker-1", ServiceKind.WORKER),
        ServiceConfig("openai", ServiceKind.PROVIDER, probe_url="http://127.0.0.1:1/v1"),
    ]
