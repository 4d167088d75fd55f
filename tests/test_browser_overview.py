"""What a person sees on the overview, in headless Chromium (dash_duo)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast
from urllib.parse import quote

import pytest
import requests
from selenium.common.exceptions import MoveTargetOutOfBoundsException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.by import By

from tamma_dash.ui.theme import PALETTES
from tests.browser_support import (
    axe_violations,
    plotly_data,
    served_product,
    severe_logs,
)
from tests.conftest import wait_for
from tests.test_integration import DEMO_SERVICES

pytestmark = pytest.mark.browser

# The product's default tick. Nothing here needs 1 s updates; each tick re-renders the page
# under test, and at 1 s an hour of history is 3600 points a trace, drawn with WebGL, which
# headless Chromium emulates in software: pages took 3-5x longer to settle.
TICK_S = 5.0
# A node's plot position from gd.data and the full layout's axes, scrolled to mid-viewport by
# its nearest scrolling ancestor, at once (Bootstrap makes scrolling smooth), in viewport
# coordinates: the pointer goes there directly, not as an offset from the plot element (whose
# in-view centre moves whenever the page above it grows).
NODE_OFFSET_JS = """
const gd = document.querySelector('#depmap .js-plotly-plot');
const fl = gd && gd._fullLayout;
if (!fl || !fl.xaxis || !fl.yaxis || !gd.data) return null;
const trace = gd.data.find(t => Array.from(t.customdata || []).includes(arguments[0]));
if (!trace) return null;
const j = Array.from(trace.customdata).indexOf(arguments[0]);
const px = fl.xaxis.l2p(trace.x[j]) + fl._size.l, py = fl.yaxis.l2p(trace.y[j]) + fl._size.t;
let box = gd;
do { box = box.parentElement; } while (box && box !== document.documentElement &&
  !(/auto|scroll/.test(getComputedStyle(box).overflowY) && box.scrollHeight > box.clientHeight));
gd.scrollIntoView({block: 'center', inline: 'nearest', behavior: 'instant'});
let r = gd.getBoundingClientRect();
const vw = document.documentElement.clientWidth, vh = document.documentElement.clientHeight;
(box || document.scrollingElement).scrollBy(
  {top: r.top + py - vh / 2, behavior: 'instant'});
r = gd.getBoundingClientRect();
const x = Math.round(r.left + px), y = Math.round(r.top + py);
return {x: x, y: y, in_view: x >= 0 && x < vw && y >= 0 && y < vh,
        width: r.width, height: r.height};
"""


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    """One live product per module, served by werkzeug; dash_duo drives the browser."""
    with served_product(tmp_path_factory.mktemp("browser") / "data", interval_s=TICK_S) as prod:
        yield prod


def _open(dash_duo: Any, url: str, path: str = "/") -> str:
    dash_duo.driver.get(url + path)
    return url


def _card_classes(dash_duo: Any, name: str) -> str:
    return dash_duo.driver.execute_script(
        "const el = document.getElementById(arguments[0]); return el ? el.className : '';",
        f'{{"service":"{name}","type":"card"}}')


def _card_text(dash_duo: Any, name: str) -> str:
    return dash_duo.driver.execute_script(
        "const el = document.getElementById(arguments[0]); return el ? el.innerText : '';",
        f'{{"service":"{name}","type":"card"}}')


def test_overview_shows_every_demo_service_with_status_in_words(dash_duo: Any, product) -> None:
    _, url = product
    _open(dash_duo, url)
    dash_duo.wait_for_element("#status-grid", timeout=30)
    dash_duo.wait_for_contains_text("#conn-status", "Live", timeout=30)
    grid = dash_duo.find_element("#status-grid").text
    for name in DEMO_SERVICES:
        assert name in grid
    assert "healthy" in grid  # the word, not only a colour
    assert dash_duo.find_element("#kpis").text.count("\n") >= 6
    assert severe_logs(dash_duo) == []


# Every status card's sparkline drawn: an SVG line with at least two points in its image.
SPARKS_DRAWN_JS = r"""
const imgs = Array.from(document.querySelectorAll('#status-grid img.spark'));
return imgs.length > 0 && imgs.every(img => img.complete && img.naturalWidth > 0 &&
  /^data:image\/svg\+xml,.*%3Cpath%20d%3D%22M[^L]*L/.test(img.getAttribute('src') || ''));
