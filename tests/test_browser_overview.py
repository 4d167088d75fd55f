"""What a person sees on the overview, in headless Chromium (dash_duo)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from selenium.webdriver.common.by import By

from tests.browser_support import (
    axe_violations,
    build_live_app,
    plotly_data,
    severe_logs,
)
from tests.conftest import serve_app
from tests.test_integration import DEMO_SERVICES

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    """One live product per module, served by werkzeug; dash_duo drives the browser.

    (dash_duo's own threaded runner stops its server by injecting SystemExit into a thread id,
    which can land in one of the product's threads once ids are reused.)
    """
    rt, app = build_live_app(tmp_path_factory.mktemp("browser") / "data")
    server, url = serve_app(app.server)
    try:
        yield rt, url
    finally:
        server.shutdown()
        rt.stop()


def _open(dash_duo: Any, url: str, path: str = "/") -> str:
    dash_duo.driver.get(url + path)
    return url


def _card_classes(dash_duo: Any, name: str) -> str:
    return dash_duo.driver.execute_script(
        "const el = document.getElementById(arguments[0]); return el ? el.className : '';",
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


def test_injected_fault_turns_card_and_map_node_down(dash_duo: Any, product) -> None:
    rt, url = product
    _open(dash_duo, url)
    dash_duo.wait_for_element("#status-grid", timeout=30)
    resp = requests.post(f"{url}/api/demo/faults", timeout=10,
                         json={"service": "worker-3", "kind": "down", "duration_s": 20})
    assert resp.status_code == 201
    dash_duo.wait_for_contains_text("#depmap-text", "worker-3 down", timeout=20)
    assert "status-down" in _card_classes(dash_duo, "worker-3")
    text = dash_duo.driver.execute_script(
        "return document.getElementById(arguments[0]).innerText;",
        '{"service":"worker-3","type":"card"}')
    assert "down" in text
    traces = plotly_data(dash_duo.driver, "depmap")
    down = [t for t in traces if "down" in (t["name"] or "")]
    assert down and "worker-3" in down[0]["customdata"]
    rt.fleet.clear()


@pytest.mark.skip(reason="flaky since the map gained alert rings: the click by DOM index can "
                  "land on a neighbouring node; to be rewritten with plot coordinates")
def test_clicking_a_map_node_opens_that_service(dash_duo: Any, product) -> None:
    _, url = product
    _open(dash_duo, url)
    dash_duo.wait_for_element("#depmap .js-plotly-plot", timeout=30)
    clicked = dash_duo.driver.execute_script(
        "const gd = document.querySelector('#depmap .js-plotly-plot');"
        "for (let i = 0; i < gd.data.length; i++) {"
        "  const cd = gd.data[i].customdata || [];"
        "  const j = Array.from(cd).indexOf('database');"
        "  if (j >= 0) {"
        "    const pts = gd.querySelectorAll('.scatterlayer .trace')[i]"
        "      .querySelectorAll('.points path');"
        "    return pts[j] ? true : false; } }"
        "return false;")
    assert clicked, "database node not drawn"
    point = dash_duo.driver.execute_script(
        "const gd = document.querySelector('#depmap .js-plotly-plot');"
        "for (let i = 0; i < gd.data.length; i++) {"
        "  const j = Array.from(gd.data[i].customdata || []).indexOf('database');"
        "  if (j >= 0) return gd.querySelectorAll('.scatterlayer .trace')[i]"
        "    .querySelectorAll('.points path')[j]; }")
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(dash_duo.driver).move_to_element(point).click().perform()
    dash_duo.wait_for_contains_text("h1", "database", timeout=20)
    assert dash_duo.driver.current_url.endswith("/service/database")


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
