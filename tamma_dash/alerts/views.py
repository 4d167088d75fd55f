"""JSON-ready views of alerts, groups and statistics (times ISO 8601 UTC)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import fmean
from typing import Any

from tamma_dash.alerts.grouping import AlertGroup
from tamma_dash.alerts.lifecycle import Alert, Transition
from tamma_dash.alerts.payloads import alert_annotations, rfc3339
from tamma_dash.alerts.store import AlertStore
from tamma_dash.models import Severity

DAY_S = 24 * 3600.0


def _iso(ts: float | None) -> str | None:
    return rfc3339(ts) if ts is not None else None


def transition_dict(t: Transition) -> dict[str, Any]:
    return {"at": _iso(t.ts), "from": t.from_state, "to": t.to_state, "actor": t.actor,
            "comment": t.comment}


def alert_dict(alert: Alert, transitions: Sequence[Transition] | None = None) -> dict[str, Any]:
    """One alert as the API shows it; ``transitions`` included when given."""
    out: dict[str, Any] = {
        "id": alert.id,
        "fingerprint": alert.fingerprint,
        "rule": alert.rule,
        "kind": alert.kind,
        "service": alert.service,
        "severity": alert.severity.name.lower(),
        "state": alert.state.value,
        "summary": alert.summary,
        "value": alert.value if alert.value is None or math.isfinite(alert.value) else None,
        "labels": dict(sorted(alert.labels.items())),
        "annotations": alert_annotations(alert),
        "source": alert.source,
        "startedAt": _iso(alert.started_at),
        "startsAtTs": alert.fired_at if alert.fired_at is not None else alert.started_at,
        "firedAt": _iso(alert.fired_at),
        "acknowledgedAt": _iso(alert.acked_at),
        "acknowledgedAtTs": alert.acked_at,
        "acknowledgedBy": alert.acked_by,
        "resolvedAt": _iso(alert.resolved_at),
        "resolvedAtTs": alert.resolved_at,
        "resolvedBy": alert.resolved_by,
        "escalationLevel": alert.escalation_level,
    }
    if transitions is not None:
        out["transitions"] = [transition_dict(t) for t in transitions]
    return out


def group_dict(group: AlertGroup) -> dict[str, Any]:
    return {
        "root": group.root,
        "groupKey": group.key,
        "cause": alert_dict(group.cause) if group.cause else None,
        "symptoms": [alert_dict(a) for a in group.symptoms],
    }


def alert_stats(alerts: Sequence[Alert], now: float, window_s: float = DAY_S) -> dict[str, Any]:
    """Mean time to acknowledge and to resolve, over alerts that fired in the window."""
    fired = [a for a in alerts if a.fired_at is not None and now - window_s <= a.fired_at <= now]
    tta = [a.acked_at - a.fired_at for a in fired
           if a.acked_at is not None and a.fired_at is not None]
    ttr = [a.resolved_at - a.fired_at for a in fired
           if a.resolved_at is not None and a.fired_at is not None]
    by_severity: dict[str, int] = {}
    for a in fired:
        word = a.severity.name.lower()
        by_severity[word] = by_severity.get(word, 0) + 1
    return {
        "windowS": window_s,
        "fired": len(fired),
        "acknowledged": len(tta),
        "resolved": len(ttr),
        "meanTimeToAcknowledgeS": fmean(tta) if tta else None,
        "meanTimeToResolveS": fmean(ttr) if ttr else None,
        "bySeverity": by_severity,
    }


def check_severity(severity: str | None) -> None:
    """ValueError naming the choices for a severity filter that is not one."""
    if severity is not None and severity.upper() not in Severity.__members__:
        raise ValueError(f"severity: {severity!r} is not one of info, warning, critical")


def with_transitions(alerts: Sequence[Alert], store: AlertStore) -> list[dict[str, Any]]:
    """Alerts as the API shows them, each with its transitions."""
    trans = store.transitions(a.id for a in alerts)
    return [alert_dict(a, trans[a.id]) for a in alerts]
