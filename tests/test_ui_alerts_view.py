"""Alert builders over a real AlertManager (fake clock, SQLite in tmp_path): what people read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dash import dcc, html

from tamma_dash.alerts import AlertManager, AlertStore, ExternalAlert, Notifier
from tamma_dash.alerts.dispatch import Route, RouteStep
from tamma_dash.alerts.rules import StatusRule, ThresholdRule
from tamma_dash.analytics.hints import RootCauseHint
from tamma_dash.models import Severity
from tamma_dash.store.base import Latest
from tamma_dash.ui import alert_groups as ag
from tamma_dash.ui import alerts_view as av
from tamma_dash.ui.depmap import dependency_figure
from tamma_dash.ui.overview_view import service_card
from tests.test_alerts_support import T0, FakeClock, chain_fleet, receiver

FLEET = chain_fleet()
DOWN = StatusRule(name="Down", statuses=("down",), keep_firing_for_s=0,
                  severity=Severity.CRITICAL, runbook_url="https://wiki.example/down")
CPU = ThresholdRule(name="HotCpu", series="api/cpu_percent", operator=">", value=90,
                    keep_firing_for_s=10, severity=Severity.WARNING)
XSS = "<img src=x onerror=alert(1)>"


def walk(node: Any) -> Iterator[Any]:
    """Every component and string in a Dash tree, depth first."""
    yield node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if child is not None:
            yield from walk(child)


def text(node: Any) -> str:
    return " ".join(str(n) for n in walk(node) if isinstance(n, str | int | float))


def links(node: Any) -> dict[str, Any]:
    """Link text -> href of every dcc.Link and html.A."""
    return {text(n): getattr(n, "href", None) for n in walk(node)
            if isinstance(n, dcc.Link | html.A)}


def buttons(node: Any) -> list[Any]:
    return [n for n in walk(node) if isinstance(getattr(n, "id", None), dict)
            and n.id.get("type") == "alert-act"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def am(tmp_path: Path, clock: FakeClock) -> Iterator[AlertManager]:
    manager = AlertManager([DOWN, CPU], FLEET, AlertStore(tmp_path / "alerts.sqlite3"),
                           clock=clock)
    yield manager
    manager.close()


def step(am: AlertManager, clock: FakeClock, down: tuple[str, ...] = (),
         cpu: float | None = None) -> None:
    clock.tick(5.0)
    latest = {} if cpu is None else {"api/cpu_percent": Latest(clock.now, cpu)}
    am.evaluate(latest, {name: "down" for name in down})


def test_symptoms_gather_under_the_down_dependency(am: AlertManager, clock: FakeClock) -> None:
    step(am, clock, down=("database", "api", "dashboard"))
    step(am, clock, down=("database", "api", "dashboard"), cpu=95)
    clock.tick(60)
    page = ag.active_section(am.groups(), am.active(), clock.now)
    groups = [n for n in walk(page) if isinstance(n, html.Section)]
    assert [text(g.children[0]) for g in groups] == ["database: root cause"]
    symptoms = next(n for n in walk(page) if "alert-symptoms" in str(getattr(n, "className", "")))
    assert "3 symptoms gathered under database" in text(symptoms)
    services = sorted(text(n) for n in walk(symptoms) if isinstance(n, dcc.Link))
    assert services == [f"api at {av.when(T0 + 5)}", f"api at {av.when(T0 + 10)}",
                        f"dashboard at {av.when(T0 + 5)}"]
    cause = next(c for c in groups[0].children if isinstance(c, html.Article))
    assert "‼ critical" in text(cause) and "● firing" in text(cause)
    assert "Since 1 m 05 s" in text(cause)  # fired at T0+5, now T0+70


def test_alert_links_to_its_component_at_its_time(am: AlertManager, clock: FakeClock) -> None:
    step(am, clock, down=("database",))
    item = av.alert_item(am.active()[0], clock.now)
    assert links(item)[f"database at {av.when(T0 + 5)}"] == f"/service/database?t={int(T0 + 5)}"
    runbook: Any = next(n for n in walk(item) if isinstance(n, html.A))
    assert (runbook.children, runbook.href) == ("https://wiki.example/down",
                                                "https://wiki.example/down")
    assert runbook.rel == "noopener noreferrer" and runbook.target == "_blank"


def test_only_firing_alerts_offer_acknowledge_and_buttons_are_named(
        am: AlertManager, clock: FakeClock) -> None:
    step(am, clock, down=("database",))
    firing = buttons(av.alert_item(am.active()[0], clock.now))
    assert [b.children for b in firing] == ["Acknowledge", "Resolve"]
    assert firing[0].id == {"type": "alert-act", "act": "ack", "id": 1}
    assert getattr(firing[0], "aria-label") == (
        "Acknowledge alert 1, database Down")  # the visible word starts the accessible name
    am.acknowledge(1, "ana", "on it")
    acked = av.alert_item(am.active()[0], clock.now)
    assert [b.children for b in buttons(acked)] == ["Resolve"]
    assert "⚑ acknowledged by ana" in text(acked)


def test_alert_text_is_never_html(am: AlertManager, clock: FakeClock) -> None:
    am.ingest([ExternalAlert("f1", "firing", {"alertname": XSS, "service": "api", "team": XSS},
                             {"summary": XSS, "runbook_url": "javascript:alert(1)"},
                             T0, None, "", "am")])
    item = av.alert_item(am.active()[0], clock.now)
    assert XSS in [n for n in walk(item) if isinstance(n, str)]  # a plain string child: text
    assert f"team={XSS}" in text(item)
    assert not any(isinstance(n, html.Img | html.Iframe) for n in walk(item))
    assert "javascript:" not in json.dumps(links(item))  # shown as code text, not as a link
    assert "javascript:alert(1)" in text(item)
    assert "dangerously" not in json.dumps(item.to_plotly_json(), default=str)


def test_history_filters_durations_and_transitions(am: AlertManager, clock: FakeClock) -> None:
    step(am, clock, down=("database",))  # id 1 fires at T0+5
    clock.tick(30)
    am.acknowledge(1, "ana", "looking into it")
    clock.tick(30)
    am.resolve(1, "ana", "restarted the pool")
    for _ in range(2):
        step(am, clock, cpu=95)  # id 2 fires at T0+70, still open
    clock.tick(100)
    query = av.history_query("api", "all", "1h", clock.now)
    assert query == {"service": "api", "severity": None, "start": clock.now - 3600,
                     "end": clock.now}
    assert av.history_query("all", "loud", "nonsense", clock.now)["start"] == clock.now - 86400
    assert [a["id"] for a in am.history(**query)] == [2]
    assert [a["id"] for a in am.history(**av.history_query("all", "critical", "24h",
                                                           clock.now))] == [1]
    table = av.history_table(am.history(**av.history_query(None, None, "24h", clock.now)),
                             clock.now, limit=200)
    rows = {getattr(n, "id", None): n for n in walk(table) if isinstance(n, html.Tr)}
    assert text(rows["history-1"].children[4]) == "1 m 00 s"
    assert text(rows["history-2"].children[4]) == "1 m 45 s so far"
    steps = [text(li) for li in walk(rows["history-1"]) if isinstance(li, html.Li)]
    assert steps[2:] == [f"{av.when(T0 + 35)} firing → acknowledged by ana: looking into it",
                         f"{av.when(T0 + 65)} acknowledged → resolved by ana: "
                         "restarted the pool"]
    assert links(rows["history-1"]) == {"database": f"/service/database?t={int(T0 + 5)}"}


def test_mean_times_and_counts_by_severity(am: AlertManager, clock: FakeClock) -> None:
    empty = text(av.stats_block(am.stats()))
    assert "– (no alert was acknowledged in the last 24 h)" in empty
    step(am, clock, down=("database",))
    clock.tick(30)
    am.acknowledge(1, "ana")
    clock.tick(95)
    am.resolve(1, "ana")
    step(am, clock, cpu=95)
    block = av.stats_block(am.stats())
    got = {getattr(n, "id", None): text(n) for n in walk(block) if isinstance(n, html.Dd)}
    assert got == {"alert-stat-0": "30 s over 1 alert", "alert-stat-1": "2 m 05 s over 1 alert",
                   "alert-stat-2": "2 (1 critical, 1 warning, 0 info)"}


def test_signature_changes_only_when_states_change(am: AlertManager, clock: FakeClock) -> None:
    step(am, clock, down=("database",), cpu=95)
    before = av.signature(am.active())
    step(am, clock, down=("database",), cpu=97)
    assert [a["value"] for a in am.active() if a["service"] == "api"] == [97]
    assert av.signature(am.active()) == before  # a new value, same alerts: no re-render
    am.acknowledge(1, "ana")
    assert av.signature(am.active()) != before
    acked = av.signature(am.active())
    assert av.signature(am.active(), [{"name": "ops", "sent": 1, "failed": 1}]) != acked


def test_delivery_failures_are_visible(tmp_path: Path, clock: FakeClock) -> None:
    with receiver(statuses=[500]) as rec:
        ops = Notifier("ops", rec.url + "/hook/s3cret", max_attempts=1)
        manager = AlertManager([DOWN], FLEET, AlertStore(tmp_path / "a.sqlite3"), clock=clock,
                               routes={"default": Route("default", (RouteStep("ops"),))},
                               notifiers={"ops": ops})
        step(manager, clock, down=("database",))
        assert ops.flush(10)
        block = text(av.notifier_block(manager.stats()["notifiers"]))
        manager.close()
    assert "ops" in block and "✖ 1" in block and "500" in block
    assert "s3cret" not in block  # the target is shown redacted
    assert "No notifiers" in text(av.notifier_block([]))


def _alert(aid: int, service: str, state: str, severity: str = "warning",
           at: float = T0) -> dict[str, Any]:
    return {"id": aid, "service": service, "state": state, "severity": severity,
            "startsAtTs": at, "summary": f"{service} trouble", "rule": "R"}


ALERTS = [_alert(1, "api", "firing", "warning", T0), _alert(2, "api", "acknowledged",
                                                            "critical", T0 + 60),
          _alert(3, "api", "pending"), _alert(4, "database", "resolved"),
          _alert(5, "worker-1", "firing", "info", T0 + 5)]


def test_markers_count_firing_and_acknowledged_per_service() -> None:
    counts = av.alert_counts(ALERTS)
    assert {k: [a["id"] for a in v] for k, v in counts.items()} == {"api": [2, 1],
                                                                    "worker-1": [5]}
    card = service_card("api", {"status": "degraded"}, counts["api"])
    marker = next(n for n in walk(card) if "alert-marker" in str(getattr(n, "className", "")))
    assert marker.children == "⚠ 2 alerts, worst critical"
    assert marker.href == f"/service/api?t={int(T0 + 60)}"  # the newest alert's time
    calm = service_card("database", {"status": "healthy"})
    assert not any("alert-marker" in str(getattr(n, "className", "")) for n in walk(calm))


def test_map_rings_and_labels_services_with_alerts() -> None:
    fig = dependency_figure(FLEET, {s.name: "healthy" for s in FLEET}, alerts={"api": 2,
                                                                                "nope": 1})
    ring = fig.data[0]
    assert ring.meta == {"role": "alerts"} and list(ring.customdata) == ["api"]
    assert ring.marker.symbol == "circle-open" and ring.name == "⚠ has active alerts"
    labels = {n: t for trace in fig.data[1:] for n, t in zip(trace.customdata, trace.text,
                                                               strict=True)}
    assert labels["api"] == "✔ api · ⚠ 2 alerts" and labels["database"] == "✔ database"
    assert sorted(labels) == sorted(s.name for s in FLEET)  # still one node per service
    plain = dependency_figure(FLEET, {s.name: "healthy" for s in FLEET})
    assert all(t.meta.get("role") == "nodes" for t in plain.data)


def test_toast_only_for_alerts_that_fire_after_the_first_look() -> None:
    new, seen = av.new_firing(ALERTS, None)
    assert new == [] and seen == [1, 5]  # a first visit: remembered, not announced
    later = [*ALERTS, _alert(6, "database", "firing", "critical", T0 + 90)]
    new, seen = av.new_firing(later, seen)
    assert [a["id"] for a in new] == [6] and seen == [1, 5, 6]
    assert av.new_firing(later, seen)[0] == []  # a reload does not announce it again
    assert av.toast_header(new) == "‼ 1 new alert, worst critical"
    assert links(av.toast_body(new))["database: database trouble"] == (
        f"/service/database?t={int(T0 + 90)}")
    many = [_alert(i, "api", "firing") for i in range(10, 15)]
    assert "and 2 more" in text(av.toast_body(many))


def test_an_open_toast_keeps_what_it_announced_when_more_fire() -> None:
    shown, memo = av.announce(ALERTS, None, toast_open=False)
    assert shown is None and memo == {"seen": [1, 5], "shown": []}
    first = [*ALERTS, _alert(6, "api", "firing")]
    shown, memo = av.announce(first, memo, toast_open=False)
    assert [a["id"] for a in shown or []] == [6]
    second = [*first, _alert(7, "dashboard", "firing")]
    shown, memo = av.announce(second, memo, toast_open=True)  # the person has not closed it
    assert [a["id"] for a in shown or []] == [7, 6]
    assert av.announce(second, memo, toast_open=True) == (None, memo)  # nothing new: untouched
    third = [*second, _alert(8, "database", "firing")]
    shown, _ = av.announce(third, memo, toast_open=False)  # closed: only the newest
    assert [a["id"] for a in shown or []] == [8]



def _hint(cause: str, affected: tuple[tuple[str, str], ...], problem: str = "pool exhausted",
          since: float = T0 + 3) -> RootCauseHint:
    return RootCauseHint(cause, problem, since, affected, ((cause, "first"),))


def _group_hints(section: Any) -> dict[str, list[Any]]:
    """Each group's title -> the hint lines it shows."""
    return {text(g.children[0]): [n for n in walk(g) if "alert-group-hint" in
                                  str(getattr(n, "className", ""))]
            for g in walk(section) if isinstance(g, html.Section)}


