"""Faults on demand for the demo fleet: what can break where, for how long, and when it ends."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tamma_dash.demo.topology import EXTERNAL_KINDS, FLEET_KINDS, SERVICES
from tamma_dash.models import Clock, ServiceKind

FAULT_KINDS: tuple[str, ...] = (
    "down", "latency", "errors", "memory_leak", "queue_backlog", "rate_limit",
    "db_pool_exhaustion",
)

_ALL_KINDS = FLEET_KINDS | EXTERNAL_KINDS
APPLICABLE: Mapping[str, frozenset[ServiceKind]] = {
    "down": _ALL_KINDS,
    "latency": _ALL_KINDS,
    "errors": _ALL_KINDS,
    "memory_leak": FLEET_KINDS,
    "queue_backlog": frozenset({ServiceKind.ORCHESTRATOR}),
    "rate_limit": EXTERNAL_KINDS,
    "db_pool_exhaustion": frozenset({ServiceKind.DATABASE}),
}
"""Which service kinds each fault kind can be injected into."""

MIN_DURATION_S = 1.0
MAX_DURATION_S = 86400.0
_HISTORY_LIMIT = 1000


@dataclass(frozen=True)
class Fault:
    """One fault on one service over ``[started, ends)`` (epoch seconds)."""

    id: str
    service: str
    kind: str
    started: float
    ends: float

    def active_at(self, t: float) -> bool:
        return self.started <= t < self.ends

    def as_dict(self, now: float) -> dict[str, Any]:
        """The JSON-friendly view used by the API: includes the seconds left at ``now``."""
        return {
            "id": self.id, "service": self.service, "kind": self.kind,
            "started": self.started, "ends": self.ends,
            "remaining_s": round(max(0.0, self.ends - now), 3),
        }


def kinds_for(kind: ServiceKind) -> tuple[str, ...]:
    """The fault kinds that make sense for a service of ``kind``, in FAULT_KINDS order."""
    return tuple(k for k in FAULT_KINDS if kind in APPLICABLE[k])


def validate(
    service: str, kind: str, duration_s: object, services: Mapping[str, ServiceKind]
) -> float:
    """Check an injection request; return the duration as float or raise ValueError saying why."""
    if service not in services:
        raise ValueError(f"unknown service {service!r}; one of {', '.join(services)}")
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(FAULT_KINDS)}")
    svc_kind = services[service]
    if svc_kind not in APPLICABLE[kind]:
        raise ValueError(
            f"kind {kind!r} does not apply to {service} ({svc_kind.value}); "
            f"for {service} use one of {', '.join(kinds_for(svc_kind))}"
        )
    ok_type = isinstance(duration_s, (int, float)) and not isinstance(duration_s, bool)
    value = float(duration_s) if ok_type else math.nan  # type: ignore[arg-type]
    if not (MIN_DURATION_S <= value <= MAX_DURATION_S):
        raise ValueError(
            f"duration_s must be between {MIN_DURATION_S:g} and {MAX_DURATION_S:g} seconds, "
            f"got {duration_s!r}"
        )
    return value


class FaultBook:
    """Active faults plus a bounded history, so the model can replay what was active when."""

    def __init__(
        self, clock: Clock = time.time, services: Mapping[str, ServiceKind] | None = None
    ) -> None:
        self._clock = clock
        self._services = dict(services or {s.name: s.kind for s in SERVICES})
        self._active: list[Fault] = []
        self._history: list[Fault] = []
        self._next_id = 1
        self._version = 0
        self._lock = threading.Lock()

    @property
    def version(self) -> int:
        """Grows whenever the timeline changes (inject, clear, record); for caching state."""
        return self._version

    def inject(self, service: str, kind: str, duration_s: float) -> Fault:
        """Start a fault now; raises ValueError for an unknown/inapplicable choice."""
        duration = validate(service, kind, duration_s, self._services)
        now = self._clock()
        with self._lock:
            fault = Fault(f"f{self._next_id}", service, kind, now, now + duration)
            self._next_id += 1
            self._version += 1
            self._active.append(fault)
        return fault

    def expire(self) -> list[Fault]:
        """Move faults that have ended to the history; return them."""
        now = self._clock()
        with self._lock:
            ended = [f for f in self._active if f.ends <= now]
            self._active = [f for f in self._active if f.ends > now]
            self._remember(ended)
        return ended

    def active(self) -> list[Fault]:
        """Faults active now (expiring the ended ones first), oldest first."""
        self.expire()
        with self._lock:
            return list(self._active)

    def clear(self) -> list[Fault]:
        """End every active fault now; the truncated faults stay in the history."""
        now = self._clock()
        with self._lock:
            cut = [Fault(f.id, f.service, f.kind, f.started, min(f.ends, now))
                   for f in self._active]
            self._active = []
            self._version += 1
            self._remember(cut)
        return cut

    def record(self, faults: Iterable[Fault]) -> None:
        """Add past incidents (from the backfill) so live state agrees with the history."""
        with self._lock:
            self._version += 1
            self._remember(list(faults))

    def timeline(self) -> tuple[Fault, ...]:
        """Every fault the model must know about: history and active ones."""
        with self._lock:
            return (*self._history, *self._active)

    def _remember(self, faults: list[Fault]) -> None:
        self._history.extend(faults)
        del self._history[:-_HISTORY_LIMIT]
