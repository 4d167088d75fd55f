"""Rules that cover the demo fleet (and most fleets) when the config names none."""

from __future__ import annotations

from collections.abc import Sequence

from tamma_dash.alerts.rules import (
    AbsenceRule,
    RateLimitRule,
    Rule,
    StatusRule,
    ThresholdRule,
)
from tamma_dash.config import ServiceConfig
from tamma_dash.models import M, ServiceKind, Severity, series_key

EXTERNAL_KINDS = (ServiceKind.PROVIDER, ServiceKind.GIT)


def default_rules(services: Sequence[ServiceConfig]) -> list[Rule]:
    """Down, degraded, resource, error-rate, latency, silence and rate-limit rules."""
    probed = tuple(s.name for s in services if s.health_url or s.probe_url)
    external = tuple(s.name for s in services if s.kind in EXTERNAL_KINDS)
    rules: list[Rule] = [
        StatusRule(name="ServiceDown", severity=Severity.CRITICAL, statuses=("down",),
                   keep_firing_for_s=15.0,
                   description="The service does not answer or reports itself down."),
        StatusRule(name="ServiceDegraded", severity=Severity.WARNING, statuses=("degraded",),
                   keep_firing_for_s=30.0,
                   description="The service reports degraded or a metric is high."),
        _threshold("HighCpu", M.CPU, 90.0, 80.0, 60.0),
        _threshold("HighMemory", M.MEMORY, 90.0, 85.0, 60.0),
        _threshold("DiskAlmostFull", M.DISK, 90.0, 88.0, 60.0, Severity.CRITICAL),
        _threshold("HighErrorRate", M.ERROR_RATE, 5.0, 2.0, 0.0, Severity.CRITICAL),
        _threshold("SlowResponses", M.API_P95, 2000.0, 1500.0, 0.0),
        _threshold("QueueBacklog", M.QUEUE_DEPTH, 30.0, 15.0, 0.0),
        _threshold("DbPoolExhausted", M.DB_WAITING, 0.5, 0.0, 0.0, Severity.CRITICAL,
                   "callers wait for a database connection: the pool is exhausted"),
    ]
    if probed:
        rules.append(AbsenceRule(
            name="NoData", series=series_key("*", M.UP), services=probed, after_s=60.0,
            severity=Severity.WARNING, description="No health check result arrived lately."))
    if external:
        rules.append(RateLimitRule(
            name="RateLimitLow", services=external, min_share=0.1, keep_firing_for_s=30.0,
            severity=Severity.WARNING,
            description="A provider's quota is nearly spent or will run out before it resets."))
    return rules


def _threshold(
    name: str, metric: str, above: float, clear_below: float, for_s: float,
    severity: Severity = Severity.WARNING, description: str = "",
) -> ThresholdRule:
    """Fires above ``above`` (after ``for_s``), clears only below ``clear_below``: hysteresis,
    and keep_firing_for_s so one good sample does not resolve it (no flapping)."""
    held = f" for {for_s:g} s" if for_s else ""
    return ThresholdRule(
        name=name, series=series_key("*", metric), operator=">", value=above,
        clear_value=clear_below, for_s=for_s, severity=severity, keep_firing_for_s=30.0,
        description=description or f"{metric} above {above:g}{held} "
                                   f"(clears below {clear_below:g}).")
