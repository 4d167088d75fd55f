"""Providers and platforms: rate-limit pace, one card per LLM provider / git platform, charts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dash_bootstrap_components as dbc
import numpy as np
from dash import dcc, html

from tamma_dash.models import M, series_key
from tamma_dash.ui.format import fmt_duration, fmt_ms, fmt_number, fmt_percent
from tamma_dash.ui.service_view import Chart, ChartSpec, FrameFn, resolve
from tamma_dash.ui.theme import status_icon

PACE_WINDOW_S = 300.0  # the pace is measured over the last five minutes
BADGE_COLOURS = {"healthy": "success", "degraded": "warning", "down": "danger",
                 "unknown": "secondary"}


def spend_rate(ts: Sequence[float] | np.ndarray,
               remaining: Sequence[float] | np.ndarray) -> float | None:
    """Units spent per second since the last reset (a rise in ``remaining``); None if unknown.

    Needs two finite readings at different times after the newest reset; 0.0 when nothing
    was spent. The pace is the drop from the first to the last of those readings over their span.
    """
    t = np.asarray(ts, dtype=np.float64)
    r = np.asarray(remaining, dtype=np.float64)
    ok = np.isfinite(t) & np.isfinite(r)
    t, r = t[ok], r[ok]
    rises = np.nonzero(np.diff(r) > 0)[0]
    if rises.shape[0]:
        first = int(rises[-1]) + 1
        t, r = t[first:], r[first:]
    if t.shape[0] < 2 or t[-1] <= t[0]:
        return None
    return max(0.0, float(r[0] - r[-1]) / float(t[-1] - t[0]))


@dataclass(frozen=True)
class Exhaustion:
    """When a quota runs out at the current pace, and whether that is before it resets."""

    rate: float | None  # units per second; None when unknown
    runs_out_in_s: float | None  # None when nothing is being spent or the pace is unknown
    reset_s: float | None

    @property
    def before_reset(self) -> bool:
        return (self.runs_out_in_s is not None and self.reset_s is not None
                and self.runs_out_in_s < self.reset_s)


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def exhaustion(remaining: float | None, rate: float | None, reset_s: float | None) -> Exhaustion:
    """``remaining / rate`` seconds left at the current pace, against ``reset_s``."""
    remaining, rate, reset_s = _finite(remaining), _finite(rate), _finite(reset_s)
    eta = max(0.0, remaining) / rate if remaining is not None and rate else None
    return Exhaustion(rate, eta, reset_s)


def pace_text(ex: Exhaustion) -> str:
    """The pace and its consequence in one sentence."""
    if ex.rate is None:
        return "Pace unknown: it needs two readings since the last reset."
    per_min = f"{fmt_number(ex.rate * 60)}/min"
    if ex.runs_out_in_s is None:
        return f"Pace {per_min}: the limit is not being spent."
    resets = ("the reset time is unknown" if ex.reset_s is None
              else f"it resets in {fmt_duration(ex.reset_s)}")
    if ex.before_reset:
        return (f"At the current pace ({per_min}) the limit runs out in "
                f"{fmt_duration(ex.runs_out_in_s)}, before it resets in "
                f"{fmt_duration(ex.reset_s)}.")
    return (f"At the current pace ({per_min}) it would last {fmt_duration(ex.runs_out_in_s)}; "
            f"{resets}.")


def paces(names: Sequence[str], apis: Mapping[str, Mapping[str, Any]], frame_fn: FrameFn,
          now: float, window_s: float = PACE_WINDOW_S) -> dict[str, Exhaustion]:
    """Each platform's exhaustion outlook from its ``ratelimit_remaining`` history."""
    keys = [series_key(n, M.RL_REMAINING) for n in names]
    frame = frame_fn(keys, now - window_s, now)
    out = {}
    for name, key in zip(names, keys, strict=True):
        api = apis.get(name, {})
        rate = (spend_rate(frame.index.to_numpy(dtype=np.float64), frame[key].to_numpy())
                if key in frame.columns else None)
        out[name] = exhaustion(api.get("rateLimitRemaining"), rate, api.get("rateLimitResetS"))
    return out


def _limit_part(api: Mapping[str, Any]) -> list[Any]:
    remaining, limit = api.get("rateLimitRemaining"), api.get("rateLimitLimit")
    if remaining is None:
        return [html.P("No rate limit reported.", className="mb-1")]
    text = f"{fmt_number(remaining)} of {fmt_number(limit)} left" if limit else \
        f"{fmt_number(remaining)} left"
    parts: list[Any] = [html.P(text + f", resets in {fmt_duration(api.get('rateLimitResetS'))}",
                               className="mb-1")]
    if limit:
        share = max(0.0, min(100.0, 100.0 * remaining / limit))
        colour = "danger" if share < 10 else "warning" if share < 25 else "success"
        bar = dbc.Progress(value=share, color=colour, className="mb-2")
        hidden: dict[str, Any] = {"aria-hidden": "true"}  # the sentence above says it all
        parts.append(html.Div(bar, **hidden))
    return parts


def platform_card(name: str, api: Mapping[str, Any], ex: Exhaustion) -> Any:
    """Status (icon + word + colour), response time, success rate, rate limit and its pace."""
    status = str(api.get("status", "unknown"))
    badge = dbc.Badge(f"{status_icon(status)} {status}", color=BADGE_COLOURS.get(status,
                      "secondary"), text_color="dark" if status == "degraded" else None)
    warning = (dbc.Alert(f"{status_icon('degraded')} {pace_text(ex)}", color="warning",
                         className="py-1 px-2 mb-0 small pace-warning")
               if ex.before_reset else html.P(pace_text(ex), className="small mb-0"))
    return dbc.Col(dbc.Card(dbc.CardBody([
        html.Div([dcc.Link(html.H3(name, className="h6 m-0"), href=f"/service/{name}"), badge],
                 className="d-flex justify-content-between align-items-baseline mb-2"),
        html.Dl([html.Dt("Response time"), html.Dd(fmt_ms(api.get("responseTime"))),
                 html.Dt("Success rate"), html.Dd(fmt_percent(api.get("successRate")))],
                className="metric-grid mb-1"),
        *_limit_part(api),
        warning,
    ]), className=f"h-100 status-card status-{status}"), xs=12, md=6, xl=4)


def platform_cards(names: Sequence[str], apis: Mapping[str, Mapping[str, Any]],
                   outlook: Mapping[str, Exhaustion], empty: str) -> Any:
    """A row of cards, or a sentence when there are none of this kind."""
    if not names:
        return html.P(empty, className="text-body-secondary")
    return dbc.Row([platform_card(n, apis.get(n, {}), outlook.get(n, exhaustion(None, None, None)))
                    for n in names], className="g-3")


def platform_charts(prefix: str, label: str, names: Sequence[str]) -> list[Chart]:
    """Response time, success rate and rate limit of every platform of one kind."""
    specs = (ChartSpec(f"{prefix}_response_time", f"{label}: response time",
                       (M.RESPONSE_TIME_MS,), "ms"),
             ChartSpec(f"{prefix}_success_rate", f"{label}: success rate", (M.SUCCESS_RATE,),
                       "%"),
             ChartSpec(f"{prefix}_rate_limit", f"{label}: rate limit remaining and limit",
                       (M.RL_REMAINING, M.RL_LIMIT)))
    return resolve(specs, names) if names else []


def names_by_kind(services: Mapping[str, Mapping[str, Any]], kind: str) -> list[str]:
    """Names of the ``kind`` entries (provider or git), in document order."""
    return [n for n, s in services.items() if s.get("kind") == kind]
