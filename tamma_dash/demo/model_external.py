"""LLM providers and git platforms: probe latency, errors and rate-limit windows over time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tamma_dash.demo.context import Arr, FleetState, ServiceState, TickContext
from tamma_dash.demo.topology import EXTERNAL_NAMES


@dataclass(frozen=True)
class Window:
    """A fixed rate-limit window: ``limit`` per ``window_s``, aligned to the epoch."""

    limit: int
    window_s: float
    peak_use: float  # share of the limit used by the window's end at full load


@dataclass(frozen=True)
class ProbeProfile:
    """What a healthy probe of one external service looks like."""

    latency_ms: float
    error_share: float
    requests: Window
    tokens: Window | None = None


PROFILES: dict[str, ProbeProfile] = {
    "openai": ProbeProfile(95.0, 0.004, Window(10_000, 600.0, 0.85),
                           Window(2_000_000, 60.0, 0.75)),
    "anthropic": ProbeProfile(120.0, 0.006, Window(4_000, 60.0, 0.8),
                              Window(400_000, 60.0, 0.7)),
    "github": ProbeProfile(45.0, 0.002, Window(5_000, 3600.0, 0.7)),
    "gitlab": ProbeProfile(60.0, 0.003, Window(2_000, 60.0, 0.6)),
}


def window_usage(ctx: TickContext, service: str, what: str, w: Window) -> dict[str, Arr]:
    """limit, remaining, reset_s and window_end of one window at each instant.

    Usage accrues linearly inside a window at a pace fixed by the load when the window
    opened, so ``remaining`` only falls within a window and jumps back at its boundary.
    """
    start = np.floor(ctx.t / w.window_s) * w.window_s
    index = (start / w.window_s).astype(np.int64)
    jitter = 1.0 + 0.08 * ctx.white_at(service, f"rl:{what}", index)
    pace = np.clip(w.peak_use * ctx.load_at(start) * jitter, 0.0, 1.0)
    used = np.floor(w.limit * pace * (ctx.t - start) / w.window_s)
    throttled = ctx.fault(service, "rate_limit")
    remaining = np.where(throttled, 0.0, w.limit - used)
    end = start + w.window_s
    return {"limit": np.full(ctx.n, float(w.limit)), "remaining": remaining,
            "reset_s": end - ctx.t, "window_end": end}


def external_state(ctx: TickContext, service: str) -> ServiceState:
    """Probe-level state of one provider or git platform."""
    p = PROFILES[service]
    down = ctx.fault(service, "down")
    slow = ctx.fault(service, "latency")
    throttled = ctx.fault(service, "rate_limit")
    erroring = ctx.fault(service, "errors")
    rt = p.latency_ms * (1.0 + 0.25 * ctx.load) * np.exp(0.15 * ctx.white(service, "rt"))
    rt = np.where(slow, rt * (5.0 + 5.0 * ctx.unif(service, "slow")), rt)
    share = np.where(erroring, 0.2 + 0.2 * _unit(ctx.slow(service, "err", 120.0)),
                     p.error_share * (0.5 + ctx.load))
    success = np.where(throttled, 0.0, 100.0 * (1.0 - share))
    impaired = slow | throttled | erroring
    out: ServiceState = {
        "up": np.where(down, 0.0, 1.0),
        "health": np.where(down, 2, np.where(impaired, 1, 0)).astype(np.float64),
        "response_time_ms": np.where(down, np.nan, rt),
        "error_share": share,
        "success_rate": np.where(down, 0.0, success),
        "throttled": throttled.astype(np.float64),
        "slowed": slow.astype(np.float64),
        "probe_draw": ctx.unif(service, "probe"),
    }
    for key, value in window_usage(ctx, service, "requests", p.requests).items():
        out[f"rl_{key}"] = value
    if p.tokens is not None:
        for key, value in window_usage(ctx, service, "tokens", p.tokens).items():
            out[f"rl_tokens_{key}"] = value
    return out


def externals(ctx: TickContext) -> FleetState:
    """State of every provider and git platform."""
    return {name: external_state(ctx, name) for name in EXTERNAL_NAMES}


def _unit(z: Arr) -> Arr:
    """Map roughly-normal noise to 0..1."""
    return np.clip(0.5 + 0.35 * z, 0.0, 1.0)
