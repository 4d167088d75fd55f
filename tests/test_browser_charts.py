"""Live charts in headless Chromium: zoom kept across ticks, exports, reconnection, no reload."""

from __future__ import annotations

import contextlib
import csv
import io
import math
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tamma_dash.ui.downsample import iso, to_epoch
from tests.browser_support import build_live_app
from tests.conftest import RestartableServer, wait_for

pytestmark = pytest.mark.browser

CPU = '{"chart":"cpu","page":"service","type":"chart"}'
NAME = re.compile(r"^api_cpu_\d{8}T\d{6}Z-\d{8}T\d{6}Z$")
GD = "const gd = document.getElementById(arguments[0]).querySelector('.js-plotly-plot');"
NEWER_JS = GD + """
const seen = new Set();
gd.data.forEach(t => (t.x || []).forEach(x => { if (typeof x === 'string' && x > arguments[1])
  seen.add(x); }));
return seen.size;"""
NEWEST_JS = """
let newest = '';
document.querySelectorAll('.js-plotly-plot').forEach(gd => (gd.data || []).forEach(t => {
  const x = t.x && t.x.length ? t.x[t.x.length - 1] : null;
  if (typeof x === 'string' && x > newest) newest = x; }));
document.querySelectorAll('img.spark').forEach(img => {  // the overview's drawn sparklines
  const x = img.getAttribute('data-newest') || '';
  if (x > newest) newest = x; });
return newest;"""
SERIES_JS = GD + """
return gd && gd.data ? gd.data.filter(t => t.meta && t.meta.role === 'series').map(t => ({
  name: t.name, x: Array.from(t.x || []), y: Array.from(t.y || [])})) : null;"""


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, RestartableServer]]:
    """One live product (1 s tick, an hour of history) behind a server that can be restarted."""
    rt, app = build_live_app(tmp_path_factory.mktemp("charts") / "data")
    server = RestartableServer(app.server)
    try:
        yield rt, server
    finally:
        server.stop()
        rt.stop()


def _open_chart(dash_duo: Any, url: str) -> None:
    """/service/api over 15 min: a full-resolution rolling window, patched every 1 s tick."""
    dash_duo.driver.get(url + "/service/api?range=15m")
    dash_duo.wait_for_element(f"[id='{CPU}'] .main-svg", timeout=30)
    dash_duo.wait_for_contains_text("#conn-status", "Live", timeout=30)


def _series(dash_duo: Any) -> list[dict[str, Any]]:
    return dash_duo.driver.execute_script(SERIES_JS, CPU) or []


def _points(traces: list[dict[str, Any]]) -> dict[float, list[float | None]]:
    """{epoch: [y per trace]} for the x values of the first series trace."""
    out: dict[float, list[float | None]] = {}
    for i, trace in enumerate(traces):
        for x, y in zip(trace["x"], trace["y"], strict=False):
            out.setdefault(float(to_epoch(x) or 0), [None] * len(traces))[i] = y
    return out


def test_zoom_survives_live_updates(dash_duo: Any, product) -> None:
    _, server = product
    _open_chart(dash_duo, server.url)
    newest = max(to_epoch(x) or 0 for t in _series(dash_duo) for x in t["x"])
    wanted = iso([newest - 600, newest + 120])
    relayout = "return Plotly.relayout(gd, {'xaxis.range': arguments[1]});"
    dash_duo.driver.execute_script(GD + relayout, CPU, wanted)

    after = iso([newest])[0]
    wait_for(lambda: dash_duo.driver.execute_script(NEWER_JS, CPU, after) >= 2, timeout=30,
             every=0.25)  # at least two ticks drawn since the zoom
    shown = dash_duo.driver.execute_script(GD + "return [gd.layout.xaxis.range, "
                                           "gd.layout.xaxis.autorange];", CPU)
    assert shown[1] is False
    assert [to_epoch(v) for v in shown[0]] == pytest.approx([newest - 600, newest + 120], abs=1e-3)


