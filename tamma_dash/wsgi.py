"""The WSGI entry point for web workers: ``gunicorn 'tamma_dash.wsgi:server'``.

Each worker that imports this module builds its own read-only runtime (mode "serve") on the
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

from flask import Flask

from tamma_dash import config
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
    except ConfigError as exc:
        log.error("%s\nRun `tamma-dash check-config %s` to see every problem.", exc, path)
        raise
    rt = build(settings, "serve").start()
    atexit.register(rt.stop)
    try:
        app = create_app(rt)
    except ConfigError as exc:  # e.g. auth configured but its secret is not in the environment
        log.error("%s", exc)
        rt.stop()
        raise
    log.info("tamma-dash web worker %d reading %s", os.getpid(), settings.data_dir)
    return app.server


server = create_server()