def test_a_group_shows_the_hint_that_concerns_it_linked_to_the_cause_at_its_onset(
        am: AlertManager, clock: FakeClock) -> None:
    step(am, clock, down=("api", "dashboard"))  # database has no alert: api is the root
    hint = _hint("database", (("api", "down"), ("dashboard", "down")))
    page = ag.active_section(am.groups(), am.active(), clock.now, hint)
    shown = _group_hints(page)["api: root cause"]
    assert len(shown) == 1
    strings = [n for n in walk(shown[0]) if isinstance(n, str)]
    assert strings == ["Analytics: ", "api down, dashboard down; likely cause: database pool "
                       f"exhausted, since {av.when(T0 + 3)[11:19]}", " ",
                       "Open database at that moment"]
    assert links(shown[0]) == {"Open database at that moment": f"/service/database?t={T0 + 3:.0f}"}
    assert len([n for n in walk(page) if "alert-group-hint" in str(getattr(n, "className", ""))]
               ) == 1  # on the group only, not repeated above it
    as_dict = ag.group_block(am.groups()[0], clock.now, hint.as_dict())  # the view's dict form
    assert text(_group_hints(as_dict)["api: root cause"][0]) == text(shown[0])


def test_a_group_does_not_show_an_unrelated_hint(am: AlertManager, clock: FakeClock) -> None:
    step(am, clock, down=("database", "api"))
    unrelated = _hint("openai", (("worker-1", "anomalous"),), problem="slow")
    group = am.groups()[0]
    assert group["root"] == "database"
    assert _group_hints(ag.group_block(group, clock.now, unrelated)) == {
        "database: root cause": []}
    assert _group_hints(ag.group_block(group, clock.now, None)) == {"database: root cause": []}
    page = ag.active_section(am.groups(), am.active(), clock.now, unrelated)
    alone = [n for n in page.children if "alert-group-hint" in str(getattr(n, "className", ""))]
    assert [links(n) for n in alone] == [  # said once above the groups, since none matches
        {"Open openai at that moment": f"/service/openai?t={T0 + 3:.0f}"}]


