"""Alerts grouped by cause: what depends on a down service gathers under it as symptoms.

Like Alertmanager's inhibition, a service that is down (a status alert saying so) explains the
alerts of everything that depends on it, directly or through a chain; those become symptoms of
the furthest-upstream down service and one notification goes out for the whole group. A
resolved alert never explains others: it goes in its own service's group.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from tamma_dash.alerts.lifecycle import Alert
from tamma_dash.alerts.rules import RuleKind
from tamma_dash.config import ServiceConfig
from tamma_dash.models import Status


@dataclass
class AlertGroup:
    """Alerts that share a root service; ``cause`` is the root's leading alert, if it has one."""

    root: str
    cause: Alert | None
    symptoms: list[Alert] = field(default_factory=list)

    @property
    def alerts(self) -> list[Alert]:
        return ([self.cause] if self.cause else []) + self.symptoms

    @property
    def key(self) -> str:
        """Alertmanager-style group key."""
        return f'{{}}:{{service="{self.root}"}}'


def is_down(alert: Alert) -> bool:
    """Whether the alert says its service is down (and so may explain its dependents)."""
    return alert.kind == RuleKind.STATUS.value and alert.value == float(Status.DOWN)


def upstream(service: str, graph: Mapping[str, Sequence[str]]) -> list[str]:
    """Every service ``service`` depends on, directly or transitively (cycles tolerated)."""
    seen: list[str] = []
    todo = list(graph.get(service, ()))
    while todo:
        dep = todo.pop(0)
        if dep not in seen and dep != service:
            seen.append(dep)
            todo.extend(graph.get(dep, ()))
    return seen


def root_of(service: str, down: set[str], graph: Mapping[str, Sequence[str]]) -> str:
    """The furthest-upstream down service above ``service``, or ``service`` itself."""
    candidates = [d for d in upstream(service, graph) if d in down]
    roots = [d for d in candidates if not any(u in down for u in upstream(d, graph))]
    return sorted(roots or candidates)[0] if candidates else service


def group_alerts(alerts: Iterable[Alert], services: Sequence[ServiceConfig]) -> list[AlertGroup]:
    """Group alerts under their root cause; every alert appears in exactly one group."""
    items = list(alerts)
    graph = {s.name: s.depends_on for s in services}
    down = {a.service for a in items if is_down(a) and a.active}
    by_root: dict[str, list[Alert]] = {}
    for alert in items:
        by_root.setdefault(root_of(alert.service, down, graph), []).append(alert)
    groups: list[AlertGroup] = []
    for root, members in by_root.items():
        own = [a for a in members if a.service == root]
        cause = min(own, key=_lead_order) if own else None
        symptoms = sorted((a for a in members if a is not cause), key=_order)
        groups.append(AlertGroup(root, cause, symptoms))
    return sorted(groups, key=lambda g: (-max(int(a.severity) for a in g.alerts), g.root))


def _lead_order(alert: Alert) -> tuple[int, int, float, int]:
    """Down first, then most severe, then oldest."""
    return (0 if is_down(alert) else 1, -int(alert.severity), alert.started_at, alert.id)


def _order(alert: Alert) -> tuple[str, int, float, int]:
    return (alert.service, -int(alert.severity), alert.started_at, alert.id)
