"""A service's status from its latest values: reachability, its own verdict, thresholds, age."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tamma_dash.models import M, Status
from tamma_dash.store.base import Latest

STALE_AFTER_TICKS = 3


@dataclass(frozen=True)
class Verdict:
    status: Status
    reasons: tuple[str, ...]


def service_status(
    latest: Mapping[str, Latest],
    thresholds: Mapping[str, tuple[float, float]],
    *,
    now: float,
    interval_s: float,
) -> Verdict:
    """Worst of: whether it answers, what it says, and each thresholded metric.

    Down means not answering or saying so itself; a metric over its threshold only degrades.

    ``latest`` maps metric name (not key) to its newest point for one service.
    """
    if not latest:
        return Verdict(Status.UNKNOWN, ("no data yet",))
    newest = max(p.ts for p in latest.values())
    if now - newest > STALE_AFTER_TICKS * interval_s + 1.0:
        return Verdict(Status.UNKNOWN, (f"no data for {now - newest:.0f} s",))
    status = Status.HEALTHY
    reasons: list[str] = []
    up = latest.get(M.UP)
    if up is not None and up.value < 0.5:
        reason = _label(up, "reason") or "unreachable"
        detail = _label(up, "detail")
        return Verdict(
            Status.DOWN, (f"not answering: {reason}" + (f" ({detail})" if detail else ""),)
        )
    said = latest.get(M.STATUS)
    if said is not None and said.value >= 0.5:
        status = Status(min(round(said.value), int(Status.DOWN)))
        reasons.append(f"reports {status.word}" + _because(said))
    for metric, (warn, crit) in thresholds.items():
        point = latest.get(metric)
        if point is None or point.value < warn:
            continue
        word = "critical" if point.value >= crit else "high"
        reasons.append(
            f"{metric} {word}: {point.value:.4g} (limit {crit if word == 'critical' else warn:g})"
        )
        status = max(status, Status.DEGRADED)
    return Verdict(status, tuple(reasons))


def _label(point: Latest, name: str) -> str:
    return next((v for k, v in point.labels if k == name), "")


def _because(point: Latest) -> str:
    detail = _label(point, "detail") or _label(point, "reason")
    return f" ({detail})" if detail else ""
