"""Helpers for the browser tests: a live product for dash_duo, axe-core, Plotly introspection."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import live_settings, serve_app, wait_for

AXE_ENV = "TAMMA_AXE_JS"
DEFAULT_AXE = Path(__file__).parent.parent / ".cache/axe/node_modules/axe-core/axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

os.environ.setdefault("DASH_TEST_CHROMEPATH", "/usr/bin/chromium")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_live_app(data_dir: Path, *, interval_s: float = 1.0) -> tuple[Any, Any]:
    """The whole product with an hour of history at an ``interval_s`` tick (1 s unless a test
    file needs no fast updates: every tick re-renders the open page); returns (runtime, app)."""
    from tamma_dash.runtime import build
    from tamma_dash.ui.app import create_app

    rt = build(live_settings(data_dir, interval_s=interval_s, retention_s=3600.0), "run").start()
    return rt, create_app(rt)


@contextmanager
def served_product(data_dir: Path, *, interval_s: float = 1.0) -> Iterator[tuple[Any, str]]:
    """The live product served by werkzeug on loopback: yields (runtime, url), then stops both.

    (Not dash_duo's own threaded runner: it stops its server by injecting SystemExit into a
    thread id, which can land in one of the product's threads once ids are reused.)
    """
    rt, app = build_live_app(data_dir, interval_s=interval_s)
    server, url = serve_app(app.server)
    try:
        yield rt, url
    finally:
        server.shutdown()
        rt.stop()


def axe_source() -> str:
    path = Path(os.environ.get(AXE_ENV, str(DEFAULT_AXE)))
    if not path.exists():
        pytest.fail(f"axe-core not found at {path}; run `bash scripts/test.sh`, which installs it")
    return _read_axe(path)


@cache
def _read_axe(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def axe_violations(driver: Any) -> list[dict[str, Any]]:
    """Serious and critical WCAG 2.1 A/AA violations on the current page, once its CSS
    transitions have ended (a theme switch fades colours over 0.15 s; mid-fade contrast is not
    what a person reads)."""
    if not driver.execute_script("return typeof window.axe === 'object';"):
        driver.execute_script(axe_source())  # ~0.5 MB: once per document, not once per run
    wait_for(lambda: driver.execute_script(
        "return document.getAnimations().every(a => !(a instanceof CSSTransition) || "
        "a.playState !== 'running');"), timeout=10)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})"
        ".then(r => done(JSON.stringify(r.violations))).catch(e => done(JSON.stringify("
        "[{id: 'axe-error', impact: 'critical', description: String(e), nodes: []}])));",
        WCAG_TAGS,
    )
    found = json.loads(result)
    return [
        {"id": v["id"], "impact": v["impact"], "help": v.get("help", v.get("description")),
         "nodes": [n.get("target") for n in v.get("nodes", [])][:5]}
        for v in found if v.get("impact") in ("serious", "critical")
    ]


def plotly_data(driver: Any, graph_id: str) -> list[dict[str, Any]]:
    """The traces a dcc.Graph currently holds in the browser."""
    return driver.execute_script(
        "const gd = document.querySelector(`#${arguments[0]} .js-plotly-plot`);"
        "return gd ? gd.data.map(t => ({name: t.name, customdata: t.customdata, "
        "x: t.x ? Array.from(t.x) : null})) : null;", graph_id)


def severe_logs(dash_duo: Any) -> list[dict[str, Any]]:
    """Console errors, ignoring the browser's own refused background connections."""
    return [entry for entry in dash_duo.get_logs() or []
            if "favicon" not in entry.get("message", "")]
