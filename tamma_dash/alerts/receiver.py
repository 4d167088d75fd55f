"""Alertmanager webhook payloads in (alerts from other systems), checked field by field."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

DEFAULT_MAX_BYTES = 1_048_576
MAX_ALERTS = 1000


class WebhookPayloadError(ValueError):
    """A payload we refuse; ``http_status`` is what the route should answer (400, 413, 422)."""

    def __init__(self, message: str, http_status: int = 400) -> None:
        super().__init__(message)
        self.http_status = http_status


@dataclass(frozen=True)
class ExternalAlert:
    """One alert from an Alertmanager webhook payload."""

    fingerprint: str
    status: str  # firing | resolved
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: float | None
    ends_at: float | None
    generator_url: str
    receiver: str

    @property
    def service(self) -> str:
        """The service it concerns: the ``service``, ``job`` or ``instance`` label."""
        for name in ("service", "job", "instance"):
            if self.labels.get(name):
                return self.labels[name]
        return "external"


def parse_alertmanager_webhook(
    body: bytes, max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[ExternalAlert]:
    """Parse an Alertmanager webhook (version 4) body; raises WebhookPayloadError."""
    if len(body) > max_bytes:
        raise WebhookPayloadError(
            f"payload is {len(body)} bytes, over the {max_bytes}-byte limit; send fewer alerts "
            "per notification (Alertmanager max_alerts) or raise the limit", 413)
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookPayloadError(f"body is not UTF-8 JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise WebhookPayloadError("body: expected a JSON object with version and alerts")
    if doc.get("version") != "4":
        raise WebhookPayloadError(
            f"version: expected \"4\" (Alertmanager webhook format), got {doc.get('version')!r}",
            422)
    alerts = doc.get("alerts")
    if not isinstance(alerts, list):
        raise WebhookPayloadError("alerts: expected a list of alert objects")
    if len(alerts) > MAX_ALERTS:
        raise WebhookPayloadError(f"alerts: {len(alerts)} alerts, over the {MAX_ALERTS} limit",
                                  413)
    receiver = doc.get("receiver", "")
    if not isinstance(receiver, str):
        raise WebhookPayloadError(f"receiver: expected a string, got {receiver!r}")
    return [_alert(item, f"alerts[{i}]", receiver) for i, item in enumerate(alerts)]


def _alert(item: Any, where: str, receiver: str) -> ExternalAlert:
    if not isinstance(item, dict):
        raise WebhookPayloadError(f"{where}: expected an object")
    status = item.get("status")
    if status not in ("firing", "resolved"):
        raise WebhookPayloadError(f"{where}.status: {status!r} is not one of firing, resolved")
    labels = _strings(item.get("labels"), f"{where}.labels", required=True)
    if not labels:
        raise WebhookPayloadError(f"{where}.labels: at least one label (alertname) is required")
    fp = item.get("fingerprint") or _fingerprint(labels)
    url = item.get("generatorURL", "")
    if not isinstance(fp, str) or not isinstance(url, str):
        raise WebhookPayloadError(f"{where}: fingerprint and generatorURL must be strings")
    return ExternalAlert(
        fingerprint=fp, status=status, labels=labels,
        annotations=_strings(item.get("annotations"), f"{where}.annotations"),
        starts_at=_time(item.get("startsAt"), f"{where}.startsAt"),
        ends_at=_time(item.get("endsAt"), f"{where}.endsAt"),
        generator_url=url, receiver=receiver)


def _strings(value: Any, where: str, *, required: bool = False) -> dict[str, str]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise WebhookPayloadError(f"{where}: expected an object of string values")
    return dict(value)


def _time(value: Any, where: str) -> float | None:
    """RFC 3339 to epoch seconds; Go's zero time (year 1) and absence mean no time."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise WebhookPayloadError(f"{where}: expected an RFC 3339 time, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise WebhookPayloadError(
            f"{where}: {value!r} is not an RFC 3339 time like 2026-01-02T03:04:05Z") from None
    if parsed.tzinfo is None:
        raise WebhookPayloadError(f"{where}: {value!r} has no time zone; add Z or +00:00")
    return None if parsed.year <= 1 else parsed.timestamp()


def _fingerprint(labels: Mapping[str, str]) -> str:
    text = "\x1f".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
