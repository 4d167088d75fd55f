"""Shared fixtures: a real runtime (demo fleet, collectors, store, pipeline) served on loopback."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from tamma_dash.config import Settings


def wait_for(predicate: Callable[[], object], timeout: float = 30.0, every: float = 0.05) -> object:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {predicate}")
        time.sleep(every)


@dataclass
class Live:
    rt: object
    url: str
    server: BaseWSGIServer


def serve_app(app: object) -> tuple[BaseWSGIServer, str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)  # type: ignore[arg-type]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def live_settings(data_dir: Path, **changes: object) -> Settings:
    base = dict(data_dir=data_dir, interval_s=0.5, retention_s=600.0, seed=7, host_metrics=True)
    base.update(changes)
    return Settings(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The whole product in this process at a 0.5 s tick, served on an ephemeral port."""
    from tamma_dash.runtime import build
    from tamma_dash.ui.app import create_app

    rt = build(live_settings(tmp_path_factory.mktemp("live") / "data"), "run").start()
    server, url = serve_app(create_app(rt).server)
    try:
        yield Live(rt, url, server)
    finally:
        server.shutdown()
        rt.stop()


class _TrackingHandler(WSGIRequestHandler):
    """Remembers its open connection, so a stop can cut long-lived ones (SSE) too."""

    def setup(self) -> None:
        super().setup()
        self.server.open_connections.add(self.connection)  # type: ignore[attr-defined]

    def finish(self) -> None:
        self.server.open_connections.discard(self.connection)  # type: ignore[attr-defined]
        super().finish()


class RestartableServer:
    """A werkzeug server that can go away under a page and come back on the same port."""

    def __init__(self, app: object) -> None:
        self.app = app
        self.port = 0
        self.server: BaseWSGIServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Listen again (first on a free port, then on the same one) and serve in a thread."""
        server = make_server("127.0.0.1", self.port, self.app, threaded=True,  # type: ignore[arg-type]
                             request_handler=_TrackingHandler)
        server.open_connections = set()  # type: ignore[attr-defined]
        self.server, self.port = server, server.server_port
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop listening and cut every open connection, as a crashed server would."""
        if self.server is None:
            return
        server, self.server = self.server, None
        server.shutdown()
        server.server_close()
        for conn in list(server.open_connections):  # type: ignore[attr-defined]
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
