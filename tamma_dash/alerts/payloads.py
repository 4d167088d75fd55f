"""Bodies we send: Alertmanager webhook (version 4), Slack-compatible text, Alertmanager API v2."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tamma_dash.alerts.lifecycle import Alert

ZERO_TIME = "0001-01-01T00:00:00Z"  # what Alertmanager puts in endsAt while an alert fires


@dataclass(frozen=True)
class Notification:
    """One group's alerts, going to one receiver."""

    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    alerts: Sequence[Alert]
    now: float
    external_url: str = ""

    @property
    def status(self) -> str:
        return "firing" if any(a.firing for a in self.alerts) else "resolved"


def rfc3339(ts: float) -> str:
    """Epoch seconds as RFC 3339 UTC with milliseconds, as Alertmanager writes them."""
    text = datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


ORIGIN_ANNOTATION = "tamma_dash_alert_id"
"""Marks alerts we send, so that one echoed back by an Alertmanager is not taken as new."""


def alert_annotations(alert: Alert) -> dict[str, str]:
    out = {"summary": alert.summary}
    if alert.source == "rule":
        out[ORIGIN_ANNOTATION] = str(alert.id)
    if alert.description:
        out["description"] = alert.description
    if alert.runbook_url:
        out["runbook_url"] = alert.runbook_url
    if alert.acked_by:
        out["acknowledged_by"] = alert.acked_by
    return out


def generator_url(alert: Alert, external_url: str) -> str:
    if alert.generator_url:
        return alert.generator_url
    return f"{external_url.rstrip('/')}/alerts/{alert.id}" if external_url else ""


def webhook_alert(alert: Alert, external_url: str) -> dict[str, Any]:
    return {
        "status": "firing" if alert.firing else "resolved",
        "labels": dict(sorted(alert.labels.items())),
        "annotations": alert_annotations(alert),
        "startsAt": rfc3339(alert.fired_at or alert.started_at),
        "endsAt": rfc3339(alert.resolved_at) if alert.resolved_at is not None else ZERO_TIME,
        "generatorURL": generator_url(alert, external_url),
        "fingerprint": alert.fingerprint,
    }


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in sorted(first.items()) if all(m.get(k) == v for m in maps[1:])}


def alertmanager_webhook(n: Notification, max_alerts: int = 0) -> dict[str, Any]:
    """The Alertmanager webhook body (version 4); ``max_alerts`` > 0 truncates the list."""
    alerts = [webhook_alert(a, n.external_url) for a in n.alerts]
    kept = alerts[:max_alerts] if max_alerts > 0 else alerts
    return {
        "version": "4",
        "groupKey": n.group_key,
        "truncatedAlerts": len(alerts) - len(kept),
        "status": n.status,
        "receiver": n.receiver,
        "groupLabels": dict(n.group_labels),
        "commonLabels": _common([a["labels"] for a in alerts]),
        "commonAnnotations": _common([a["annotations"] for a in alerts]),
        "externalURL": n.external_url,
        "alerts": kept,
    }


def slack_text(n: Notification) -> dict[str, str]:
    """A Slack-compatible incoming-webhook body: one ``text`` field."""
    firing = [a for a in n.alerts if a.firing]
    head = f"[{n.status.upper()}:{len(firing) if firing else len(n.alerts)}]"
    where = ", ".join(f"{k}={v}" for k, v in sorted(n.group_labels.items()))
    lines = [f"{head} {where}".rstrip()]
    for a in n.alerts:
        state = a.state.value
        line = f"• {a.severity.name.lower()} {a.labels.get('alertname', a.rule)} ({state}): "
        line += a.summary
        if a.runbook_url:
            line += f" <{a.runbook_url}|runbook>"
        lines.append(line)
    return {"text": "\n".join(lines)}


def alertmanager_postable(n: Notification, resolve_after_s: float = 300.0) -> list[dict[str, Any]]:
    """Alertmanager API v2 ``postableAlerts``: firing ones expire unless sent again."""
    out: list[dict[str, Any]] = []
    for a in n.alerts:
        ends = a.resolved_at if a.resolved_at is not None else n.now + resolve_after_s
        out.append({
            "labels": dict(sorted(a.labels.items())),
            "annotations": alert_annotations(a),
            "startsAt": rfc3339(a.fired_at or a.started_at),
            "endsAt": rfc3339(ends),
            "generatorURL": generator_url(a, n.external_url),
        })
    return out
