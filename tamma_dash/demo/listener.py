"""One loopback HTTP listener that can be closed (connections refused) and reopened on its port."""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_POLL_S = 0.05
_JOIN_S = 5.0


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True  # SO_REUSEADDR: reopen the same port right after closing
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hung up mid-answer (a collector timing out) is not an error here."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class Listener:
    """A ThreadingHTTPServer on ``host``; the first open picks a free port, later ones reuse it."""

    def __init__(self, name: str, handler: type[BaseHTTPRequestHandler], host: str) -> None:
        self.name = name
        self.host = host
        self.port = 0
        self.error: str | None = None
        self._handler = handler
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def is_open(self) -> bool:
        return self._server is not None

    def open(self) -> bool:
        """Bind and serve; on failure keep the reason in ``error`` and return False."""
        if self._server is not None:
            return True
        try:
            server = _Server((self.host, self.port), self._handler)
        except OSError as exc:
            self.error = f"cannot listen on {self.host}:{self.port} ({exc.strerror or exc})"
            return False
        self.port = int(server.server_address[1])
        self.error = None
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": _POLL_S},
            name=f"demo-{self.name}", daemon=True)
        self._thread.start()
        return True

    def close(self) -> None:
        """Stop serving and close the socket so new connections are refused."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(_JOIN_S)
