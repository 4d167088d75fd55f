"""Alerts in headless Chromium: a fault fires, the toast and card marker say it, a person
acknowledges it from the page with a comment, and /alerts passes axe-core in both themes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium.common.exceptions import (
    ElementNotInteractableException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser_support import axe_violations, served_product, severe_logs
from tests.conftest import wait_for

pytestmark = pytest.mark.browser

WEBHOOK = Path(__file__).parent / "fixtures" / "alertmanager" / "webhook_v4.json"
XSS = "<img src=x onerror=window.__pwned=1>"
ACTOR, COMMENT = "ana-e2e", "looking at the error spike"


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    """One live product per module (1 s tick), served by werkzeug."""
    with served_product(tmp_path_factory.mktemp("browser-alerts") / "data") as product:
        yield product


def _clickable(driver: Any, dom_id: str) -> Any:
    """The element once visible and enabled (a modal fades in: clicks before that miss)."""
    return WebDriverWait(driver, 30).until(EC.element_to_be_clickable((By.ID, dom_id)))


def _dom_id(**parts: Any) -> str:
    """The DOM id Dash gives a dict id: JSON with sorted keys, no spaces."""
    return json.dumps(parts, sort_keys=True, separators=(",", ":"))


def _by_id(driver: Any, dom_id: str) -> Any:
    return driver.execute_script("return document.getElementById(arguments[0]);", dom_id)


def _firing(url: str, service: str) -> dict[str, Any] | None:
    alerts = requests.get(f"{url}/api/alerts?state=firing", timeout=10).json()["alerts"]
    return next((a for a in alerts if a["service"] == service), None)


def _tab_to(driver: Any, start: Any, dom_id: str, limit: int = 5) -> bool:
    """Focus ``start``, then press Tab until the element ``dom_id`` has the focus."""
    driver.execute_script("arguments[0].focus();", start)
    for _ in range(limit):
        driver.switch_to.active_element.send_keys(Keys.TAB)
        if driver.execute_script("return document.activeElement.id;") == dom_id:
            return True
    return False


def _ack_by_keyboard(driver: Any, alert_id: int) -> bool:
    """Tab from the alert's service link to its Acknowledge button, press Enter: form open?

    False (try again) when the list was re-rendered meanwhile (another alert fired)."""
    try:
        link = driver.find_element(By.CSS_SELECTOR, f"#alert-{alert_id} a")
        if not _tab_to(driver, link, _dom_id(act="ack", id=alert_id, type="alert-act")):
            return False
        driver.switch_to.active_element.send_keys(Keys.ENTER)
        wait_for(lambda: driver.find_elements(By.ID, "alert-comment"), timeout=10)
    except (StaleElementReferenceException, ElementNotInteractableException, AssertionError):
        return False  # re-rendered or still fading in: try again
    return True


def _toast_link_time(driver: Any) -> int | None:
    """``t`` of the toast's link to api at an alert's time; None while absent or re-rendered
    (a second alert on the same fault, ServiceDegraded a tick after HighErrorRate, redraws it)."""
    try:
        links = driver.find_elements(By.CSS_SELECTOR, ".toast a[href^='/service/api?t=']")
        return int(links[0].get_attribute("href").rsplit("t=", 1)[1]) if links else None
    except StaleElementReferenceException:
        return None


def _click_open(driver: Any, dom_id: str) -> bool:
    """Click a button (in the page's own event path); whether the form opened."""
    try:
        driver.execute_script("arguments[0].click();", _by_id(driver, dom_id))
        wait_for(lambda: driver.find_elements(By.ID, "alert-actor"), timeout=10)
    except (StaleElementReferenceException, AssertionError):
        return False
    return True


def _fault(url: str, service: str = "api") -> dict[str, Any]:
    """Errors on ``service`` until an alert on it fires; that alert (from the API)."""
    resp = requests.post(f"{url}/api/demo/faults", timeout=10,
                         json={"service": service, "kind": "errors", "duration_s": 60})
    assert resp.status_code == 201
    alert = wait_for(lambda: _firing(url, service), timeout=60)
    assert isinstance(alert, dict)
    return alert


def test_fault_to_toast_and_acknowledge_from_the_page(dash_duo: Any, product) -> None:
    _, url = product
    driver = dash_duo.driver
    driver.get(url + "/alerts")
    dash_duo.wait_for_element("#alerts-active", timeout=60)
    assert driver.find_element(By.ID, "alert-badge").get_attribute("href") == url + "/alerts"
    wait_for(lambda: driver.execute_script(  # the shell has remembered what fires already
        "const m = JSON.parse(window.localStorage.getItem('alerts-seen') || 'null');"
        "return Boolean(m && m.seen);"), timeout=60)
    alert = _fault(url)
    dash_duo.wait_for_element(".toast[role='alert']", timeout=60)
    link_t = wait_for(lambda: _toast_link_time(driver), timeout=60)  # to the component then
    starts = {int(a["startsAtTs"]) for a in requests.get(
        f"{url}/api/alerts?state=all", timeout=10).json()["alerts"] if a["service"] == "api"}
    assert link_t in starts
    dash_duo.wait_for_contains_text(".toast", "new alert", timeout=30)  # once faded in

    ack_id = _dom_id(act="ack", id=alert["id"], type="alert-act")
    wait_for(lambda: _by_id(driver, ack_id), timeout=60)
    label = _by_id(driver, ack_id).get_attribute("aria-label")
    assert label.startswith(f"Acknowledge alert {alert['id']}, api")
    try:
        wait_for(lambda: _ack_by_keyboard(driver, alert["id"]), timeout=60)
    except AssertionError:
        raise AssertionError("Tab from the alert's link did not reach Acknowledge, or Enter "
                             "did not open the form, within 60 s") from None
    actor = _clickable(driver, "alert-actor")  # once the form has faded in
    assert actor.get_attribute("value") == "operator"
    actor.send_keys(Keys.CONTROL, "a")
    actor.send_keys(ACTOR)
    driver.find_element(By.ID, "alert-comment").send_keys(COMMENT)
    _clickable(driver, "alert-form-submit").click()
    dash_duo.wait_for_contains_text("#alerts-feedback", "acknowledged", timeout=60)

    acked = requests.get(f"{url}/api/alerts?state=acknowledged", timeout=10).json()["alerts"]
    mine = next(a for a in acked if a["id"] == alert["id"])
    assert mine["acknowledgedBy"] == ACTOR
    history = requests.get(f"{url}/api/alerts/history?service=api", timeout=10).json()
    steps = next(a for a in history["alerts"] if a["id"] == alert["id"])["transitions"]
    assert {"from": "firing", "to": "acknowledged", "actor": ACTOR,
            "comment": COMMENT}.items() <= steps[-1].items()
    dash_duo.wait_for_contains_text(f"#alert-{alert['id']}", f"acknowledged by {ACTOR}",
                                    timeout=60)
    assert _by_id(driver, ack_id) is None  # an acknowledged alert offers Resolve only

    driver.refresh()  # the name is remembered in this browser
    resolve_id = _dom_id(act="resolve", id=alert["id"], type="alert-act")
    wait_for(lambda: _by_id(driver, resolve_id), timeout=60)
    wait_for(lambda: _click_open(driver, resolve_id), timeout=60)
    wait_for(lambda: driver.find_element(By.ID, "alert-actor").get_attribute("value") == ACTOR,
             timeout=10)
    assert driver.find_element(By.ID, "alert-form-submit").text == "Resolve"
    violations = axe_violations(driver)  # the open form too
    assert violations == [], f"/alerts with the form open: {violations}"
    driver.find_element(By.ID, "alert-form-cancel").click()
    assert severe_logs(dash_duo) == []


def test_card_and_map_mark_the_service_with_alerts(dash_duo: Any, product) -> None:
    rt, url = product
    alert = _fault(url, "worker-2")
    dash_duo.driver.get(url + "/")
    marker_id = _dom_id(service="worker-2", type="alert-marker")
    read = ("const e = document.getElementById(arguments[0]);"  # one call: cards re-render
            "return e ? [e.textContent, e.getAttribute('href')] : null;")
    found: Any = wait_for(lambda: dash_duo.driver.execute_script(read, marker_id), timeout=60)
    text, href = found
    assert "⚠" in text and " alert" in text and "worst" in text
    assert href.startswith("/service/worker-2?t=")
    assert int(href.rsplit("=", 1)[1]) >= int(alert["startsAtTs"])
    map_text = re.compile(r"(: |; )worker-2 \w+, ⚠ \d+ alerts?")  # the map's text alternative
    wait_for(lambda: map_text.search(dash_duo.driver.execute_script(
        "return document.getElementById('depmap-text').textContent;") or ""), timeout=60)
    rt.fleet.clear()


def test_alert_text_from_other_systems_is_shown_as_text(dash_duo: Any, product) -> None:
    _, url = product
    doc = json.loads(WEBHOOK.read_text())
    doc["alerts"][0]["annotations"]["summary"] = XSS
    doc["alerts"][0]["fingerprint"] = "0123456789abcdef"
    resp = requests.post(f"{url}/api/alerts/webhook", json=doc, timeout=10)
    assert resp.status_code == 200, resp.text
    dash_duo.driver.get(url + "/alerts")
    dash_duo.wait_for_contains_text("#alerts-active", XSS, timeout=60)
    assert dash_duo.driver.find_elements(By.CSS_SELECTOR, "#alerts-active img") == []
    assert dash_duo.driver.execute_script("return window.__pwned === undefined;")


def test_alerts_page_has_no_serious_accessibility_violations(dash_duo: Any, product) -> None:
    _, url = product
    dash_duo.driver.get(url + "/alerts")
    dash_duo.wait_for_element("#alerts-history table, #alerts-history p", timeout=60)
    for theme in ("light", "dark"):
        if theme == "dark":
            dash_duo.driver.find_element(By.CSS_SELECTOR, "label[for='theme-switch']").click()
            dash_duo.wait_for_element("html[data-bs-theme='dark']", timeout=10)
        violations = axe_violations(dash_duo.driver)
        assert violations == [], f"/alerts ({theme}): {violations}"
    assert severe_logs(dash_duo) == []
