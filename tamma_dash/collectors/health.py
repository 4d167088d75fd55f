"""Health endpoints polled over HTTP and read as IETF health+json, plain JSON or bare status codes.

The rule for ``up`` and ``status`` (one per service per poll):

- No complete answer (timeout, refused, DNS, TLS, body over the cap, ...): ``up=0``,
  ``status=down``, ``reason`` = the fetch failure; no ``response_time_ms``.
- A JSON object whose top-level ``status`` is a known word (IETF pass/warn/fail, Spring UP/DOWN,
  ok, healthy, degraded, ...): ``up=1`` whatever the HTTP code (a 503 saying ``fail`` answered),
  and the document is authoritative, as the IETF draft says: checks never override it. An HTTP
  code of 4xx/5xx still caps it at ``down`` (a load balancer would take the target out).
- Otherwise the HTTP code decides: 4xx/5xx gives ``up=0``, ``status=down``, reason
  ``http_4xx`` / ``http_5xx``; a body that claims or looks like JSON but does not parse gives
  ``up=0``, ``status=down``, reason ``bad_json``; anything else below 400 (empty 204, HTML, a
  JSON object without a known status) is ``up=1``, ``healthy``, with a ``note`` label saying why.

Checks become samples: ``cpu|memory|disk:utilization`` map onto the canonical metrics, any other
check to ``check:<name>`` (``check:<name>:<componentId>`` when it lists several components; the
canonical ones then also get the maximum). Booleans count as 1/0, negative values are kept;
strings, NaN, inf and overflowing numbers are dropped and counted in ``health_invalid_values``,
sent for every parsed JSON object (0 when all is well) with a ``detail`` naming what was dropped.
Labels never carry URLs, userinfo or query strings.
"""

from __future__ import annotations

import http
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from tamma_dash.collectors import http as fetcher
from tamma_dash.collectors.http import FetchResult, Timer, direct_session
from tamma_dash.config import ServiceConfig
from tamma_dash.models import Clock, M, Sample, Status, make_labels

ACCEPT = "application/health+json, application/json;q=0.9, */*;q=0.1"
INVALID_VALUES = "health_invalid_values"
CHECK_METRICS = {"cpu:utilization": M.CPU, "memory:utilization": M.MEMORY,
                 "disk:utilization": M.DISK}
HTTP_4XX = "http_4xx"
HTTP_5XX = "http_5xx"
BAD_JSON = "bad_json"
REPORTED = "reported"  # the service itself says warn / fail
GRACE_S = 1.0  # how long past its own timeout a fetch may run before it is reported as stuck
_LABEL_MAX = 200
_HINTS_4XX = {401: "the endpoint wants credentials; allow anonymous access to it",
              403: "the endpoint wants credentials; allow anonymous access to it",
              404: "no such path; check health_url"}
_CHECK_LABELS = {"unit": "observedUnit", "component_type": "componentType",
                 "component_id": "componentId", "status": "status", "time": "time"}


@dataclass(frozen=True)
class Verdict:
    """What one answer means: reachable or not, how healthy, and why."""

    up: bool
    status: Status
    reason: str = ""
    detail: str = ""
    note: str = ""


def parse_health(service: str, ts: float, result: FetchResult) -> list[Sample]:
    """Interpret one health-endpoint fetch as samples; never raises for what the target sent."""
    if not result.ok:
        verdict = Verdict(False, Status.DOWN, result.error or fetcher.CONNECTION,
                          failure_detail(result))
        return verdict_samples(service, ts, verdict, None)
    doc, bad_json, note = _read_body(result)
    verdict = _judge(result.status_code or 0, doc, bad_json, note)
    samples = verdict_samples(service, ts, verdict, result)
    if doc is not None:
        samples += check_samples(service, ts, doc.get("checks"))
    return samples


def verdict_samples(
    service: str, ts: float, verdict: Verdict, answered: FetchResult | None
) -> list[Sample]:
    """The up / status / response_time_ms samples of one verdict."""
    code = answered.status_code if answered is not None else None
    labels = make_labels(reason=verdict.reason, detail=_clip(verdict.detail),
                         note=_clip(verdict.note), code=code)
    up_labels = make_labels(code=code) if verdict.up else labels  # why, only when it is down
    out = [Sample(ts, service, M.UP, 1.0 if verdict.up else 0.0, up_labels),
           Sample(ts, service, M.STATUS, float(verdict.status), labels)]
    if answered is not None:
        out.append(Sample(ts, service, M.RESPONSE_TIME_MS, round(answered.elapsed_ms, 3),
                          make_labels(code=code)))
    return out