def test_a_hint_is_matched_by_a_symptom_service_too(am: AlertManager, clock: FakeClock) -> None:
    step(am, clock, down=("database", "dashboard"))
    hint = _hint("api", (("dashboard", "down"),), problem="slow")  # names a symptom only
    shown = _group_hints(ag.group_block(am.groups()[0], clock.now, hint))
    assert [len(v) for v in shown.values()] == [1]


def test_hint_text_from_a_service_is_shown_as_text(am: AlertManager, clock: FakeClock) -> None:
    step(am, clock, down=("database",))
    hint = _hint("database", (("api", XSS),), problem=XSS)
    block = ag.group_block(am.groups()[0], clock.now, hint)
    line = _group_hints(block)["database: root cause"][0]
    assert hint.text() in [n for n in walk(line) if isinstance(n, str)]  # a plain string child
    assert not any(isinstance(n, html.Img | html.Iframe) for n in walk(block))
    assert "dangerously" not in json.dumps(block.to_plotly_json(), default=str)


def test_signature_changes_when_the_hint_does(am: AlertManager, clock: FakeClock) -> None:
    step(am, clock, down=("database",))
    hint = _hint("database", (("api", "down"),))
    plain = av.signature(am.active())
    with_hint = av.signature(am.active(), hint=ag.hint_key(hint))
    assert with_hint != plain
    assert av.signature(am.active(), hint=ag.hint_key(hint.as_dict())) == with_hint
    assert ag.hint_key(None) == ""
