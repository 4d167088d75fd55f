"""The service dependency map: a layered, deterministic plotly network with impact propagation.

Layers come from ``depends_on``: services that depend on nothing sit at the bottom (layer 0),
every other service one layer above its highest dependency. Within a layer, services are
ordered by the mean position of their dependencies (fewer crossing arrows), ties by config
order. Arrows point from a dependent to its dependency. Status shows as colour, marker symbol,
icon and word together; a healthy service with a failing dependency is drawn "at risk".
A service with active alerts gets a ring around its node and "⚠ n alerts" in its label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from tamma_dash.config import ServiceConfig
from tamma_dash.ui.plotfig import figure
from tamma_dash.ui.theme import (
    ALERT_MARK,
    STATUS_SYMBOLS,
    alert_count_text,
    palette,
    status_colour,
    status_icon,
    template,
)

FAILING = ("down", "degraded")
NODE_SIZE = 30
LAYER_HEIGHT_PX = 130
AT_RISK_LINE = 4
ALERT_RING_SIZE = NODE_SIZE + 16


def _statuses(services: Sequence[ServiceConfig], statuses: Mapping[str, str]) -> dict[str, str]:
    return {s.name: statuses.get(s.name, "unknown") for s in services}


def impact(
    services: Sequence[ServiceConfig], statuses: Mapping[str, str],
    failing: Sequence[str] = FAILING,
) -> dict[str, list[str]]:
    """For each service, the failing services it depends on, directly or not, nearest first."""
    deps = {s.name: [d for d in s.depends_on] for s in services}
    status = _statuses(services, statuses)
    out: dict[str, list[str]] = {}
    for svc in services:
        seen: set[str] = {svc.name}
        queue = list(deps[svc.name])
        found: list[str] = []
        while queue:
            name = queue.pop(0)
            if name in seen:
                continue
            seen.add(name)
            if status.get(name, "unknown") in failing:
                found.append(name)
            queue.extend(deps.get(name, ()))
        out[svc.name] = found
    return out


def layers(services: Sequence[ServiceConfig]) -> dict[str, int]:
    """Layer of each service: 0 without dependencies, else one above its highest dependency."""
    deps = {s.name: [d for d in s.depends_on if d != s.name] for s in services}
    done: dict[str, int] = {}

    def visit(name: str, path: tuple[str, ...]) -> int:
        if name in done:
            return done[name]
        if name in path:
            cycle = " -> ".join([*path[path.index(name):], name])
            raise ValueError(f"depends_on forms a cycle {cycle}; remove one edge")
        below = [visit(d, (*path, name)) for d in deps[name] if d in deps]
        done[name] = 1 + max(below) if below else 0
        return done[name]

    for svc in services:
        visit(svc.name, ())
    return done


def positions(services: Sequence[ServiceConfig]) -> dict[str, tuple[float, float]]:
    """Deterministic (x, y) per service: y is the layer, x centres each layer on 0."""
    layer_of = layers(services)
    order = {s.name: i for i, s in enumerate(services)}
    deps = {s.name: [d for d in s.depends_on if d in order] for s in services}
    pos: dict[str, tuple[float, float]] = {}
    for level in range(max(layer_of.values(), default=-1) + 1):
        members = [s.name for s in services if layer_of[s.name] == level]

        def barycentre(name: str) -> tuple[float, int]:
            xs = [pos[d][0] for d in deps[name] if d in pos]
            return (sum(xs) / len(xs) if xs else 0.0, order[name])

        members.sort(key=barycentre)
        for i, name in enumerate(members):
            pos[name] = (i - (len(members) - 1) / 2, float(level))
    return pos


def _hover(
    svc: ServiceConfig, word: str, failing_deps: list[str], status: Mapping[str, str],
    alerts: int = 0,
) -> str:
    lines = [f"<b>{svc.name}</b> ({svc.kind.value})", f"{status_icon(word)} {word}"]
    if alerts:
        lines.append(alert_count_text(alerts))
    if failing_deps:
        affected = ", ".join(f"{d} ({status[d]})" for d in failing_deps)
        lines.append(f"{'at risk: ' if word == 'healthy' else ''}depends on {affected}")
    if svc.depends_on:
        lines.append(f"uses: {', '.join(svc.depends_on)}")
    return "<br>".join(lines)


CROWDED_LAYER = 4  # from this many nodes side by side, labels alternate below and above


def label_side(pos: Mapping[str, tuple[float, float]], name: str) -> str:
    """'bottom center', or 'top center' for every other node of a crowded layer, so the labels
    of neighbours ('✔ worker-1', '✔ worker-2') do not run into each other."""
    x, y = pos[name]
    layer = sorted(px for px, py in pos.values() if py == y)
    if len(layer) < CROWDED_LAYER:
        return "bottom center"
    return "top center" if layer.index(x) % 2 else "bottom center"


def _node_trace(
    group: list[ServiceConfig], word: str, at_risk: bool, pos: Mapping[str, tuple[float, float]],
    hovers: Mapping[str, str], theme: str, alerts: Mapping[str, int],
) -> dict[str, Any]:
    p = palette(theme)
    colour = status_colour(word, theme)
    outline = (dict(color=status_colour("degraded", theme), width=AT_RISK_LINE) if at_risk
               else dict(color=p.background, width=1.5))
    suffix = " (at risk)" if at_risk else ""
    return dict(
        type="scatter", x=[pos[s.name][0] for s in group], y=[pos[s.name][1] for s in group],
        mode="markers+text", textposition=[label_side(pos, s.name) for s in group],
        cliponaxis=False,
        text=[f"{status_icon(word)} {s.name}{suffix}"
              + (f" · {alert_count_text(alerts[s.name])}" if alerts.get(s.name) else "")
              for s in group],
        textfont=dict(color=p.text),
        marker=dict(symbol=STATUS_SYMBOLS.get(word, "diamond"), size=NODE_SIZE, color=colour,
                    line=outline),
        name=f"{status_icon(word)} {word}{' · at risk' if at_risk else ''}",
        customdata=[s.name for s in group], hovertext=[hovers[s.name] for s in group],
        hovertemplate="%{hovertext}<extra></extra>",
        meta={"role": "nodes", "status": word, "at_risk": at_risk},
    )


def _alert_ring(
    names: list[str], pos: Mapping[str, tuple[float, float]], alerts: Mapping[str, int],
    theme: str,
) -> dict[str, Any]:
    """An open ring around every node with active alerts (the label says it in words too)."""
    return dict(
        type="scatter", x=[pos[n][0] for n in names], y=[pos[n][1] for n in names], mode="markers",
        marker=dict(symbol="circle-open", size=ALERT_RING_SIZE,
                    color=status_colour("down", theme), line=dict(width=3)),
        name=f"{ALERT_MARK} has active alerts", customdata=names,
        hovertext=[f"{n}: {alert_count_text(alerts[n])}" for n in names],
        hovertemplate="%{hovertext}<extra></extra>", meta={"role": "alerts"},
    )


def _edges(
    services: Sequence[ServiceConfig], pos: Mapping[str, tuple[float, float]],
    status: Mapping[str, str], theme: str,
) -> list[dict[str, object]]:
    """One arrow annotation per depends_on edge, from dependent (tail) to dependency (head)."""
    muted = palette(theme).muted
    out: list[dict[str, object]] = []
    for svc in services:
        for dep in svc.depends_on:
            if dep not in pos:
                continue
            bad = status[dep] in FAILING
            out.append(dict(
                x=pos[dep][0], y=pos[dep][1], ax=pos[svc.name][0], ay=pos[svc.name][1],
                xref="x", yref="y", axref="x", ayref="y", text="", showarrow=True,
                arrowhead=2, arrowsize=1.2, arrowwidth=2.5 if bad else 1.5,
                arrowcolor=status_colour(status[dep], theme) if bad else muted,
                standoff=NODE_SIZE / 2 + 3, startstandoff=NODE_SIZE / 2 + 3,
                name=f"{svc.name}->{dep}",
            ))
    return out


def dependency_figure(
    services: Sequence[ServiceConfig], statuses: Mapping[str, str], *, theme: str = "light",
    alerts: Mapping[str, int] | None = None,
) -> go.Figure:
    """Nodes grouped by (status, at risk) into legend entries; customdata is the service name.

    ``alerts`` (service -> active alert count) adds a ring trace, drawn first, under the nodes.
    """
    status = _statuses(services, statuses)
    pos = positions(services)
    hit = impact(services, status)
    counts = {k: v for k, v in (alerts or {}).items() if v > 0 and k in pos}
    hovers = {s.name: _hover(s, status[s.name], hit[s.name], status, counts.get(s.name, 0))
              for s in services}
    groups: dict[tuple[str, bool], list[ServiceConfig]] = {}
    for svc in services:
        word = status[svc.name]
        groups.setdefault((word, word == "healthy" and bool(hit[svc.name])), []).append(svc)
    rank = {w: i for i, w in enumerate(("healthy", "degraded", "down", "unknown"))}
    traces = [_node_trace(groups[g], g[0], g[1], pos, hovers, theme, counts)
              for g in sorted(groups, key=lambda g: (rank.get(g[0], 9), g[0], g[1]))]
    if counts:
        ringed = [s.name for s in services if s.name in counts]
        traces.insert(0, _alert_ring(ringed, pos, counts, theme))
    n_layers = int(max((y for _, y in pos.values()), default=0)) + 1
    width = max((abs(x) for x, _ in pos.values()), default=0.0) + 0.75
    hidden = dict(visible=False, fixedrange=True, zeroline=False, showgrid=False)
    return figure(traces, dict(
        template=template(theme), title=dict(text="Service dependencies"),
        annotations=_edges(services, pos, status, theme), showlegend=True,
        legend=dict(orientation="h", x=0, y=-0.02, yanchor="top"),
        xaxis=dict(hidden, range=[-width, width]),
        yaxis=dict(hidden, range=[-0.6, n_layers - 0.4]),
        height=LAYER_HEIGHT_PX * n_layers + 120, hovermode="closest", dragmode=False,
        meta={"edges": sum(1 for s in services for d in s.depends_on if d in pos)},
    ))
