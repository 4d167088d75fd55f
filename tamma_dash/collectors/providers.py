"""LLM providers and git platforms, probed over HTTP: latency, success rate and rate limits.

Each service of kind ``provider`` or ``git`` with a ``probe_url`` gets one GET per collect, with
``Authorization: Bearer <token>`` when its ``token_env`` variable is set. The token is read at
use, sent only in that header, and replaced by ``***`` in any failure text; a token with spaces
or control characters is not sent at all (reason ``bad_token``).

- ``up``: 1 when the probe got a 2xx, 3xx or a rate-limit answer (429, or 403 with a rate
  limit at 0); 0 for no answer (reason from the fetch), 5xx (``http_5xx``) or another 4xx
  (``http_4xx``, e.g. a refused token).
- ``status``: ``down`` when ``up`` is 0 or any rate-limit window is at 0; ``degraded`` on a 429,
  when a window has under 10 % of its limit left, or when under 95 % of the last ``window``
  probes succeeded and at least 3 of them failed (one failure among the first few probes after a
  start is not 'only 90 %'); ``healthy`` otherwise. The worst applies; its reason goes in the
  labels.
- ``success_rate``: percent of the last ``window`` probes that got a 2xx (a 429 is a failure).
- ``ratelimit_remaining / _limit / _reset_s`` from the headers (see ``ratelimit``), each only
  when known; other windows (e.g. OpenAI tokens) as ``ratelimit_remaining:<policy>`` etc.
  A 429 with only ``Retry-After`` still gives ``ratelimit_reset_s`` (policy ``retry-after``).
"""

from __future__ import annotations

import math
import re
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence

import requests

from tamma_dash.collectors import http as fetcher
from tamma_dash.collectors.health import (
    HTTP_4XX,
    HTTP_5XX,
    Poller,
    Verdict,
    failure_detail,
    verdict_samples,
)
from tamma_dash.collectors.http import FetchResult, Timer
from tamma_dash.collectors.ratelimit import RateLimit, parse_rate_limits, parse_retry_after
from tamma_dash.config import ServiceConfig
from tamma_dash.models import Clock, M, Sample, ServiceKind, Status, make_labels

RATE_LIMITED = "rate_limited"
RATELIMIT_LOW = "ratelimit_low"
LOW_SUCCESS = "low_success_rate"
BAD_TOKEN = "bad_token"
LOW_FRACTION = 0.10  # degraded when a window has less than this share of its limit left
MIN_SUCCESS_PCT = 95.0
MIN_FAILURES = 3  # failed probes in the window before a low success rate degrades
_TOKEN_OK = re.compile(r"[\x21-\x7e]+")  # visible ASCII: what a bearer token may contain
_PROBED_KINDS = (ServiceKind.PROVIDER, ServiceKind.GIT)


def probe_samples(
    service: ServiceConfig,
    ts: float,
    result: FetchResult,
    success_rate: float,
    *,
    secrets: Sequence[str] = (),
    low_success: bool | None = None,
) -> list[Sample]:
    """Interpret one probe (plus the running success rate) as samples; never raises.

    ``low_success`` says whether the rate degrades the service (the collector also counts the
    failures behind it); None judges the rate alone.
    """
    limits = parse_rate_limits(result.headers, ts) if result.headers else []
    low = success_rate < MIN_SUCCESS_PCT if low_success is None else low_success
    verdict = _verdict(service, result, limits, success_rate, low, secrets)
    out = verdict_samples(service.name, ts, verdict, result if result.ok else None)
    out.append(Sample(ts, service.name, M.SUCCESS_RATE, round(success_rate, 3)))
    out += _limit_samples(service.name, ts, limits)
    if not limits and result.status_code == 429:
        retry = parse_retry_after(result.headers.get("retry-after", ""), ts)
        if retry is not None:
            out.append(Sample(ts, service.name, M.RL_RESET_S, retry,
                              make_labels(policy="retry-after")))
    return out


def _verdict(
    service: ServiceConfig,
    result: FetchResult,
    limits: list[RateLimit],
    success_rate: float,
    low_success: bool,
    secrets: Sequence[str],
) -> Verdict:
    if not result.ok:
        detail = result.detail if result.error == BAD_TOKEN else failure_detail(result, secrets)
        return Verdict(False, Status.DOWN, result.error or fetcher.CONNECTION, detail)
    code = result.status_code or 0
    exhausted = [r for r in limits if r.remaining <= 0]
    if code >= 500:
        return Verdict(False, Status.DOWN, HTTP_5XX, f"HTTP {code}: the provider is failing")
    if code >= 400 and code != 429 and not (code == 403 and exhausted):
        return Verdict(False, Status.DOWN, HTTP_4XX, _refused_detail(service, code))
    candidates = [Verdict(True, Status.HEALTHY)]
    for r in exhausted:
        candidates.append(Verdict(True, Status.DOWN, RATE_LIMITED,
                                  f"{r.policy} limit used up ({_window(r)})"))
    if code == 429:
        candidates.append(Verdict(True, Status.DEGRADED, RATE_LIMITED,
                                  "HTTP 429 Too Many Requests: calls are being throttled"))
    for r in limits:
        if r.limit and 0 < r.remaining < LOW_FRACTION * r.limit:
            candidates.append(Verdict(True, Status.DEGRADED, RATELIMIT_LOW,
                                      f"{r.policy} limit under {LOW_FRACTION:.0%} ({_window(r)})"))
    if low_success:
        candidates.append(Verdict(True, Status.DEGRADED, LOW_SUCCESS,
                                  f"only {success_rate:.0f}% of recent probes succeeded"))
    worst = max(c.status for c in candidates)
    first = next(c for c in candidates if c.status == worst)
    details = [c.detail for c in candidates if c.detail]
    return Verdict(True, worst, first.reason, "; ".join(details))


