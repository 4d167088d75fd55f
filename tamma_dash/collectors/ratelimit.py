"""Rate limits read from response headers: every common flavour, garbage ignored, never raising.

Understood (header names case-insensitive):

- GitHub style ``x-ratelimit-limit / -remaining / -used / -reset`` (policy ``github`` or
  ``github:<x-ratelimit-resource>``); ``remaining`` is derived from ``limit - used`` if absent.
- GitLab ``ratelimit-limit / -remaining / -reset`` plus ``ratelimit-resettime`` (an HTTP date)
  (policy ``gitlab``, recognised by ``ratelimit-observed``, ``-resettime`` or ``-name``);
  without those markers the same fields are the older IETF drafts (policy ``ietf-draft``), whose
  limit may also come from ``RateLimit-Policy``.
- IETF ``RateLimit: limit=100, remaining=50, reset=5`` (dictionary form, policy ``ietf``) and
  ``RateLimit: "default";r=50;t=30`` with ``RateLimit-Policy: "default";q=100;w=60`` (list
  form, policy ``ietf:<name>``).
- OpenAI ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` with Go durations such as
  ``6m0s`` or ``20ms`` (policy ``openai:<resource>``); Anthropic
  ``anthropic-ratelimit-<resource>-{limit,remaining,reset}`` with RFC 3339 times
  (policy ``anthropic:<resource>``); any other ``*ratelimit*remaining*`` header, paired with the
  header named the same with ``limit`` / ``reset`` in place of ``remaining``.

A reset value may be a number, a Go duration, an RFC 3339 time or an HTTP date. A bare number
is an epoch timestamp when it is at least 1e9 (September 2001; no window lasts 31 years),
epoch milliseconds from 1e12, and delta-seconds below 1e9. ``reset_s`` is always seconds from
``now``, clamped at 0. When ``remaining`` is 0, ``Retry-After`` (seconds or an HTTP date) also
bounds the reset: the later of the two wins, since neither permits an earlier call.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

EPOCH_S_FROM = 1e9
EPOCH_MS_FROM = 1e12

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_DURATION = re.compile(r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:h|m|s|ms|us|µs|μs|ns))+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|μs|ns)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "μs": 1e-6,
           "ns": 1e-9}
_MEMBER = re.compile(r'(?:[^,"]|"[^"]*")+')
_PARAM = re.compile(r'(?:[^;"]|"[^"]*")+')
_GITLAB_MARKERS = ("ratelimit-observed", "ratelimit-resettime", "ratelimit-name")
_FAMILY_ORDER = {"ietf": 0, "openai": 1, "anthropic": 1, "github": 2, "gitlab": 2, "ietf-draft": 2}


@dataclass(frozen=True)
class RateLimit:
    """One rate-limit window: calls (or tokens) left, the window's size, seconds to its reset."""

    remaining: float
    limit: float | None
    reset_s: float | None
    policy: str
    resource: str = "requests"


def parse_rate_limit(headers: Mapping[str, str], now: float) -> RateLimit | None:
    """The most relevant window in ``headers`` (requests before tokens), or None."""
    found = parse_rate_limits(headers, now)
    return found[0] if found else None


def parse_rate_limits(headers: Mapping[str, str], now: float) -> list[RateLimit]:
    """Every window found in ``headers``, most relevant first; unparseable values are skipped."""
    h = {str(k).strip().lower(): str(v).strip() for k, v in headers.items()}
    found = _structured(h, now) + _named_fields(h, now)
    retry = parse_retry_after(h.get("retry-after", ""), now)
    if retry is not None:
        found = [_with_retry(r, retry) for r in found]
    return sorted(found, key=_rank)