def test_modebar_image_is_named_by_service_metric_and_range(dash_duo: Any, product) -> None:
    _, server = product
    _open_chart(dash_duo, server.url)
    options = dash_duo.driver.execute_script(GD + "return gd._context.toImageButtonOptions;", CPU)
    assert options["format"] == "png"
    assert NAME.match(options["filename"]), options
    start, end = (time.mktime(time.strptime(p, "%Y%m%dT%H%M%SZ")) - time.timezone
                  for p in options["filename"].rsplit("_", 1)[1].split("-"))
    assert end - start == pytest.approx(900, abs=2)  # the range shown: 15 minutes
    dash_duo.driver.execute_script(
        GD + "gd.querySelector('.modebar-btn[data-title^=\"Download plot\"]').click();", CPU)
    png = _downloaded(Path(dash_duo.download_path), options["filename"] + ".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _downloaded(folder: Path, name_or_suffix: str, timeout: float = 60.0) -> Path:
    """The finished download whose name is (or ends with) ``name_or_suffix``."""
    def done() -> Path | None:
        for path in folder.glob("*"):
            with contextlib.suppress(OSError):  # Chromium renames its .crdownload files
                if path.name.endswith(name_or_suffix) and path.stat().st_size > 0:
                    return path
        return None
    return Path(str(wait_for(done, timeout=timeout, every=0.25)))


def _export(dash_duo: Any, fmt: str) -> Path:
    button = f'{{"chart":"cpu","fmt":"{fmt}","page":"service","type":"export"}}'
    dash_duo.driver.execute_script("document.getElementById(arguments[0]).click();", button)
    return _downloaded(Path(dash_duo.download_path), f".{fmt}")


def test_server_side_exports_are_valid_png_svg_and_the_csv_of_what_is_shown(
        dash_duo: Any, product) -> None:
    _, server = product
    _open_chart(dash_duo, server.url)
    png = _export(dash_duo, "png")
    assert NAME.match(png.stem) and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = _export(dash_duo, "svg")
    assert ET.fromstring(svg.read_bytes()).tag.endswith("svg")
    before = _points(_series(dash_duo))
    text = _export(dash_duo, "csv").read_text(encoding="utf-8")
    after = _series(dash_duo)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["timestamp", *(t["name"] for t in after)]
    shown = {**before, **_points(after)}  # a tick may land between the click and the reads
    stamps = {float(to_epoch(row[0].removesuffix("Z")) or 0): row[1:] for row in rows[1:]}
    both = set(before) & set(_points(after))
    late = sorted(both - set(stamps))  # at most the tick whose patch was landing at the click
    assert len(late) <= 1 and all(t > max(stamps) for t in late), late
    assert set(stamps) <= set(shown), sorted(set(stamps) - set(shown))[:5]
    for stamp, cells in stamps.items():
        for cell, y in zip(cells, shown[stamp], strict=True):
            assert (cell == "" and y is None) or math.isclose(float(cell), y, rel_tol=1e-12)


def _state(dash_duo: Any) -> str:
    return str(dash_duo.driver.execute_script(
        "return document.getElementById('conn-status').getAttribute('data-state');"))


def test_page_recovers_by_itself_when_the_server_returns(dash_duo: Any, product) -> None:
    _, server = product
    dash_duo.driver.get(server.url + "/")
    dash_duo.wait_for_contains_text("#conn-status", "Live", timeout=30)
    dash_duo.wait_for_element("#status-grid img.spark[src^='data:image/svg']", timeout=30)
    dash_duo.driver.execute_script("window.__sameDocument = 'kept';")
    server.stop()
    try:
        wait_for(lambda: _state(dash_duo) in ("reconnecting", "stale"), timeout=20)
        assert "last update" in dash_duo.find_element("#conn-status").text.lower()
    finally:
        server.start()
    back = time.time()
    returned = iso([back])[0]
    wait_for(lambda: _state(dash_duo) == "live", timeout=30)
    received_ms = float(dash_duo.driver.execute_script(  # the page's own clock, not webdriver's
        "return document.getElementById('conn-status').getAttribute('data-received-ms');"))
    assert received_ms / 1000 - back < 5.0
    assert dash_duo.driver.execute_script("return window.__sameDocument;") == "kept"
    wait_for(lambda: dash_duo.driver.execute_script(NEWEST_JS) > returned, timeout=30,
             every=0.25)  # ticks stored after the return reach the charts
