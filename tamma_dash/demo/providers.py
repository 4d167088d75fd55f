"""Probe answers of the demo LLM providers and git platforms, with their rate-limit headers."""

from __future__ import annotations

import json
import math
from email.utils import formatdate
from typing import Any

from tamma_dash.demo.context import ServiceState
from tamma_dash.demo.health import rfc3339
from tamma_dash.demo.model_external import PROFILES

PROBE_PATHS = {
    "openai": "/v1/models", "anthropic": "/v1/models",
    "github": "/rate_limit", "gitlab": "/api/v4/version",
}

Response = tuple[int, dict[str, str], bytes]


def go_duration(seconds: float) -> str:
    """Seconds as OpenAI writes them: ``20ms``, ``8.64s``, ``6m0s``, ``1h2m3s``."""
    if seconds < 1.0:
        return f"{max(0, round(seconds * 1000))}ms"
    if seconds < 60.0:
        return f"{round(seconds, 2):g}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes}m{secs}s" if hours else f"{minutes}m{secs}s"


def _v(st: ServiceState, key: str) -> float:
    return float(st[key][0])


def _openai(st: ServiceState, now: float) -> tuple[dict[str, str], dict[str, Any]]:
    headers = {
        "x-ratelimit-limit-requests": f"{_v(st, 'rl_limit'):.0f}",
        "x-ratelimit-remaining-requests": f"{_v(st, 'rl_remaining'):.0f}",
        "x-ratelimit-reset-requests": go_duration(_v(st, "rl_reset_s")),
        "x-ratelimit-limit-tokens": f"{_v(st, 'rl_tokens_limit'):.0f}",
        "x-ratelimit-remaining-tokens": f"{_v(st, 'rl_tokens_remaining'):.0f}",
        "x-ratelimit-reset-tokens": go_duration(_v(st, "rl_tokens_reset_s")),
        "openai-processing-ms": f"{_v(st, 'response_time_ms'):.0f}",
    }
    models = [{"id": m, "object": "model", "created": 1715367049, "owned_by": "system"}
              for m in ("gpt-4o", "gpt-4o-mini", "o3-mini")]
    return headers, {"object": "list", "data": models}


def _anthropic(st: ServiceState, now: float) -> tuple[dict[str, str], dict[str, Any]]:
    headers = {}
    for what, prefix in (("requests", "rl_"), ("tokens", "rl_tokens_")):
        headers[f"anthropic-ratelimit-{what}-limit"] = f"{_v(st, prefix + 'limit'):.0f}"
        headers[f"anthropic-ratelimit-{what}-remaining"] = f"{_v(st, prefix + 'remaining'):.0f}"
        headers[f"anthropic-ratelimit-{what}-reset"] = rfc3339(_v(st, prefix + "window_end"))
    models = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-02-19T00:00:00Z"}
              for m in ("claude-sonnet-4-5", "claude-haiku-4-5")]
    return headers, {"data": models, "has_more": False, "first_id": models[0]["id"],
                     "last_id": models[-1]["id"]}


def _github(st: ServiceState, now: float) -> tuple[dict[str, str], dict[str, Any]]:
    limit, remaining = int(_v(st, "rl_limit")), int(_v(st, "rl_remaining"))
    reset = int(_v(st, "rl_window_end"))
    core = {"limit": limit, "remaining": remaining, "reset": reset, "used": limit - remaining,
            "resource": "core"}
    headers = {
        "x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-used": str(limit - remaining), "x-ratelimit-reset": str(reset),
        "x-ratelimit-resource": "core",
    }
    search = {"limit": 30, "remaining": 30, "reset": int(now) + 60, "used": 0,
              "resource": "search"}
    return headers, {"resources": {"core": core, "search": search}, "rate": core}


def _gitlab(st: ServiceState, now: float) -> tuple[dict[str, str], dict[str, Any]]:
    limit, remaining = int(_v(st, "rl_limit")), int(_v(st, "rl_remaining"))
    reset = int(_v(st, "rl_window_end"))
    delta = max(0, math.ceil(_v(st, "rl_reset_s")))
    headers = {
        "RateLimit-Limit": str(limit), "RateLimit-Remaining": str(remaining),
        "RateLimit-Observed": str(limit - remaining), "RateLimit-Reset": str(reset),
        "RateLimit-ResetTime": formatdate(reset, usegmt=True),
        "RateLimit": f"limit={limit}, remaining={remaining}, reset={delta}",
        "RateLimit-Policy": f"{limit};w={PROFILES['gitlab'].requests.window_s:.0f}",
    }
    return headers, {"version": "17.6.2-ee", "revision": "4a3b2c1d", "enterprise": True}


_BUILDERS = {"openai": _openai, "anthropic": _anthropic, "github": _github, "gitlab": _gitlab}


def _json(status: int, headers: dict[str, str], body: dict[str, Any]) -> Response:
    return status, {"Content-Type": "application/json", **headers}, json.dumps(body).encode()


def probe_response(service: str, path: str, st: ServiceState, now: float) -> Response:
    """The answer to GET ``path``: 200 with headers, 429 when throttled, 5xx for errors."""
    if path.split("?")[0] != PROBE_PATHS[service]:
        return _json(404, {}, {"message": "Not Found", "try": PROBE_PATHS[service]})
    headers, body = _BUILDERS[service](st, now)
    if _v(st, "throttled") > 0:
        retry = str(max(1, math.ceil(_v(st, "rl_reset_s"))))
        return _json(429, {**headers, "retry-after": retry},
                     {"error": {"type": "rate_limit_error", "message": "Rate limit exceeded"}})
    draw, share = _v(st, "probe_draw"), _v(st, "error_share")
    if draw < share:
        status = 500 if draw < 0.7 * share else 503
        return _json(status, {}, {"error": {"type": "api_error", "message": "Internal error"}})
    return _json(200, headers, body)
