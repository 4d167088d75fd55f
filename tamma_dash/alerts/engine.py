"""AlertManager: evaluates rules every tick, drives the lifecycle, persists, notifies, answers."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tamma_dash.alerts import lifecycle as lc
from tamma_dash.alerts.dispatch import ESCALATED, FIRED, RESOLVED, Change, Dispatcher, Route
from tamma_dash.alerts.dispatch import escalate as escalate_alert
from tamma_dash.alerts.grouping import AlertGroup, group_alerts
from tamma_dash.alerts.lifecycle import ACTIVE, Alert, AlertNotFound, AlertState, Transition
from tamma_dash.alerts.notify import Notifier
from tamma_dash.alerts.pace import PaceTracker
from tamma_dash.alerts.payloads import ORIGIN_ANNOTATION
from tamma_dash.alerts.receiver import ExternalAlert
from tamma_dash.alerts.rules import Condition, EvalContext, Rule
from tamma_dash.alerts.store import AlertStore
from tamma_dash.alerts.views import (
    alert_dict,
    alert_stats,
    check_severity,
    group_dict,
    with_transitions,
)
from tamma_dash.config import ServiceConfig
from tamma_dash.models import Clock, Severity
from tamma_dash.store.base import Latest

log = logging.getLogger(__name__)

STATES = ("pending", "firing", "acknowledged", "resolved", "all")
Rows = list[dict[str, Any]]


@dataclass
class TickOutcome:
    """What one evaluation changed (alert ids), for the pipeline's report and tests."""

    fired: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    notifications: int = 0


@dataclass
class _Batch:
    saves: dict[int, Alert] = field(default_factory=dict)
    transitions: list[Transition] = field(default_factory=list)
    deletes: list[int] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)