def _read_body(result: FetchResult) -> tuple[dict[str, Any] | None, str, str]:
    """(JSON object or None, why it is bad JSON, a note on what else it was)."""
    body = result.body.strip()
    ctype = result.content_type
    if not body:
        return None, "", f"empty body; status from HTTP {result.status_code}"
    claims_json = ctype.endswith(("/json", "+json")) or body[:1] in (b"{", b"[")
    if not claims_json:
        kind = ctype or "untyped"
        return None, "", f"body is {kind}, not JSON; status from HTTP {result.status_code}"
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        return None, f"body is not valid JSON ({_clip(str(exc), 80)})", ""
    if not isinstance(doc, dict):
        return None, "", f"JSON {type(doc).__name__}, not an object; status from HTTP"
    return doc, "", ""


def _judge(code: int, doc: dict[str, Any] | None, bad_json: str, note: str) -> Verdict:
    http_status = Status.HEALTHY if code < 400 else Status.DOWN
    word = doc.get("status") if doc is not None else None
    reported = Status.from_health(word) if isinstance(word, str) else Status.UNKNOWN
    if reported is not Status.UNKNOWN and doc is not None:
        if reported >= http_status:
            healthy = reported is Status.HEALTHY
            detail = "" if healthy else _reported_detail(word or "", doc)
            return Verdict(True, reported, REPORTED if detail else "", detail)
        return Verdict(True, http_status, _http_reason(code),
                       f"HTTP {code} although the document says '{word}'")
    if doc is not None:
        note = (f"unrecognised status {word!r}" if word is not None else "no top-level status")
        note += f"; status from HTTP {code}"
    if code >= 400:
        return Verdict(False, Status.DOWN, _http_reason(code), _http_detail(code, bad_json))
    if bad_json:
        return Verdict(False, Status.DOWN, BAD_JSON,
                       f"{bad_json}; the endpoint should return application/health+json")
    return Verdict(True, Status.HEALTHY, note=note)


def _reported_detail(word: str, doc: Mapping[str, Any]) -> str:
    """The service's own words: its ``output`` and the checks that do not pass."""
    parts = [f"service reports '{word}'"]
    output = doc.get("output")
    if isinstance(output, str) and output.strip():
        parts.append(output.strip())
    checks = doc.get("checks")
    if isinstance(checks, Mapping):
        bad = [f"{name} ({e.get('status')})" for name, entries in checks.items()
               for e in _entries(entries)
               if Status.from_health(str(e.get("status", "pass"))) is not Status.HEALTHY]
        if bad:
            parts.append("checks: " + ", ".join(dict.fromkeys(bad)))
    return "; ".join(parts)


def _http_reason(code: int) -> str:
    return HTTP_5XX if code >= 500 else HTTP_4XX


def _http_detail(code: int, bad_json: str) -> str:
    try:
        head = f"HTTP {code} {http.HTTPStatus(code).phrase}"
    except ValueError:
        head = f"HTTP {code}"
    if code >= 500:
        return f"{head} with {bad_json or 'no health document'}; check the service's logs"
    return f"{head}; {_HINTS_4XX.get(code, 'check health_url')}"


def check_samples(service: str, ts: float, checks: object) -> list[Sample]:
    """Samples from an IETF ``checks`` object, plus the ``health_invalid_values`` count."""
    out: list[Sample] = []
    dropped: list[str] = []
    for name, raw_entries in (checks.items() if isinstance(checks, Mapping) else ()):
        entries = _entries(raw_entries)
        canonical = CHECK_METRICS.get(str(name))
        values: list[float] = []
        for i, entry in enumerate(entries):
            value, problem = _observed(entry.get("observedValue"))
            if problem:
                dropped.append(f"{name}: {problem}")
            if value is None:
                continue
            metric = canonical or f"check:{name}"
            if len(entries) > 1:
                metric = f"check:{name}:{_component(entry, i)}"
            out.append(Sample(ts, service, metric, value, _check_labels(entry)))
            values.append(value)
        if canonical and len(entries) > 1 and values:
            out.append(Sample(ts, service, canonical, max(values),
                              make_labels(aggregate="max", components=len(values))))
    detail = "; ".join(dropped[:3]) + (f"; and {len(dropped) - 3} more" if len(dropped) > 3 else "")
    out.append(Sample(ts, service, INVALID_VALUES, float(len(dropped)),
                      make_labels(detail=_clip(detail))))
    return out


def _entries(raw: object) -> list[Mapping[str, Any]]:
    items: Iterable[object] = raw if isinstance(raw, list) else [raw]
    return [e for e in items if isinstance(e, Mapping)]


def _component(entry: Mapping[str, Any], index: int) -> str:
    cid = entry.get("componentId")
    return str(cid).strip() if isinstance(cid, (str, int)) and str(cid).strip() else str(index)


def _observed(raw: object) -> tuple[float | None, str]:
    """(value, problem): bools as 1/0; NaN, inf, strings and the like are problems."""
    if raw is None:
        return None, ""
    if isinstance(raw, bool):
        return (1.0 if raw else 0.0), ""
    if isinstance(raw, (int, float)):
        try:
            value = float(raw)
        except OverflowError:
            return None, "number too large"
        return (value, "") if math.isfinite(value) else (None, f"{value} is not finite")
    return None, f"{_clip(repr(raw), 40)} is not a number"


