"""Routes, escalation, and one notification per alert group per notifier."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tamma_dash.alerts.grouping import AlertGroup, group_alerts
from tamma_dash.alerts.lifecycle import SYSTEM, Alert, AlertState, Transition
from tamma_dash.alerts.notify import Notifier
from tamma_dash.alerts.payloads import Notification
from tamma_dash.config import ServiceConfig

FIRED, RESOLVED, ESCALATED = "fired", "resolved", "escalated"


@dataclass(frozen=True)
class RouteStep:
    """A notifier, and how long an unacknowledged alert waits here before the next step."""

    notifier: str
    escalate_after_s: float | None = None


@dataclass(frozen=True)
class Route:
    """An ordered escalation chain of notifiers."""

    name: str
    steps: tuple[RouteStep, ...]


@dataclass(frozen=True)
class Change:
    alert: Alert
    what: str  # FIRED, RESOLVED or ESCALATED


def escalate(alert: Alert, route: Route | None, now: float) -> Transition | None:
    """Move a firing, unacknowledged alert to its route's next step when its wait is over."""
    if route is None or alert.state is not AlertState.FIRING:
        return None
    level = alert.escalation_level
    if level + 1 >= len(route.steps):
        return None
    wait = route.steps[level].escalate_after_s
    since = alert.escalated_at if alert.escalated_at is not None else alert.fired_at
    if wait is None or since is None or now - since < wait:
        return None
    alert.escalation_level, alert.escalated_at = level + 1, now
    target = route.steps[level + 1].notifier
    comment = f"unacknowledged for {now - since:g} s; escalated to {target}"
    return Transition(alert.id, now, alert.state.value, alert.state.value, SYSTEM, comment)


class Dispatcher:
    """Turns a tick's changes into grouped notifications on the right notifiers."""

    def __init__(
        self, routes: Mapping[str, Route], notifiers: Mapping[str, Notifier],
        services: Sequence[ServiceConfig], external_url: str = "",
    ) -> None:
        self.routes, self.notifiers = dict(routes), dict(notifiers)
        self.services, self.external_url = list(services), external_url
        self._last_sent: dict[tuple[str, str], float] = {}

    def route(self, alert: Alert) -> Route | None:
        return self.routes.get(alert.route) or self.routes.get("default")

    def send(self, changes: Sequence[Change], active: Iterable[Alert], now: float) -> int:
        """Notify each changed group once per target notifier; returns notifications queued."""
        resolved = [c.alert for c in changes if c.what == RESOLVED]
        firing = [a for a in active if a.firing]
        groups = group_alerts([*firing, *resolved], self.services)
        changed: dict[int, list[Change]] = {}
        for c in changes:
            changed.setdefault(id(c.alert), []).append(c)
        sent = 0
        for group in groups:
            targets = self._targets([c for a in group.alerts for c in changed.get(id(a), [])])
            targets |= self._resend_due(group, now)
            for name in sorted(targets):
                sent += self._notify(name, group, now)
        return sent

    def _targets(self, changes: Sequence[Change]) -> set[str]:
        out: set[str] = set()
        for c in changes:
            route = self.route(c.alert)
            if route is None or not route.steps:
                continue
            level = min(c.alert.escalation_level, len(route.steps) - 1)
            if c.what == FIRED:
                out.add(route.steps[0].notifier)
            elif c.what == ESCALATED:
                out.add(route.steps[level].notifier)
            else:
                out.update(s.notifier for s in route.steps[: level + 1])
        return out

    def _resend_due(self, group: AlertGroup, now: float) -> set[str]:
        """Notifiers that must hear about a still-firing group again (Alertmanager API expiry)."""
        if not any(a.firing for a in group.alerts):
            return set()
        out: set[str] = set()
        for (key, name), last in self._last_sent.items():
            every = self.notifiers[name].resend_s if name in self.notifiers else None
            if key == group.key and every is not None and now - last >= every:
                out.add(name)
        return out

    def _notify(self, name: str, group: AlertGroup, now: float) -> int:
        notifier = self.notifiers.get(name)
        if notifier is None:
            return 0
        n = Notification(name, group.key, {"service": group.root}, group.alerts, now,
                         self.external_url)
        if any(a.firing for a in group.alerts):
            self._last_sent[(group.key, name)] = now
        else:
            self._last_sent.pop((group.key, name), None)
        return 1 if notifier.notify(n) else 0
