"""The dependency map: layered layout, arrows, impact propagation, status never by colour alone."""

from __future__ import annotations

from itertools import pairwise

import pytest

from tamma_dash.config import ServiceConfig
from tamma_dash.models import ServiceKind as K
from tamma_dash.ui.depmap import dependency_figure, impact, layers, positions
from tamma_dash.ui.theme import status_colour

FLEET = (
    ServiceConfig("database", K.DATABASE),
    ServiceConfig("orchestrator", K.ORCHESTRATOR, depends_on=("database",)),
    ServiceConfig("worker", K.WORKER, depends_on=("orchestrator", "database")),
    ServiceConfig("api", K.API, depends_on=("orchestrator",)),
    ServiceConfig("dashboard", K.DASHBOARD, depends_on=("api",)),
    ServiceConfig("github", K.GIT),
)
ALL_OK = {s.name: "healthy" for s in FLEET}


def test_layers_put_dependencies_below_dependents() -> None:
    assert layers(FLEET) == {"database": 0, "github": 0, "orchestrator": 1, "worker": 2,
                             "api": 2, "dashboard": 3}
    pos = positions(FLEET)
    for svc in FLEET:
        for dep in svc.depends_on:
            assert pos[dep][1] < pos[svc.name][1]


def test_layout_is_deterministic_and_centred() -> None:
    assert positions(FLEET) == positions(FLEET)
    assert positions(FLEET) == {
        "database": (-0.5, 0.0), "github": (0.5, 0.0), "orchestrator": (0.0, 1.0),
        "worker": (-0.5, 2.0), "api": (0.5, 2.0), "dashboard": (0.0, 3.0),
    }
    a = dependency_figure(FLEET, ALL_OK).to_plotly_json()
    b = dependency_figure(FLEET, ALL_OK).to_plotly_json()
    assert a == b


def test_layer_order_follows_dependencies_to_avoid_crossings() -> None:
    fleet = (
        ServiceConfig("left-db", K.DATABASE), ServiceConfig("right-db", K.DATABASE),
        ServiceConfig("uses-right", K.API, depends_on=("right-db",)),
        ServiceConfig("uses-left", K.API, depends_on=("left-db",)),
    )
    pos = positions(fleet)
    assert pos["uses-left"][0] < pos["uses-right"][0]


def test_one_arrow_per_edge_from_dependent_to_dependency() -> None:
    fig = dependency_figure(FLEET, ALL_OK)
    arrows = [a for a in fig.layout.annotations if a.showarrow]
    assert len(arrows) == sum(len(s.depends_on) for s in FLEET) == 5
    pos = positions(FLEET)
    by_name = {a.name: a for a in arrows}
    worker_db = by_name["worker->database"]
    assert (worker_db.x, worker_db.y) == pos["database"]  # the head is at the dependency
    assert (worker_db.ax, worker_db.ay) == pos["worker"]
    assert worker_db.axref == "x" and worker_db.ayref == "y"


def test_impact_propagates_through_two_levels_nearest_first() -> None:
    st = {**ALL_OK, "database": "down"}
    got = impact(FLEET, st)
    assert got["orchestrator"] == ["database"]
    assert got["api"] == ["database"]  # api -> orchestrator -> database
    assert got["dashboard"] == ["database"]  # three hops
    assert got["database"] == [] and got["github"] == []
    st["orchestrator"] = "degraded"
    assert impact(FLEET, st)["dashboard"] == ["orchestrator", "database"]
    assert impact(FLEET, st)["worker"] == ["orchestrator", "database"]


def test_healthy_and_unknown_dependencies_do_not_count_as_failing() -> None:
    assert all(v == [] for v in impact(FLEET, ALL_OK).values())
    assert impact(FLEET, {"api": "healthy"})["dashboard"] == []  # missing statuses are unknown


def _node(fig: object, name: str) -> tuple[object, int]:
    for trace in fig.data:  # type: ignore[attr-defined]
        if name in trace.customdata:
            return trace, list(trace.customdata).index(name)
    raise AssertionError(f"{name} not drawn")


def test_status_is_shown_by_symbol_icon_and_word_not_colour_alone() -> None:
    st = {**ALL_OK, "database": "down", "worker": "degraded", "github": "unknown"}
    fig = dependency_figure(FLEET, st, theme="dark")
    expected = {"database": ("x", "✖", "down"), "worker": ("triangle-up", "▲", "degraded"),
                "github": ("diamond", "?", "unknown")}
    for name, (symbol, icon, word) in expected.items():
        trace, i = _node(fig, name)
        assert trace.marker.symbol == symbol
        assert trace.marker.color == status_colour(word, "dark")
        assert trace.text[i].startswith(f"{icon} {name}")
        assert f"{icon} {word}" in trace.hovertext[i] and trace.name.startswith(f"{icon} {word}")


def test_healthy_service_with_failing_dependency_is_drawn_at_risk() -> None:
    st = {**ALL_OK, "database": "down"}
    fig = dependency_figure(FLEET, st)
    api, i = _node(fig, "api")
    assert api.name == "✔ healthy · at risk"
    assert api.text[i] == "✔ api (at risk)"
    assert "at risk: depends on database (down)" in api.hovertext[i]
    assert api.marker.line.width == 4
    assert api.marker.line.color == status_colour("degraded", "light")
    calm, _ = _node(fig, "github")
    assert calm.name == "✔ healthy" and calm.marker.line.width != 4


def test_every_service_is_one_clickable_point_named_in_customdata() -> None:
    fig = dependency_figure(FLEET, {**ALL_OK, "api": "down"})
    names = [n for trace in fig.data for n in trace.customdata]
    assert sorted(names) == sorted(s.name for s in FLEET)


def test_a_cycle_is_reported_by_name() -> None:
    loop = (ServiceConfig("a", K.API, depends_on=("b",)), ServiceConfig("b", K.API,
                                                                       depends_on=("a",)))
    with pytest.raises(ValueError, match="cycle a -> b -> a"):
        layers(loop)


def test_labels_of_a_crowded_layer_alternate_below_and_above() -> None:
    """Seen on the overview: '✔ worker-1✔ worker-2' ran together in the demo's worker layer."""
    from tamma_dash.demo.topology import SERVICES

    fleet = tuple(ServiceConfig(s.name, s.kind, depends_on=s.depends_on) for s in SERVICES)
    pos = positions(fleet)
    fig = dependency_figure(fleet, {s.name: "healthy" for s in fleet})
    sides = {}
    for trace in fig.data:
        if (trace.meta or {}).get("role") == "nodes":
            sides.update(zip(trace.customdata, trace.textposition, strict=True))
    assert set(sides) == {s.name for s in fleet}
    for y in {p[1] for p in pos.values()}:
        layer = sorted((pos[n][0], n) for n in pos if pos[n][1] == y)
        got = [sides[n] for _, n in layer]
        if len(layer) >= 4:  # neighbours never share a side
            assert all(a != b for a, b in pairwise(got)), (y, got)
        else:
            assert set(got) == {"bottom center"}, (y, got)
    assert any(len([n for n in pos if pos[n][1] == y]) >= 4 for y in {p[1] for p in pos.values()})