def _check_labels(entry: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return make_labels({k: _clip(str(entry[src])) for k, src in _CHECK_LABELS.items()
                        if isinstance(entry.get(src), (str, int, float))})


def failure_detail(result: FetchResult, secrets: Sequence[str] = ()) -> str:
    """A short, secret-free sentence naming why a fetch failed and what to do about it."""
    where = target(result.url)
    error = result.error
    if error == fetcher.TIMEOUT:
        return (f"{result.detail or 'no answer in time'} from {where}; is it stuck? "
                "raise timeout_s if it is only slow")
    if error == fetcher.REFUSED:
        return f"connection refused by {where}; is the service running and listening there?"
    if error == fetcher.DNS:
        return f"cannot resolve the host {where.rsplit(':', 1)[0]!r}; check the URL's host name"
    if error == fetcher.TOO_LARGE:
        return result.detail
    text = redact(result.detail, secrets)
    if error == fetcher.TLS:
        return f"TLS with {where} failed ({text}); check the certificate or use http://"
    if error == fetcher.BAD_URL:
        return f"the URL is not usable ({text}); fix it in the config"
    return f"connection to {where} failed ({text})"


def target(url: str) -> str:
    """``host:port`` of a URL, without userinfo, path or query."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or "?"
    return f"{host}:{port}" if port else host


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` without query strings, URL userinfo or any of ``secrets``."""
    text = re.sub(r"\?[^\s()'\"]*", "?…", text)
    text = re.sub(r"//[^/@\s]+@", "//", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _clip(text: str, limit: int = _LABEL_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


Job = tuple[str, float, Callable[[], FetchResult]]  # (url, timeout_s, fetch)


class Poller:
    """Runs one fetch per target on a pool kept for its life; a stuck target is never re-queued."""

    def __init__(self, max_workers: int, prefix: str, timer: Timer = time.perf_counter) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix=prefix)
        self._inflight: dict[str, Future[FetchResult]] = {}
        self._timer = timer

    def run(self, jobs: Mapping[str, Job]) -> dict[str, FetchResult]:
        """Start every job not still running from last time; wait at most the longest timeout."""
        started = self._timer()
        fresh: dict[str, Future[FetchResult]] = {}
        for key, (_, _, call) in jobs.items():
            previous = self._inflight.get(key)
            if previous is None or previous.done():
                fresh[key] = self._inflight[key] = self._pool.submit(call)
        longest = max((timeout for _, timeout, _ in jobs.values()), default=0.0)
        wait(list(fresh.values()), timeout=longest + GRACE_S)
        elapsed_ms = (self._timer() - started) * 1000.0
        return {key: self._outcome(url, timeout, fresh.get(key), elapsed_ms)
                for key, (url, timeout, _) in jobs.items()}

    def _outcome(
        self, url: str, timeout_s: float, fut: Future[FetchResult] | None, elapsed_ms: float
    ) -> FetchResult:
        if fut is None:
            return FetchResult(url, 0.0, error=fetcher.TIMEOUT,
                               detail="the previous check has not returned yet")
        if not fut.done():
            return FetchResult(url, elapsed_ms, error=fetcher.TIMEOUT,
                               detail=f"no complete answer within {timeout_s:g} s")
        try:
            return fut.result()
        except Exception as exc:  # a target-shaped input that slipped past requests' own errors
            return FetchResult(url, elapsed_ms, error=fetcher.CONNECTION,
                               detail=f"{type(exc).__name__}: {redact(str(exc))[:160]}")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class HealthCheckCollector:
    """Polls every service's health endpoint concurrently, each within its own timeout."""

    name = "health"

    def __init__(
        self,
        services: Sequence[ServiceConfig],
        *,
        session: requests.Session | None = None,
        clock: Clock = time.time,
        timer: Timer = time.perf_counter,
        max_workers: int = 8,
    ) -> None:
        self.services = [s for s in services if s.health_url]
        self._own_session = session is None
        self.session = session if session is not None else direct_session()
        self.clock = clock
        self.timer = timer
        self._poller = Poller(min(max_workers, max(1, len(self.services))), "health", timer)

    def collect(self) -> list[Sample]:
        """One sample set per service; failures are samples, never exceptions."""
        ts = self.clock()
        jobs = {s.name: (s.health_url or "", s.timeout_s, self._job(s)) for s in self.services}
        results = self._poller.run(jobs)
        return [x for s in self.services for x in parse_health(s.name, ts, results[s.name])]

    def _job(self, service: ServiceConfig) -> Callable[[], FetchResult]:
        def call() -> FetchResult:
            return fetcher.fetch(self.session, service.health_url or "",
                                 timeout_s=service.timeout_s, max_bytes=service.max_body_bytes,
                                 headers={"Accept": ACCEPT}, timer=self.timer)
        return call

    def close(self) -> None:
        """Stop the worker pool (and the session, if this collector made it)."""
        self._poller.close()
        if self._own_session:
            self.session.close()