def _window(r: RateLimit) -> str:
    total = f" of {r.limit:g}" if r.limit is not None else ""
    reset = f", resets in {r.reset_s:.0f} s" if r.reset_s is not None else ""
    return f"{r.remaining:g}{total} left{reset}"


def _refused_detail(service: ServiceConfig, code: int) -> str:
    if code in (401, 403):
        where = f"${service.token_env}" if service.token_env else "token_env (none is set)"
        return f"HTTP {code}: credentials refused or missing; check the token in {where}"
    if code == 404:
        return f"HTTP {code}: no such path; check probe_url"
    return f"HTTP {code}; check probe_url and the token"


def _limit_samples(service: str, ts: float, limits: list[RateLimit]) -> list[Sample]:
    """The first window as the canonical metrics, others suffixed ``:<policy>``."""
    out: list[Sample] = []
    seen: set[tuple[float, float | None, str]] = set()
    for r in limits:
        fingerprint = (r.remaining, r.limit, r.resource)
        if fingerprint in seen:  # the same window, told again by another header family
            continue
        suffix = f":{r.policy}" if seen else ""
        seen.add(fingerprint)
        labels = make_labels(policy=r.policy, resource=r.resource)
        values = {M.RL_REMAINING: r.remaining, M.RL_LIMIT: r.limit, M.RL_RESET_S: r.reset_s}
        out += [Sample(ts, service, metric + suffix, value, labels)
                for metric, value in values.items() if value is not None]
    return out


class ProviderCollector:
    """Probes LLM providers and git platforms concurrently and keeps each one's success rate."""

    name = "providers"

    def __init__(
        self,
        services: Sequence[ServiceConfig],
        *,
        session: requests.Session | None = None,
        clock: Clock = time.time,
        timer: Timer = time.perf_counter,
        environ: Mapping[str, str] | None = None,
        window: int = 60,
    ) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1 probe, got {window}")
        self.services = [s for s in services if s.kind in _PROBED_KINDS and s.probe_url]
        self._own_session = session is None
        self.session = session if session is not None else requests.Session()
        self.clock = clock
        self.timer = timer
        self._environ = environ
        self._history = {s.name: deque[bool](maxlen=window) for s in self.services}
        # as many failures as a full window may hold without being low, capped at MIN_FAILURES
        self._min_failures = min(MIN_FAILURES,
                                 max(1, math.ceil(window * (1 - MIN_SUCCESS_PCT / 100))))
        self._poller = Poller(min(8, max(1, len(self.services))), "providers", timer)

    def __repr__(self) -> str:
        return f"ProviderCollector(services={[s.name for s in self.services]!r})"

    def collect(self) -> list[Sample]:
        """One sample set per probed service; failures are samples, never exceptions."""
        ts = self.clock()
        tokens = {s.name: _token(s, self._environ) for s in self.services}
        jobs = {s.name: (s.probe_url or "", s.timeout_s, self._job(s, tokens[s.name]))
                for s in self.services}
        results = self._poller.run(jobs)
        out: list[Sample] = []
        for s in self.services:
            result = results[s.name]
            history = self._history[s.name]
            history.append(result.ok and 200 <= (result.status_code or 0) < 300)
            rate = 100.0 * sum(history) / len(history)
            token = tokens[s.name]
            secrets = (token, repr(token)[1:-1]) if token else ()
            failures = len(history) - sum(history)
            low = rate < MIN_SUCCESS_PCT and failures >= self._min_failures
            out += probe_samples(s, ts, result, rate, secrets=secrets, low_success=low)
        return out

    def _job(self, service: ServiceConfig, token: str | None) -> Callable[[], FetchResult]:
        url = service.probe_url or ""
        headers = {"Accept": "application/json", "User-Agent": "tamma-dash"}
        if token is not None and not _TOKEN_OK.fullmatch(token):
            where = f"${service.token_env}"
            return lambda: FetchResult(url, 0.0, error=BAD_TOKEN, detail=(
                f"the token in {where} has spaces or control characters; store it without them"))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"

        def call() -> FetchResult:
            return fetcher.fetch(self.session, url, timeout_s=service.timeout_s,
                                 max_bytes=service.max_body_bytes, headers=headers,
                                 timer=self.timer)
        return call

    def close(self) -> None:
        """Stop the worker pool (and the session, if this collector made it)."""
        self._poller.close()
        if self._own_session:
            self.session.close()


def _token(service: ServiceConfig, environ: Mapping[str, str] | None) -> str | None:
    """The service's token, surrounding whitespace (a trailing newline, say) removed."""
    raw = service.token(environ)
    return raw.strip() or None if raw else None
