"""The WSGI entry point for web workers: ``gunicorn 'tamma_dash.wsgi:server'``.

Each worker that loads ``server`` builds its own read-only runtime (mode "serve") on the
data directory a single ``tamma-dash collect`` process writes: it never collects, never starts
the demo fleet and never takes the writer lock, so any number of workers share one collector.
Config comes from ``TAMMA_CONFIG`` (a TOML path; unset means the defaults), the data directory
from ``TAMMA_DATA_DIR`` or the config. Do not run gunicorn with ``--preload``: the runtime's
refresh thread must be started in each worker, after the fork.
"""

from __future__ import annotations

import atexit
import logging
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response

from tamma_dash import auth, config
from tamma_dash.cli import cap_window
from tamma_dash.config import ConfigError

log = logging.getLogger("tamma_dash")


def create_server(environ: Mapping[str, str] | None = None) -> Flask:
    """A web-only app (UI, API, SSE, /metrics) reading the store the collector writes."""
    from tamma_dash.runtime import build
    from tamma_dash.ui.app import create_app

    if not logging.getLogger().handlers:  # gunicorn sets up only its own loggers
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    env = os.environ if environ is None else environ
    path = env.get("TAMMA_CONFIG") or None
    try:
        settings = cap_window(config.load(path, environ=env))
        auth.credentials(settings.auth, env)  # fail before starting anything, not half-way
    except ConfigError as exc:
        log.error("%s\nRun `tamma-dash check-config FILE` to see every problem in a file.", exc)
        raise
    rt = build(settings, "serve").start()
    atexit.register(rt.stop)
    app = create_app(rt)
    log.info("tamma-dash web worker %d reading %s", os.getpid(), settings.data_dir)
    app.server.after_request(_worker_header)
    return app.server


def _worker_header(response: Response) -> Response:
    """Name the worker that answered, to see load spreading (a pid, nothing secret)."""
    response.headers["X-Tamma-Worker"] = str(os.getpid())
    return response


_server: Flask | None = None


def __getattr__(name: str) -> Any:
    """``server`` is built on first access (gunicorn's), so importing this module starts nothing."""
    global _server
    if name != "server":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _server is None:
        _server = create_server()
    return _server