class AlertManager:
    """The alerting core; thread-safe (the pipeline ticks while web threads acknowledge)."""

    def __init__(
        self, rules: Sequence[Rule], services: Sequence[ServiceConfig], store: AlertStore, *,
        routes: Mapping[str, Route] | None = None, notifiers: Mapping[str, Notifier] | None = None,
        clock: Clock = time.time, external_url: str = "",
    ) -> None:
        self.rules = list(rules)
        self._by_name = {r.name: r for r in self.rules}
        self.services = list(services)
        self._names = [s.name for s in self.services]
        self.store, self.clock = store, clock
        self.notifiers = dict(notifiers or {})
        self.dispatcher = Dispatcher(routes or {}, self.notifiers, self.services, external_url)
        self._lock = threading.RLock()
        self._active: dict[str, Alert] = {a.fingerprint: a for a in store.active()}
        self._next_id = store.next_id()
        self._pace = PaceTracker()
        self._started_at = clock()
        self._unsaved = _Batch()
        self.persist_error: str | None = None

    def evaluate(
        self, latest: Mapping[str, Latest], statuses: Mapping[str, str], *,
        now: float | None = None, anomalies: Mapping[str, float] | None = None,
        forecasts: Mapping[str, float] | None = None,
        reasons: Mapping[str, Sequence[str]] | None = None,
    ) -> TickOutcome:
        """One tick: check every rule, move alerts along, persist, and queue notifications.
        ``reasons`` (per service, why it has its status) go into status alerts' summaries."""
        now = self.clock() if now is None else now
        with self._lock:
            ctx = EvalContext(latest, statuses, self._names, now, self._started_at, self._pace,
                              frozenset(self._active), anomalies or {}, forecasts or {},
                              reasons or {})
            holds = {c.fingerprint: c for r in self.rules for c in r.check(ctx)}
            batch = _Batch()
            for fp, alert in list(self._active.items()):
                if alert.source == "rule":
                    self._advance(alert, holds.pop(fp, None), now, batch)
            for fp, cond in holds.items():
                self._open(fp, cond, now, batch)
            for alert in self._active.values():
                self._escalate(alert, now, batch)
            return self._commit(batch, now)

    def _advance(self, alert: Alert, cond: Condition | None, now: float, batch: _Batch) -> None:
        rule = self._by_name.get(alert.rule)
        if rule is None:
            comment = f"rule {alert.rule!r} no longer configured"
            self._record(alert, lc.move(alert, AlertState.RESOLVED, now, lc.SYSTEM, comment), batch)
            return
        if cond is not None:
            alert.value, alert.summary = cond.value, cond.summary
        step = lc.advance(alert, cond is not None, now, rule.for_s, rule.keep_firing_for_s)
        if step.dropped:
            batch.deletes.append(alert.id)
            batch.saves.pop(alert.id, None)
            del self._active[alert.fingerprint]
            return
        if step.dirty:
            batch.saves[alert.id] = alert
        for t in step.transitions:
            self._record(alert, t, batch)

    def _open(self, fp: str, cond: Condition, now: float, batch: _Batch) -> None:
        rule = cond.rule
        labels = {**dict(cond.labels), "alertname": rule.name, "service": cond.service,
                  "severity": rule.severity.name.lower()}
        alert = Alert(
            id=self._take_id(), fingerprint=fp, rule=rule.name, kind=rule.kind.value,
            service=cond.service, severity=rule.severity, labels=labels, summary=cond.summary,
            state=AlertState.PENDING, started_at=now, value=cond.value,
            description=rule.description, runbook_url=rule.runbook_url, route=rule.route)
        self._active[fp] = alert
        t = Transition(alert.id, now, None, AlertState.PENDING.value, lc.SYSTEM, cond.summary)
        self._record(alert, t, batch)
        for t in lc.advance(alert, True, now, rule.for_s, rule.keep_firing_for_s).transitions:
            self._record(alert, t, batch)

    def _escalate(self, alert: Alert, now: float, batch: _Batch) -> None:
        if alert.source != "rule":
            return  # another Alertmanager pages for its own alerts
        t = escalate_alert(alert, self.dispatcher.route(alert), now)
        if t is not None:
            batch.transitions.append(t)
            batch.saves[alert.id] = alert
            batch.changes.append(Change(alert, ESCALATED))

    def _record(self, alert: Alert, t: Transition, batch: _Batch) -> None:
        batch.transitions.append(t)
        batch.saves[alert.id] = alert
        if t.to_state == AlertState.FIRING.value and alert.source == "rule":
            batch.changes.append(Change(alert, FIRED))
        elif t.to_state == AlertState.RESOLVED.value:
            self._active.pop(alert.fingerprint, None)
            if alert.fired_at is not None and alert.source == "rule":
                batch.changes.append(Change(alert, RESOLVED))

    def _commit(self, batch: _Batch, now: float) -> TickOutcome:
        self._persist(batch)
        out = TickOutcome()
        for c in batch.changes:
            {FIRED: out.fired, RESOLVED: out.resolved, ESCALATED: out.escalated}[c.what].append(
                c.alert.id)
        out.notifications = self.dispatcher.send(batch.changes, self._active.values(), now)
        return out

    def _persist(self, batch: _Batch) -> None:
        """Write this batch (and any earlier one that failed); a failure is kept and retried."""
        todo = self._unsaved
        todo.saves.update(batch.saves)
        todo.transitions.extend(batch.transitions)
        todo.deletes.extend(batch.deletes)
        try:
            self.store.write(todo.saves.values(), todo.transitions, todo.deletes)
        except sqlite3.Error as exc:
            self.persist_error = f"{type(exc).__name__}: {exc}"
            log.warning("alerts not saved to %s (will retry): %s", self.store.path,
                        self.persist_error)
            return
        self._unsaved, self.persist_error = _Batch(), None

    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    # -- actions from people and other systems ---------------------------------------------

    def acknowledge(self, alert_id: int, actor: str, comment: str = "") -> dict[str, Any]:
        """A person takes a firing alert; escalation stops. Raises AlertNotFound/StateError."""
        with self._lock:
            alert = self._find_active(alert_id)
            t = lc.acknowledge(alert, actor, comment, self.clock())
            self._persist(_Batch(saves={alert.id: alert}, transitions=[t]))
            return alert_dict(alert)

    def resolve(self, alert_id: int, actor: str, comment: str = "") -> dict[str, Any]:
        """A person closes an alert; a resolved notification goes to whoever was told."""
        with self._lock:
            alert = self._find_active(alert_id)
            now = self.clock()
            batch = _Batch()
            self._record(alert, lc.resolve(alert, actor, comment, now), batch)
            self._commit(batch, now)
            return alert_dict(alert)

    def ingest(self, external: Sequence[ExternalAlert], actor: str = "alertmanager") -> int:
        """Take alerts POSTed by another Alertmanager: firing ones open, resolved ones close."""
        with self._lock:
            now, batch = self.clock(), _Batch()
            for ext in external:
                if ORIGIN_ANNOTATION in ext.annotations:
                    continue  # our own alert, routed back to us by the team's Alertmanager
                alert = self._active.get(ext.fingerprint)
                if ext.status == "firing" and alert is None:
                    alert = _external_alert(ext, self._take_id(), now)
                    self._active[alert.fingerprint] = alert
                    self._record(alert, Transition(alert.id, now, None, "firing", actor,
                                                   alert.summary), batch)
                elif ext.status == "resolved" and alert is not None and alert.source != "rule":
                    t = lc.move(alert, AlertState.RESOLVED, now, actor, "resolved upstream")
                    alert.resolved_at = ext.ends_at or now
                    self._record(alert, t, batch)
            self._commit(batch, now)
            return len(batch.transitions)

    def _find_active(self, alert_id: int) -> Alert:
        for alert in self._active.values():
            if alert.id == alert_id:
                return alert
        stored = self.store.get(alert_id)
        if stored is None:
            raise AlertNotFound(f"no alert with id {alert_id}")
        raise lc.AlertStateError(f"alert {alert_id} is already {stored.state.value}")

    # -- queries for the API ----------------------------------------------------------------

    def list(self, state: str = "all", limit: int = 500) -> Rows:
        """Alerts in ``state`` (pending, firing, acknowledged, resolved, all), newest first."""
        if state not in STATES:
            raise ValueError(f"state: {state!r} is not one of {', '.join(STATES)}")
        with self._lock:
            if state in (s.value for s in ACTIVE):
                found = [a for a in self._active.values() if a.state.value == state]
                return [alert_dict(a) for a in sorted(found, key=lambda a: -a.id)]
        chosen = None if state == "all" else state
        return [alert_dict(a) for a in self._live(self.store.query(state=chosen, limit=limit))]

    def active(self) -> Rows:
        """Pending, firing and acknowledged alerts, newest first (what the page header shows)."""
        with self._lock:
            return [alert_dict(a) for a in sorted(self._active.values(), key=lambda a: -a.id)]

    def groups(self) -> Rows:
        """Firing and acknowledged alerts grouped by root cause."""
        return [group_dict(g) for g in self.alert_groups()]

    def alert_groups(self) -> Sequence[AlertGroup]:
        with self._lock:
            return group_alerts([a for a in self._active.values() if a.firing], self.services)

    def history(
        self, service: str | None = None, severity: str | None = None,
        start: float | None = None, end: float | None = None, limit: int = 500,
    ) -> Rows:
        """Alerts open at some time in [start, end], with every transition, newest first."""
        check_severity(severity)
        found = self._live(self.store.query(service=service, severity=severity, start=start,
                                            end=end, limit=limit))
        return with_transitions(found, self.store)

    def _live(self, stored: Sequence[Alert]) -> Sequence[Alert]:
        """Stored alerts, with the in-memory (newest) copy of those still active."""
        with self._lock:
            live = {a.id: a for a in self._active.values()}
        return [live.get(a.id, a) for a in stored]

    def stats(self, now: float | None = None) -> dict[str, Any]:
        """Counts and mean time to acknowledge / resolve over the last 24 h."""
        now = self.clock() if now is None else now
        fired = self.store.query(start=now - 24 * 3600.0, limit=100_000)
        out = alert_stats(fired, now)
        with self._lock:
            out["active"] = {s.value: sum(a.state is s for a in self._active.values())
                             for s in (AlertState.PENDING, AlertState.FIRING,
                                       AlertState.ACKNOWLEDGED)}
        out["notifiers"] = [n.status() for n in self.notifiers.values()]
        out["persistError"] = self.persist_error
        return out

    def close(self) -> None:
        for n in self.notifiers.values():
            n.close()
        self.store.close()


def _external_alert(ext: ExternalAlert, alert_id: int, now: float) -> Alert:
    labels = dict(ext.labels)
    sev = labels.get("severity", "warning").upper()
    return Alert(
        id=alert_id, fingerprint=ext.fingerprint, rule=labels.get("alertname", "external"),
        kind="external", service=ext.service, labels=labels,
        severity=Severity[sev] if sev in Severity.__members__ else Severity.WARNING,
        summary=ext.annotations.get("summary", labels.get("alertname", "")),
        state=AlertState.FIRING, started_at=ext.starts_at or now, fired_at=ext.starts_at or now,
        description=ext.annotations.get("description", ""),
        runbook_url=ext.annotations.get("runbook_url", ""), source="alertmanager",
        generator_url=ext.generator_url)
