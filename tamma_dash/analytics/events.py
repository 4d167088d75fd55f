"""Anomaly events: a CUSUM over each service's per-tick evidence opens and closes them.

Evidence is ``-log`` of how rare a tick is against training (see ``servicemodel.evidence``).
A tick adds its evidence minus ``drift``; the sum never goes below 0. When it passes
``threshold`` an event opens, dated from when the sum last left 0 (the onset, not the moment
of detection, which root-cause ordering needs); it closes when the sum is back at 0. So one
wild tick, or a run of merely unusual ones, opens one event, and ordinary noise none.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tamma_dash.analytics.anomaly import AnomalyResult
from tamma_dash.models import split_key

DRIFT = 4.0
THRESHOLD = 10.0
MAX_EVENTS = 500


@dataclass(frozen=True)
class DriverInfo:
    """A metric behind an event: its value then, its usual value and distance in band widths."""

    metric: str
    value: float
    baseline: float
    distance: float
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "value": self.value, "baseline": self.baseline,
                "distance": self.distance, "score": self.score}


@dataclass(frozen=True)
class AnomalyEvent:
    """One anomalous stretch of one service; ``end`` is None while it lasts."""

    id: str
    service: str
    start: float
    detected: float
    end: float | None
    score: float  # peak service score, 0..1
    drivers: tuple[DriverInfo, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "service": self.service, "start": self.start,
                "detected": self.detected, "end": self.end, "score": self.score,
                "drivers": [d.as_dict() for d in self.drivers]}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> AnomalyEvent:
        """The inverse of :meth:`as_dict` (raises KeyError/TypeError/ValueError when malformed)."""
        drivers = tuple(DriverInfo(str(d["metric"]), float(d["value"]), float(d["baseline"]),
                                   float(d["distance"]), float(d.get("score", 0.0)))
                        for d in raw.get("drivers", ()))
        end = raw.get("end")
        return cls(str(raw["id"]), str(raw["service"]), float(raw["start"]),
                   float(raw.get("detected", raw["start"])), None if end is None else float(end),
                   float(raw["score"]), drivers)


def drivers_of(result: AnomalyResult) -> tuple[DriverInfo, ...]:
    """The result's drivers with metric names (not series keys) and their series scores."""
    return tuple(DriverInfo(split_key(d.metric)[1] if "/" in d.metric else d.metric, d.value,
                            d.median, d.distance, result.per_series.get(d.metric, 0.0))
                 for d in result.drivers)


@dataclass
class _Run:
    total: float = 0.0
    since: float | None = None
    open: AnomalyEvent | None = None


@dataclass
class EventTracker:
    """Turns (service, ts, evidence, result) into events; fed by one worker, not thread-safe."""

    drift: float = DRIFT
    threshold: float = THRESHOLD
    max_events: int = MAX_EVENTS
    _runs: dict[str, _Run] = field(default_factory=dict)
    _closed: deque[AnomalyEvent] = field(default_factory=deque)

    def update(self, service: str, ts: float, evidence: float,
               result: AnomalyResult | None = None) -> AnomalyEvent | None:
        """Feed one tick; returns the service's open event (new or ongoing), else None."""
        run = self._runs.setdefault(service, _Run())
        before = run.total
        run.total = max(0.0, run.total + evidence - self.drift)
        if before == 0.0 and run.total > 0.0:
            run.since = ts
        if run.open is not None:
            if run.total == 0.0:
                self._close(run, ts)
                return None
            run.open = self._peak(run.open, result)
        elif run.total > self.threshold:
            start = run.since if run.since is not None else ts
            event = AnomalyEvent(f"{service}@{start:.3f}", service, start, ts, None, 0.0)
            run.open = self._peak(event, result)
        return run.open

    def _peak(self, event: AnomalyEvent, result: AnomalyResult | None) -> AnomalyEvent:
        if result is None or (result.score <= event.score and event.drivers):
            return event
        drivers = drivers_of(result) or event.drivers
        return replace(event, score=max(event.score, result.score), drivers=drivers)

    def _close(self, run: _Run, ts: float) -> None:
        assert run.open is not None
        self._closed.append(replace(run.open, end=ts))
        while len(self._closed) > self.max_events:
            self._closed.popleft()
        run.open = None

    def restore(self, events: Iterable[AnomalyEvent], saved_at: float) -> None:
        """Keep earlier (persisted) events; one still open when saved ends at ``saved_at``."""
        for e in sorted(events, key=lambda e: e.start):
            self._closed.append(e if e.end is not None else replace(e, end=max(saved_at, e.start)))
        while len(self._closed) > self.max_events:
            self._closed.popleft()

    def events(self) -> list[AnomalyEvent]:
        """Closed then open events, oldest first."""
        current = [r.open for r in self._runs.values() if r.open is not None]
        return sorted([*self._closed, *current], key=lambda e: e.start)

    def open_events(self) -> dict[str, AnomalyEvent]:
        return {s: r.open for s, r in self._runs.items() if r.open is not None}


def select(events: Sequence[AnomalyEvent], start: float, end: float,
           services: Sequence[str] = ()) -> list[AnomalyEvent]:
    """Events overlapping [start, end], optionally only of ``services``."""
    return [e for e in events if e.start <= end and (e.end is None or e.end >= start)
            and (not services or e.service in services)]
