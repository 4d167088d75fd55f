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
# "Held on two consecutive evaluations": pending at one tick, firing at the next. Any for_s
# shorter than the gap between two evaluations means that; the gap is one tick give or take the
# collection time (1-9 s at the default 5 s tick), so one whole tick (5 s) would often need three.
# With a tick under 1 s it means "held for 1 s".
CONFIRM_S = 1.0


def default_rules(services: Sequence[ServiceConfig]) -> list[Rule]:
    """Down, degraded, resource, error-rate, latency, silence and rate-limit rules."""
    probed = tuple(s.name for s in services if s.health_url or s.probe_url)
    external = tuple(s.name for s in services if s.kind in EXTERNAL_KINDS)
    rules: list[Rule] = [
        *_down_rules(tuple(s.name for s in services), external),
        StatusRule(name="ServiceDegraded", severity=Severity.WARNING, statuses=("degraded",),
                   for_s=CONFIRM_S, keep_firing_for_s=30.0,
                   description="The service reports degraded or a metric is high on two "
                               "consecutive ticks (one slow probe is not a problem)."),
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


def _down_rules(names: tuple[str, ...], external: tuple[str, ...]) -> list[Rule]:
    """Our own services page on the first tick they are down; a provider or git platform, whose
    probes fail now and then (a lone 5xx), only when two probes in a row fail."""
    own = tuple(n for n in names if n not in external)
    rules: list[Rule] = []
    if own:
        rules.append(StatusRule(
            name="ServiceDown", severity=Severity.CRITICAL, statuses=("down",), services=own,
            keep_firing_for_s=15.0,
            description="The service does not answer or reports itself down."))
    if external:
        rules.append(StatusRule(
            name="ProviderDown", severity=Severity.CRITICAL, statuses=("down",),
            services=external, for_s=CONFIRM_S, keep_firing_for_s=15.0,
            description="The provider or git platform failed two probes in a row, or its "
                        "quota is used up."))
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
