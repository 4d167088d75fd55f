"""One bounded HTTP GET shared by the HTTP collectors: total timeout, size cap, named failures."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import requests

Timer = Callable[[], float]

# Failure reasons, recorded as the ``reason`` label of an ``up=0`` sample.
TIMEOUT = "timeout"
REFUSED = "refused"
DNS = "dns"
TLS = "tls"
CONNECTION = "connection"
TOO_LARGE = "too_large"
BAD_URL = "bad_url"

_CHUNK = 16_384


@dataclass(frozen=True)
class FetchResult:
    """What one GET produced; ``error`` is None when a full response (any status) arrived."""

    url: str
    elapsed_ms: float
    status_code: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


def fetch(
    session: requests.Session,
    url: str,
    *,
    timeout_s: float,
    max_bytes: int,
    headers: Mapping[str, str] | None = None,
    timer: Timer = time.perf_counter,
) -> FetchResult:
    """GET ``url``, never raising: a failure comes back as ``error`` plus a short ``detail``.

    ``timeout_s`` bounds the whole exchange, including a server that trickles bytes.
    """
    start = timer()

    def elapsed() -> float:
        return (timer() - start) * 1000.0

    try:
        with session.get(url, timeout=timeout_s, stream=True, headers=dict(headers or {})) as resp:
            hdrs = {k.lower(): v for k, v in resp.headers.items()}
            body, error = _read_capped(resp, max_bytes, start + timeout_s, timer)
            if error:
                return FetchResult(url, elapsed(), resp.status_code, hdrs, b"", error,
                                   _detail_for(error, max_bytes, timeout_s))
            return FetchResult(url, elapsed(), resp.status_code, hdrs, body)
    except requests.exceptions.Timeout:
        return FetchResult(url, elapsed(), error=TIMEOUT,
                           detail=f"no answer within {timeout_s:g} s")
    except requests.exceptions.SSLError as exc:
        return FetchResult(url, elapsed(), error=TLS, detail=_short(exc))
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema) as exc:
        return FetchResult(url, elapsed(), error=BAD_URL, detail=_short(exc))
    except requests.exceptions.ConnectionError as exc:
        return FetchResult(url, elapsed(), error=_classify(exc), detail=_short(exc))
    except requests.exceptions.RequestException as exc:
        return FetchResult(url, elapsed(), error=CONNECTION, detail=_short(exc))


def _read_capped(
    resp: requests.Response, max_bytes: int, deadline: float, timer: Timer
) -> tuple[bytes, str | None]:
    declared = resp.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        return b"", TOO_LARGE
    chunks: list[bytes] = []
    size = 0
    for chunk in resp.iter_content(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            return b"", TOO_LARGE
        chunks.append(chunk)
        if timer() > deadline:
            return b"", TIMEOUT
    return b"".join(chunks), None


def _classify(exc: Exception) -> str:
    text = repr(exc).lower()
    if "timed out" in text or "timeout" in text:
        return TIMEOUT
    if "refused" in text:
        return REFUSED
    if any(s in text for s in ("name or service", "nodename nor servname", "getaddrinfo",
                               "name resolution", "no address associated")):
        return DNS
    if "ssl" in text or "certificate" in text:
        return TLS
    return CONNECTION


def _detail_for(error: str, max_bytes: int, timeout_s: float) -> str:
    if error == TOO_LARGE:
        return f"response larger than the {max_bytes} byte cap (raise max_body_bytes if expected)"
    return f"body not complete within {timeout_s:g} s"


def _short(exc: Exception) -> str:
    """A one-line, token-free description of a requests exception."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def direct_session(user_agent: str = "tamma-dash") -> requests.Session:
    """A session for in-house targets: no proxy lookup from the environment on every request.

    requests re-reads the ``*_proxy`` variables for each call (a third of a scrape's CPU); health
    and /metrics endpoints live inside the platform, so they are reached directly. Provider
    probes keep the default session, which honours HTTPS_PROXY / NO_PROXY.
    """
    session = requests.Session()
    session.trust_env = False
    session.headers["User-Agent"] = user_agent
    return session