def parse_retry_after(value: str, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now``: delay-seconds or an HTTP date; else None."""
    text = value.strip()
    number = _leading_number(text)
    if number is not None:
        return number
    when = _http_date(text)
    return None if when is None else max(0.0, when - now)


def parse_reset(value: str, now: float) -> float | None:
    """A reset given in any supported notation, as non-negative seconds from ``now``."""
    text = value.strip()
    number = _leading_number(text)
    if number is not None:
        if number >= EPOCH_MS_FROM:
            return max(0.0, number / 1000.0 - now)
        return max(0.0, number - now) if number >= EPOCH_S_FROM else number
    seconds = parse_duration(text)
    if seconds is not None:
        return seconds
    when = _iso_time(text)
    if when is None:
        when = _http_date(text)
    return None if when is None else max(0.0, when - now)


def parse_duration(text: str) -> float | None:
    """A Go-style duration (``6m0s``, ``20ms``, ``2h3m4.5s``) in seconds, or None."""
    if not _DURATION.fullmatch(text):
        return None
    total = sum(float(n) * _UNIT_S[u] for n, u in _DURATION_PART.findall(text))
    return total if math.isfinite(total) else None


def _named_fields(h: dict[str, str], now: float) -> list[RateLimit]:
    out: list[RateLimit] = []
    names = [n for n in h if "ratelimit" in n and "remaining" in n]
    if "x-ratelimit-remaining" not in h and "x-ratelimit-used" in h:
        names.append("x-ratelimit-remaining")
    for name in names:
        remaining = _remaining(h, name)
        if remaining is None:
            continue
        policy, resource = _family(name, h)
        limit = _leading_number(h.get(name.replace("remaining", "limit"), ""))
        if limit is None and policy == "ietf-draft":
            limit = _leading_number(_strip_quotes(h.get("ratelimit-policy", "")))
        out.append(RateLimit(remaining, limit, _reset(h, name, now), policy, resource))
    return out


def _remaining(h: dict[str, str], name: str) -> float | None:
    if name in h:
        return _leading_number(h[name])
    limit = _leading_number(h.get("x-ratelimit-limit", ""))
    used = _leading_number(h.get("x-ratelimit-used", ""))
    return None if limit is None or used is None else max(0.0, limit - used)


def _reset(h: dict[str, str], name: str, now: float) -> float | None:
    reset = parse_reset(h.get(name.replace("remaining", "reset"), ""), now)
    if reset is None and name == "ratelimit-remaining":
        when = _http_date(h.get("ratelimit-resettime", ""))
        reset = None if when is None else max(0.0, when - now)
    return reset


def _family(name: str, h: dict[str, str]) -> tuple[str, str]:
    """(policy, resource) for a ``*remaining*`` header name."""
    if name == "x-ratelimit-remaining":
        bucket = h.get("x-ratelimit-resource", "")
        return (f"github:{bucket}" if bucket else "github"), "requests"
    if name == "ratelimit-remaining":
        gitlab = any(m in h for m in _GITLAB_MARKERS)
        return ("gitlab" if gitlab else "ietf-draft"), "requests"
    if name.startswith("x-ratelimit-remaining-"):
        resource = name.removeprefix("x-ratelimit-remaining-")
        return f"openai:{resource}", resource
    if name.startswith("anthropic-ratelimit-") and name.endswith("-remaining"):
        resource = name.removeprefix("anthropic-ratelimit-").removesuffix("-remaining")
        return f"anthropic:{resource}", resource
    return name, "requests"


def _structured(h: dict[str, str], now: float) -> list[RateLimit]:
    """The IETF ``RateLimit`` field, dictionary or list form."""
    members = [_params(m) for m in _MEMBER.findall(h.get("ratelimit", ""))]
    members = [m for m in members if m]
    if not members:
        return []
    if all("=" in m[0] for m in members):  # dictionary: limit=100, remaining=50, reset=5
        d = dict(_key_value(m[0]) for m in members)
        remaining = _leading_number(d.get("remaining", d.get("r", "")))
        if remaining is None:
            return []
        limit = _leading_number(d.get("limit", ""))
        if limit is None:
            limit = _leading_number(h.get("ratelimit-policy", ""))
        return [RateLimit(remaining, limit, parse_reset(d.get("reset", ""), now), "ietf")]
    quotas = {_strip_quotes(p[0]): dict(_key_value(x) for x in p[1:])
              for p in (_params(m) for m in _MEMBER.findall(h.get("ratelimit-policy", ""))) if p}
    out: list[RateLimit] = []
    for item, *params in members:
        name = _strip_quotes(item)
        kv = dict(_key_value(p) for p in params)
        remaining = _leading_number(kv.get("r", ""))
        if remaining is None:
            continue
        limit = _leading_number(quotas.get(name, {}).get("q", ""))
        reset = parse_reset(kv.get("t", ""), now)
        unit = _strip_quotes(quotas.get(name, {}).get("qu", "")) or "requests"
        out.append(RateLimit(remaining, limit, reset, f"ietf:{name}", unit))
    return out


def _params(member: str) -> list[str]:
    return [p.strip() for p in _PARAM.findall(member) if p.strip()]


def _key_value(text: str) -> tuple[str, str]:
    key, _, value = text.partition("=")
    return key.strip().lower(), _strip_quotes(value)


def _strip_quotes(text: str) -> str:
    return text.strip().strip('"').strip()


def _with_retry(r: RateLimit, retry_s: float) -> RateLimit:
    if r.remaining > 0:
        return r
    reset = retry_s if r.reset_s is None else max(r.reset_s, retry_s)
    return RateLimit(r.remaining, r.limit, reset, r.policy, r.resource)


def _rank(r: RateLimit) -> tuple[bool, int, float]:
    """Requests before tokens, standard fields before vendor ones, the tighter window first."""
    return (r.resource != "requests", _FAMILY_ORDER.get(r.policy.split(":")[0], 3), r.remaining)


def _leading_number(text: str) -> float | None:
    """The non-negative finite number before any ``,`` or ``;`` (``"10, 10;w=1"`` -> 10)."""
    head = re.split(r"[,;]", text, maxsplit=1)[0].strip()
    if not _NUMBER.fullmatch(head):
        return None
    value = float(head)
    return value if math.isfinite(value) else None


def _iso_time(text: str) -> float | None:
    if not re.match(r"\d{4}-\d{2}-\d{2}[T ]", text):
        return None
    try:
        when = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", text))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _http_date(text: str) -> float | None:
    if not text:
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
