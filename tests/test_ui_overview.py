"""The overview's tick updates on a live runtime: sparkline patches, cards only when changed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import dash
import pytest

from tamma_dash.ui.downsample import iso
from tamma_dash.ui.sparkline import SPARK_POINTS
from tests.conftest import Live, wait_for
from tests.test_ui_service_view import apply_patch
from tests.ui_support import find, wire


@pytest.fixture(scope="module")
def page(live: Live) -> Iterator[Any]:
    from tamma_dash.ui.app import create_app
    from tamma_dash.ui.pages import overview

    rt: Any = live.rt
    wait_for(lambda: rt.store.stats().newest_ts is not None, timeout=60)
    app = create_app(rt)
    with app.server.test_request_context():
        yield overview


def test_sparklines_start_downsampled_and_patches_bring_each_new_tick(page: Any) -> None:
    from tamma_dash.ui import context

    layout = wire(page.layout())
    state = find(layout, lambda p: p.get("id") == "overview-last")[0]["data"]
    sparks = {p["id"]["service"]: p["data"] for p in find(
        layout, lambda p: isinstance(p.get("id"), dict) and p["id"].get("type") == "spark")}
    assert set(sparks) == set(context.snapshot()["services"])
    for name, fig in sparks.items():
        assert 1 <= len(fig["data"][0]["x"]) <= SPARK_POINTS
        assert state["n"][name] == len(fig["data"][0]["x"])
    first = state["ts"]
    store = context.runtime().store
    wait_for(lambda: (store.stats().newest_ts or 0.0) > first, timeout=60)
    doc, now = context.snapshot(), context.now()
    names = list(sparks)
    updates, _, _, new_state = page.tick_updates(doc, now, "light", names, state)
    assert new_state["ts"] > first
    newest = iso([new_state["ts"]])[0]
    for name, update in zip(names, updates, strict=True):
        assert isinstance(update, dash.Patch), name
        after = apply_patch(sparks[name], update)
        assert after["data"][0]["x"][-1] == newest
        assert len(after["data"][0]["x"]) == new_state["n"][name] > state["n"][name]
        assert after["layout"]["xaxis"]["range"][1] == newest
    again, *_ = page.tick_updates(doc, now, "light", names, new_state)
    assert all(u is dash.no_update for u in again)  # nothing new: nothing sent


def test_cards_are_sent_only_when_what_they_show_changed(page: Any) -> None:
    from tamma_dash.ui import context

    def same_tick() -> Any:
        stamp = context.snapshot()["timestamp"]
        ids = [{"type": "card-body", "service": n} for n in context.snapshot()["services"]]
        full = page.refresh_cards(None, ids, None)
        quiet = page.refresh_cards(None, ids, full[4])
        return (full, quiet) if context.snapshot()["timestamp"] == stamp else None

    full, quiet = wait_for(same_tick, timeout=30, every=0.01)
    kpis, bodies, classes, panel, digests, _hint = full
    assert kpis is not dash.no_update and panel is not dash.no_update
    assert all(b is not dash.no_update for b in bodies)
    assert all(c.startswith("card h-100 status-card status-") for c in classes)
    assert set(digests["cards"]) == set(context.snapshot()["services"])
    assert quiet[0] is dash.no_update and quiet[3] is dash.no_update
    assert all(b is dash.no_update for b in quiet[1]) and quiet[4] is dash.no_update
    changed = dict(digests, cards=dict(digests["cards"], api="stale"))
    one = page.refresh_cards(None, [{"type": "card-body", "service": "api"}], changed)
    assert one[1][0] is not dash.no_update and "api" in json.dumps(wire(one[1][0]))


def test_badge_and_hint_answer_no_update_when_the_page_already_shows_them(page: Any) -> None:
    from dash import html

    from tamma_dash.ui import app, context
    from tamma_dash.ui.live import same_as_shown

    def same_tick() -> Any:
        stamp = context.snapshot()["timestamp"]
        first = app._badge(None, None, False, None)
        again = app._badge(None, None, False, wire(first[0]))
        return (first, again) if context.snapshot()["timestamp"] == stamp else None

    first, again = wait_for(same_tick, timeout=30, every=0.01)
    assert first[0] is not dash.no_update and "alert" in json.dumps(wire(first[0]))
    assert again[0] is dash.no_update
    shown = wire(page.fleet_hint(context.runtime()))
    assert page.refresh_hint(None, shown) is dash.no_update
    other = wire(html.P("an older hint"))
    assert same_as_shown(page.refresh_hint(None, other), shown)  # changed: the new one is sent


def test_worker_kpi_says_busy_of_alive_not_active() -> None:
    """'0 / 3' under "Active workers" read as no worker alive; the label says what is counted."""
    from tamma_dash.ui.overview_view import kpis

    doc = {"status": "healthy", "services": {},
           "system": {"activeWorkers": 0, "totalWorkers": 3, "dbPool": {}}}
    label, value = next((lab, val) for kid, lab, val in kpis(doc) if kid == "kpi-workers")
    assert (label, value) == ("Workers busy / alive", "0 / 3")
