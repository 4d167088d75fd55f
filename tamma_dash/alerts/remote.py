"""Alerts across processes: web-only workers read the alert store and queue actions; the one
collector applies them, so every alert keeps a single writer however many workers serve it."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from tamma_dash.alerts.engine import STATES, AlertManager
from tamma_dash.alerts.grouping import group_alerts
from tamma_dash.alerts.lifecycle import ACTIVE, AlertNotFound, AlertStateError
from tamma_dash.alerts.receiver import ExternalAlert
from tamma_dash.alerts.store import AlertStore
from tamma_dash.alerts.views import (
    alert_dict,
    alert_stats,
    check_severity,
    group_dict,
    with_transitions,
)
from tamma_dash.config import ServiceConfig
from tamma_dash.models import Clock

log = logging.getLogger(__name__)

Rows = list[dict[str, Any]]


class ActionPending(RuntimeError):
    """The collector has not applied a queued action yet (it is not running, or is busy)."""


class RemoteAlerts:
    """What a `serve` process offers of alerting: reads from the store, actions queued."""

    def __init__(
        self, store: AlertStore, services: Callable[[], Sequence[ServiceConfig]], *,
        clock: Clock = time.time, wait_s: float = 10.0,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.store, self._services, self.clock = store, services, clock
        self.wait_s, self._sleep = wait_s, sleep

    def active(self) -> Rows:
        return [alert_dict(a) for a in sorted(self.store.active(), key=lambda a: -a.id)]

    def list(self, state: str = "all", limit: int = 500) -> Rows:
        if state not in STATES:
            raise ValueError(f"state: {state!r} is not one of {', '.join(STATES)}")
        chosen = None if state == "all" else state
        return [alert_dict(a) for a in self.store.query(state=chosen, limit=limit)]

    def groups(self) -> Rows:
        firing = [a for a in self.store.active() if a.firing]
        return [group_dict(g) for g in group_alerts(firing, self._services())]

    def history(
        self, service: str | None = None, severity: str | None = None,
        start: float | None = None, end: float | None = None, limit: int = 500,
    ) -> Rows:
        check_severity(severity)
        found = self.store.query(service=service, severity=severity, start=start, end=end,
                                 limit=limit)
        return with_transitions(found, self.store)

    def stats(self, now: float | None = None) -> dict[str, Any]:
        now = self.clock() if now is None else now
        out = alert_stats(self.store.query(start=now - 24 * 3600.0, limit=100_000), now)
        active = self.store.active()
        out["active"] = {s.value: sum(a.state is s for a in active) for s in ACTIVE}
        out["notifiers"] = []  # delivered by the collector process; see its /metrics
        out["persistError"] = None
        return out

    def acknowledge(self, alert_id: int, actor: str, comment: str = "") -> dict[str, Any]:
        return self._apply("ack", {"id": alert_id, "actor": actor, "comment": comment})

    def resolve(self, alert_id: int, actor: str, comment: str = "") -> dict[str, Any]:
        return self._apply("resolve", {"id": alert_id, "actor": actor, "comment": comment})

    def ingest(self, external: Sequence[ExternalAlert], actor: str = "alertmanager") -> int:
        body = {"alerts": [dataclasses.asdict(e) for e in external], "actor": actor}
        return int(self._apply("ingest", body)["changed"])

    def _apply(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """Queue, then wait (bounded) for the collector's answer and raise what it raised."""
        seq = self.store.enqueue(action, body, self.clock())
        deadline = time.monotonic() + self.wait_s
        while time.monotonic() < deadline:
            result = self.store.action_result(seq)
            if result is not None:
                return _unwrap(result)
            self._sleep(0.05)
        raise ActionPending(f"{action} queued (#{seq}) but the collector has not applied it "
                            f"within {self.wait_s:g} s; check that `tamma-dash collect` runs")

    def close(self) -> None:
        self.store.close()


def _unwrap(result: dict[str, Any]) -> dict[str, Any]:
    error = result.get("error")
    if error == "not_found":
        raise AlertNotFound(result.get("message", ""))
    if error == "state":
        raise AlertStateError(result.get("message", ""))
    if error:
        raise RuntimeError(result.get("message", error))
    return dict(result["ok"])


def apply_actions(manager: AlertManager, now: float) -> int:
    """Apply every queued action with the manager (the collector side); returns how many."""
    done = 0
    for seq, action, body in manager.store.pending_actions():
        manager.store.finish_action(seq, _one(manager, action, body), now)
        done += 1
    return done


def _one(manager: AlertManager, action: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        if action == "ack":
            return {"ok": manager.acknowledge(int(body["id"]), body["actor"], body["comment"])}
        if action == "resolve":
            return {"ok": manager.resolve(int(body["id"]), body["actor"], body["comment"])}
        if action == "ingest":
            found = [ExternalAlert(**e) for e in body["alerts"]]
            return {"ok": {"changed": manager.ingest(found, body["actor"])}}
        return {"error": "unknown", "message": f"unknown action {action!r}"}
    except AlertNotFound as exc:
        return {"error": "not_found", "message": str(exc).strip("'\"")}
    except AlertStateError as exc:
        return {"error": "state", "message": str(exc)}
    except (KeyError, TypeError, ValueError) as exc:
        return {"error": "bad", "message": f"malformed queued {action}: {exc}"}


class ActionPump:
    """In the collector: applies queued actions every ``every_s`` (far finer than a tick)."""

    def __init__(self, manager: AlertManager, clock: Clock, every_s: float = 0.2) -> None:
        self.manager, self.clock, self.every_s = manager, clock, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-actions", daemon=True)

    def start(self) -> ActionPump:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2.0)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                apply_actions(self.manager, self.clock())
            except Exception:  # a locked or broken file must not end the pump
                log.exception("applying queued alert actions failed")
