"""Notifiers: a bounded queue and a background sender per target, so a tick never waits.

Each delivery is retried with backoff on connection errors, timeouts, 429 and 5xx; other 4xx
answers fail at once (resending the same body cannot help). Failures are visible in
``status()``; the target URL may carry a token, so only its scheme and host are ever shown.
"""

from __future__ import annotations

import enum
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import requests

from tamma_dash.alerts.payloads import (
    Notification,
    alertmanager_postable,
    alertmanager_webhook,
    slack_text,
)
from tamma_dash.models import Clock

log = logging.getLogger(__name__)

Backoff = Callable[[int], float]
"""Seconds to wait after failed attempt number ``n`` (1-based) before the next one."""

API_V2_PATH = "/api/v2/alerts"


class Format(enum.StrEnum):
    ALERTMANAGER = "alertmanager"  # webhook body, version 4
    SLACK = "slack"  # {"text": ...}
    ALERTMANAGER_API = "alertmanager_api"  # POST {url}/api/v2/alerts, postable alerts list


def exponential_backoff(base_s: float = 0.5, cap_s: float = 30.0) -> Backoff:
    """0.5 s, 1 s, 2 s, ... capped, after each failed attempt."""
    return lambda n: min(cap_s, base_s * 2 ** (n - 1))


def redact_url(url: str) -> str:
    """Scheme, host and port only: paths and queries of webhook URLs often hold tokens."""
    p = urlparse(url)
    host = p.hostname or "?"
    port = f":{p.port}" if p.port else ""
    rest = "/…" if (p.path not in ("", "/") or p.query) else ""
    return f"{p.scheme}://{host}{port}{rest}"


class Notifier:
    """Sends notifications to one URL from a background thread; ``notify`` never blocks."""

    def __init__(
        self, name: str, url: str, *, format: Format | str = Format.ALERTMANAGER,
        timeout_s: float = 5.0, max_attempts: int = 4, backoff: Backoff | None = None,
        sleep: Callable[[float], object] | None = None, queue_size: int = 100,
        max_alerts: int = 0, resend_s: float | None = None,
        session: requests.Session | None = None, clock: Clock = time.time,
    ) -> None:
        self.name = name
        self.format = Format(format)
        self._url = _target(url, self.format)
        self.target = redact_url(self._url)
        self.timeout_s, self.max_attempts, self.max_alerts = timeout_s, max_attempts, max_alerts
        self.resend_s = resend_s if resend_s is not None else (
            60.0 if self.format is Format.ALERTMANAGER_API else None)
        self._backoff = backoff or exponential_backoff()
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._session = session or requests.Session()
        self._clock = clock
        self._queue: queue.Queue[bytes] = queue.Queue(maxsize=queue_size)
        self._idle = threading.Condition()
        self._unfinished = 0
        self._thread: threading.Thread | None = None
        self._counts = {"sent": 0, "failed": 0, "dropped": 0, "attempts": 0, "retries": 0}
        self._last_error: str | None = None
        self._last_error_at: float | None = None
        self._last_success_at: float | None = None

    def body(self, n: Notification) -> bytes:
        """The JSON bytes this notifier sends for ``n``."""
        doc: Any
        if self.format is Format.SLACK:
            doc = slack_text(n)
        elif self.format is Format.ALERTMANAGER_API:
            doc = alertmanager_postable(n)
        else:
            doc = alertmanager_webhook(n, self.max_alerts)
        return json.dumps(doc, separators=(",", ":")).encode("utf-8")

    def notify(self, n: Notification) -> bool:
        """Queue ``n`` for sending; False (and counted as dropped) when the queue is full."""
        data = self.body(n)
        with self._idle:
            if self._stop.is_set():
                return False
            try:
                self._queue.put_nowait(data)
            except queue.Full:
                self._counts["dropped"] += 1
                log.warning("notifier %s (%s): queue full, notification dropped",
                            self.name, self.target)
                return False
            self._unfinished += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name=f"notifier-{self.name}")
                self._thread.start()
        return True

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued has been delivered or given up; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._unfinished == 0, timeout)

    def close(self, timeout: float = 2.0) -> None:
        """Stop the sender; undelivered notifications are abandoned."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._session.close()

    def status(self) -> dict[str, Any]:
        """Counters and the last error, JSON-ready (for /metrics and the API)."""
        with self._idle:
            return {
                "name": self.name, "format": self.format.value, "target": self.target,
                **self._counts, "queued": self._unfinished,
                "last_error": self._last_error, "last_error_at": self._last_error_at,
                "last_success_at": self._last_success_at,
            }

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self._deliver(data)
            finally:
                with self._idle:
                    self._unfinished -= 1
                    self._idle.notify_all()

    def _deliver(self, data: bytes) -> None:
        for attempt in range(1, self.max_attempts + 1):
            error, retry = self._attempt(data)
            with self._idle:
                self._counts["attempts"] += 1
                if error is None:
                    self._counts["sent"] += 1
                    self._last_success_at = self._clock()
                    return
                self._last_error, self._last_error_at = error, self._clock()
            log.warning("notifier %s (%s): attempt %d failed: %s",
                        self.name, self.target, attempt, error)
            if not retry or attempt == self.max_attempts or self._stop.is_set():
                break
            with self._idle:
                self._counts["retries"] += 1
            self._sleep(self._backoff(attempt))
        with self._idle:
            self._counts["failed"] += 1

    def _attempt(self, data: bytes) -> tuple[str | None, bool]:
        """One POST: (error or None, whether retrying may help). Errors never hold the URL."""
        try:
            r = self._session.post(self._url, data=data, timeout=self.timeout_s,
                                   headers={"Content-Type": "application/json"})
        except requests.Timeout:
            return f"timed out after {self.timeout_s:g} s", True
        except requests.RequestException as exc:
            return f"{type(exc).__name__}: could not reach {self.target}", True
        r.close()
        if 200 <= r.status_code < 300:
            return None, False
        retry = r.status_code == 429 or r.status_code >= 500
        return f"HTTP {r.status_code}", retry


def _target(url: str, fmt: Format) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"notifier url {redact_url(url)!r} is not an http(s) URL")
    if fmt is Format.ALERTMANAGER_API and not parsed.path.rstrip("/").endswith(API_V2_PATH):
        return url.rstrip("/") + API_V2_PATH
    return url
