"""Every page at tablet and laptop sizes: no horizontal scrolling, nothing cut off, no errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser_support import served_product, severe_logs
from tests.conftest import wait_for

pytestmark = pytest.mark.browser

VIEWPORTS = ((768, 1024), (1024, 768), (1366, 768))  # narrow first: charts only grow
PAGE_DIR = Path(__file__).parent.parent / "tamma_dash" / "ui" / "pages"
PAGES = ([p.stem for p in sorted(PAGE_DIR.glob("*.py")) if p.stem not in ("__init__", "service")]
         + ["service:api", "service:database"])  # every page module, pages added later too
OVERFLOW_JS = """
const W = document.documentElement.clientWidth;
const out = [];
if (document.documentElement.scrollWidth > W) {
  out.push(`document is ${document.documentElement.scrollWidth}px wide in ${W}px`);
}
const scrolls = el => {
  for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
    const o = getComputedStyle(p).overflowX;
    if (o === 'auto' || o === 'scroll') return true;  // a table that scrolls on its own
  }
  return false;
};
const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
  (typeof el.className === 'string' && el.className ? '.' + el.className.split(' ')[0] : '');
document.querySelectorAll('header *, #main *').forEach(el => {
  if (el.closest('.visually-hidden, .visually-hidden-focusable')) return;
  const plot = el.closest('.js-plotly-plot');
  if (plot && plot !== el) return;  // plotly's own layers are sized by the plot
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) return;
  if ((r.right > W + 1 || r.left < -1) && !scrolls(el)) {
    out.push(`${name(el)} spans ${Math.round(r.left)}..${Math.round(r.right)} of ${W}`);
  }
});
return out.slice(0, 8);
"""
TRACE_TYPES_JS = """
const known = new Set(Object.keys(Plotly.PlotSchema.get().traces));
const used = [];
document.querySelectorAll('.js-plotly-plot').forEach(gd => (gd.data || []).forEach(
  t => used.push(t.type || 'scatter')));
return used.filter(t => !known.has(t));
"""


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    """One live product per module (5 s tick: layout needs no fast ticks), served by werkzeug."""
    with served_product(tmp_path_factory.mktemp("layout") / "data", interval_s=5.0) as product:
        yield product


def _drawn(driver: Any) -> bool:
    return bool(driver.execute_script(
        "const g = document.querySelectorAll('#main .dash-graph');"
        "return Array.from(g).every(x => x.querySelector('.main-svg'));"))


def _viewport(driver: Any, width: int, height: int) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    wait_for(lambda: driver.execute_script(
        "return window.innerWidth;") == width, timeout=10)


def _check_page(dash_duo: Any, url: str, path: str) -> None:
    driver = dash_duo.driver
    _viewport(driver, *VIEWPORTS[0])
    driver.get(url + path)
    dash_duo.wait_for_element("#main h1", timeout=30)
    dash_duo.wait_for_contains_text("#conn-status", "Live", timeout=30)
    wait_for(lambda: _drawn(driver), timeout=30)
    for width, height in VIEWPORTS:
        _viewport(driver, width, height)
        try:  # plotly resizes responsive charts a moment after the window changes
            wait_for(lambda: not driver.execute_script(OVERFLOW_JS), timeout=10)
        except AssertionError:
            pytest.fail(f"{path} at {width}x{height}: {driver.execute_script(OVERFLOW_JS)}")
    assert driver.execute_script(TRACE_TYPES_JS) == [], "trace types missing from plotly.js"
    assert severe_logs(dash_duo) == []


def _path(page: str) -> str:
    """The URL of a page module (``service:api`` is a service's page)."""
    import dash

    if page.startswith("service:"):
        return "/service/" + page.split(":", 1)[1]
    entry = dash.page_registry.get(f"tamma_dash.ui.pages.{page}")
    if entry is None:
        pytest.skip(f"{page} is not registered by the app")
    return str(entry["path"])


@pytest.mark.parametrize("page", PAGES)
def test_page_fits_tablets_and_laptops_without_console_errors(dash_duo: Any, product,
                                                               page: str) -> None:
    _, url = product
    _check_page(dash_duo, url, _path(page))
