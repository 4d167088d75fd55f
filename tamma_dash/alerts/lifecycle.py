"""The alert state machine: pending -> firing -> acknowledged -> resolved, without flapping.

``for_s`` is the minimum duration (a pending alert whose condition clears first is dropped
silently); ``keep_firing_for_s`` is the hysteresis (a firing or acknowledged alert resolves only
after its condition has stayed clear that long, and any return of the condition resets the count).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from tamma_dash.models import Severity

SYSTEM = "system"


class AlertState(enum.StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


ACTIVE = frozenset({AlertState.PENDING, AlertState.FIRING, AlertState.ACKNOWLEDGED})


class AlertNotFound(KeyError):
    """No alert with that id."""


class AlertStateError(ValueError):
    """The requested change does not apply to the alert's current state."""


@dataclass(frozen=True)
class Transition:
    alert_id: int
    ts: float
    from_state: str | None
    to_state: str
    actor: str
    comment: str


@dataclass
class Alert:
    """One episode of one alert series (identified by ``fingerprint``)."""

    id: int
    fingerprint: str
    rule: str
    kind: str
    service: str
    severity: Severity
    labels: dict[str, str]
    summary: str
    state: AlertState
    started_at: float
    value: float = 0.0
    description: str = ""
    runbook_url: str = ""
    route: str = "default"
    source: str = "rule"
    generator_url: str = ""
    fired_at: float | None = None
    acked_at: float | None = None
    acked_by: str | None = None
    resolved_at: float | None = None
    resolved_by: str | None = None
    clear_since: float | None = None
    escalation_level: int = 0
    escalated_at: float | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def firing(self) -> bool:
        """Firing in the Alertmanager sense: firing or acknowledged."""
        return self.state in (AlertState.FIRING, AlertState.ACKNOWLEDGED)


@dataclass
class Step:
    """What one evaluation did to an alert."""

    transitions: list[Transition] = field(default_factory=list)
    dropped: bool = False
    dirty: bool = False


def move(alert: Alert, to: AlertState, now: float, actor: str, comment: str) -> Transition:
    """Change state, stamp the time fields, and return the transition to record."""
    t = Transition(alert.id, now, alert.state.value, to.value, actor, comment)
    alert.state = to
    if to is AlertState.FIRING:
        alert.fired_at = now
        alert.escalated_at = now
    elif to is AlertState.ACKNOWLEDGED:
        alert.acked_at, alert.acked_by = now, actor
    elif to is AlertState.RESOLVED:
        alert.resolved_at, alert.resolved_by = now, actor
    return t


def advance(alert: Alert, holds: bool, now: float, for_s: float, keep_for_s: float) -> Step:
    """Apply one tick's verdict (does the condition hold?) to an active alert."""
    step = Step()
    if alert.state is AlertState.PENDING:
        if not holds:
            step.dropped = True
        elif now - alert.started_at >= for_s:
            step.transitions.append(move(alert, AlertState.FIRING, now, SYSTEM, alert.summary))
        return step
    if holds:
        if alert.clear_since is not None:
            alert.clear_since = None
            step.dirty = True
        return step
    if alert.clear_since is None:
        alert.clear_since = now
        step.dirty = True
    if now - alert.clear_since >= keep_for_s:
        comment = f"condition clear for {now - alert.clear_since:g} s"
        step.transitions.append(move(alert, AlertState.RESOLVED, now, SYSTEM, comment))
    return step


def acknowledge(alert: Alert, actor: str, comment: str, now: float) -> Transition:
    """A person takes a firing alert; it stays acknowledged while the condition holds."""
    if alert.state is not AlertState.FIRING:
        raise AlertStateError(
            f"alert {alert.id} is {alert.state.value}; only a firing alert can be acknowledged")
    return move(alert, AlertState.ACKNOWLEDGED, now, _who(actor), comment)


def resolve(alert: Alert, actor: str, comment: str, now: float) -> Transition:
    """A person closes an active alert; if the condition still holds a new episode starts."""
    if not alert.active:
        raise AlertStateError(f"alert {alert.id} is already {alert.state.value}")
    return move(alert, AlertState.RESOLVED, now, _who(actor), comment)


def _who(actor: str) -> str:
    name = actor.strip()
    if not name:
        raise AlertStateError("actor: say who you are (a name or e-mail address)")
    return name