"""
# Before any page script: what each Dash callback request asked for (its outputs, its trigger).
RECORD_CALLBACKS_JS = """
window.__callbacks = [];
const realFetch = window.fetch;
window.fetch = function(url, options) {
  if (String(url).includes('_dash-update-component') && options && options.body) {
    try {
      const body = JSON.parse(options.body);
      window.__callbacks.push({output: body.output, changed: body.changedPropIds || []});
    } catch (e) {}
  }
  return realFetch.apply(this, arguments);
};
"""


def test_first_load_brings_the_page_without_routing_or_redrawing(dash_duo: Any, product) -> None:
    # The page comes with the layout (no routing round trip) and a light load does not redraw
    # every figure for a theme that did not change (both cost a cold load ~0.3 s and more).
    _, url = product
    dash_duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                    {"source": RECORD_CALLBACKS_JS})
    _open(dash_duo, url)
    dash_duo.wait_for_element("#depmap .js-plotly-plot .main-svg", timeout=30)
    wait_for(lambda: dash_duo.driver.execute_script(SPARKS_DRAWN_JS), timeout=30)
    calls = dash_duo.driver.execute_script("return window.__callbacks")
    assert calls, "no callback was recorded: the recorder did not run"
    assert not [c for c in calls if "_pages_content" in c["output"]]
    assert not [c for c in calls if "theme.data" in c["changed"]]
    assert dash_duo.driver.title == "tamma-dash · overview"
    # the layout was fetched once, by the page's preload, and the renderer used that answer
    fetched = dash_duo.driver.execute_script(
        "return performance.getEntriesByType('resource').filter("
        "r => r.name.endsWith('/_dash-layout')).map(r => r.initiatorType);")
    assert fetched == ["link"]
    # navigating still goes through Dash's router
    dash_duo.driver.find_element(By.CSS_SELECTOR, "a.nav-link[href='/providers']").click()
    dash_duo.wait_for_contains_text("#main h1", "Providers", timeout=20)
    assert [c for c in dash_duo.driver.execute_script("return window.__callbacks")
            if "_pages_content" in c["output"]]


def test_injected_fault_turns_card_and_map_node_down(dash_duo: Any, product) -> None:
    rt, url = product
    _open(dash_duo, url)
    dash_duo.wait_for_element("#status-grid", timeout=30)
    resp = requests.post(f"{url}/api/demo/faults", timeout=10,
                         json={"service": "worker-3", "kind": "down", "duration_s": 20})
    assert resp.status_code == 201
    dash_duo.wait_for_contains_text("#depmap-text", "worker-3 down", timeout=20)
    # the cards come from another callback than the map: wait for them, don't race them
    wait_for(lambda: "status-down" in _card_classes(dash_duo, "worker-3"), timeout=20)
    wait_for(lambda: "down" in _card_text(dash_duo, "worker-3"), timeout=20)
    down_colour = quote(PALETTES["light"].status["down"], safe="")  # as in the image's URL
    wait_for(lambda: down_colour in (dash_duo.driver.execute_script(
        "return document.getElementById(arguments[0]).getAttribute('src');",
        '{"service":"worker-3","type":"spark-img"}') or ""), timeout=20)  # the line turns red
    traces = plotly_data(dash_duo.driver, "depmap")
    down = [t for t in traces if "down" in (t["name"] or "")]
    assert down and "worker-3" in down[0]["customdata"]
    rt.fleet.clear()


def _settled_node_offset(dash_duo: Any, name: str) -> dict[str, Any]:
    """Where ``name``'s node is, once the map has stopped moving: scrolled to the middle of the
    viewport, in viewport coordinates."""
    seen: list[dict[str, Any]] = []

    def settled() -> dict[str, Any] | None:
        where = dash_duo.driver.execute_script(NODE_OFFSET_JS, name)
        drawn = where is not None and where["height"] > 0  # not mid-redraw
        same = drawn and seen and seen[-1] == where
        seen.append(where)
        return where if same else None

    return cast(dict[str, Any], wait_for(settled, timeout=30, every=0.25))


def _hovered(dash_duo: Any) -> list[Any]:
    return dash_duo.driver.execute_script(
        "const gd = document.querySelector('#depmap .js-plotly-plot');"
        "return (gd && gd._hoverdata || []).map(p => p.customdata);")


def _point_and_click(dash_duo: Any, name: str) -> str:
    """Pointer onto the node, plotly's hover confirms it, click; '' on success, else why not.

    The map can move under the pointer (an alert appearing in the panel above it, a status
    change redrawing it), so one attempt may miss; the caller retries from the start.
    """
    where = _settled_node_offset(dash_duo, name)
    if not where["in_view"]:
        return f"the {name} node cannot be scrolled into view: {where}"
    pointer = ActionBuilder(dash_duo.driver)
    pointer.pointer_action.move_to_location(where["x"], where["y"])
    try:
        pointer.perform()
    except MoveTargetOutOfBoundsException:  # the page scrolled or resized since it was measured
        return f"the pointer could not move to {where}: the page moved"
    try:  # a real pointer over the node: plotly's own hover picks the point a click reports
        hovered = cast(list[Any], wait_for(lambda: _hovered(dash_duo), timeout=3))
    except AssertionError:
        return f"nothing hovered with the pointer at {where}"
    if hovered[0] != name:
        return f"pointer at {where} hovers {hovered}, not {name}"
    ActionChains(dash_duo.driver).click().perform()
    try:
        wait_for(lambda: dash_duo.driver.current_url.endswith(f"/service/{name}"), timeout=5)
    except AssertionError:
        return f"clicked at {where} but stayed on {dash_duo.driver.current_url}"
    return ""


def test_clicking_a_map_node_opens_that_service(dash_duo: Any, product) -> None:
    _, url = product
    _open(dash_duo, url)
    dash_duo.wait_for_element("#depmap .js-plotly-plot", timeout=30)
    misses = []
    for _ in range(5):
        miss = _point_and_click(dash_duo, "database")
        if not miss:
            break
        misses.append(miss)
    else:
        raise AssertionError(f"5 attempts missed: {misses}")
    dash_duo.wait_for_contains_text("h1", "database", timeout=20)
    assert severe_logs(dash_duo) == []


def test_dark_mode_switches_and_is_remembered(dash_duo: Any, product) -> None:
    _, url = product
    _open(dash_duo, url)
    dash_duo.wait_for_element("#theme-switch", timeout=30)
    dash_duo.driver.find_element(By.CSS_SELECTOR, "label[for='theme-switch']").click()
    dash_duo.wait_for_element("html[data-bs-theme='dark']", timeout=10)
    dash_duo.driver.refresh()
    dash_duo.wait_for_element("html[data-bs-theme='dark']", timeout=20)
    dash_duo.driver.find_element(By.CSS_SELECTOR, "label[for='theme-switch']").click()
    dash_duo.wait_for_element("html[data-bs-theme='light']", timeout=10)


@pytest.mark.parametrize("path", ["/", "/service/api", "/service/database", "/providers",
                                  "/trends"])
def test_no_serious_accessibility_violations_in_either_theme(dash_duo: Any, product,
                                                             path: str) -> None:
    _, url = product
    _open(dash_duo, url, path)
    dash_duo.wait_for_element("#main h1", timeout=30)
    dash_duo.wait_for_contains_text("#conn-status", "Live", timeout=30)
    for theme in ("light", "dark"):
        if theme == "dark":  # the real switch, so figures redraw in their dark template too
            dash_duo.driver.find_element(By.CSS_SELECTOR, "label[for='theme-switch']").click()
            dash_duo.wait_for_element("html[data-bs-theme='dark']", timeout=10)
        violations = axe_violations(dash_duo.driver)
        assert violations == [], f"{path} ({theme}): {violations}"
    assert severe_logs(dash_duo) == []
