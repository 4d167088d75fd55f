"""Alert rules: what to watch, when it counts as a problem, and what each check finds now."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tamma_dash.alerts.pace import PaceTracker, exhausted_before_reset
from tamma_dash.models import Labels, M, Severity, Status, make_labels, series_key, split_key
from tamma_dash.store.base import Latest

OPERATORS = (">", ">=", "<", "<=", "==", "!=")
DEFAULT_KEEP_FIRING_FOR_S = 10.0


class RuleKind(enum.StrEnum):
    THRESHOLD = "threshold"
    STATUS = "status"
    ABSENCE = "absence"
    RATE_LIMIT = "rate_limit"
    ANOMALY = "anomaly"
    FORECAST = "forecast"


def compare(value: float, operator: str, limit: float) -> bool:
    """Whether ``value <operator> limit`` holds."""
    if operator == ">":
        return value > limit
    if operator == ">=":
        return value >= limit
    if operator == "<":
        return value < limit
    if operator == "<=":
        return value <= limit
    if operator == "==":
        return value == limit
    if operator == "!=":
        return value != limit
    raise ValueError(f"unknown operator {operator!r}")


def fingerprint(rule: str, service: str, labels: Labels) -> str:
    """Stable 16-hex identity of an alert series: same rule, service and labels, same alert."""
    text = "\x1f".join([rule, service, *(f"{k}={v}" for k, v in sorted(labels))])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class EvalContext:
    """Everything a rule may look at on one tick."""

    latest: Mapping[str, Latest]
    statuses: Mapping[str, str]
    services: Sequence[str]
    now: float
    started_at: float
    pace: PaceTracker = field(default_factory=PaceTracker)
    active: frozenset[str] = frozenset()
    anomalies: Mapping[str, float] = field(default_factory=dict)
    forecasts: Mapping[str, float] = field(default_factory=dict)
    reasons: Mapping[str, Sequence[str]] = field(default_factory=dict)  # why each status


@dataclass(frozen=True)
class Condition:
    """One rule holding for one service (and label set) right now."""

    rule: Rule
    service: str
    labels: Labels
    value: float
    summary: str

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.rule.name, self.service, self.labels)


@dataclass(frozen=True, kw_only=True)
class Rule:
    """What every rule has: a name, a severity, timing, labels and a runbook."""

    name: str
    severity: Severity = Severity.WARNING
    for_s: float = 0.0
    keep_firing_for_s: float = DEFAULT_KEEP_FIRING_FOR_S
    labels: Labels = ()
    runbook_url: str = ""
    description: str = ""
    route: str = "default"
    services: tuple[str, ...] = ()  # restricts ``*`` (or the whole fleet) to these services

    @property
    def kind(self) -> RuleKind:
        raise NotImplementedError

    def check(self, ctx: EvalContext) -> list[Condition]:
        """The conditions that hold now (empty when all is well)."""
        raise NotImplementedError

    def hit(self, service: str, value: float, summary: str, **extra: str) -> Condition:
        return Condition(self, service, make_labels(dict(self.labels), **extra), value, summary)


def expand(series: str, chosen: tuple[str, ...], services: Sequence[str]) -> list[tuple[str, str]]:
    """``*/metric`` for every (chosen) service, else the one ``service/metric``."""
    service, metric = split_key(series)
    if service == "*":
        return [(s, series_key(s, metric)) for s in targets(chosen, services)]
    return [(service, series)]


def targets(chosen: tuple[str, ...], services: Sequence[str]) -> Sequence[str]:
    """The named services, or every service when none are named."""
    return chosen or services


@dataclass(frozen=True, kw_only=True)
class ThresholdRule(Rule):
    """A series compared with a value; ``clear_value`` adds hysteresis once it fires."""

    series: str
    operator: str
    value: float
    clear_value: float | None = None

    @property
    def kind(self) -> RuleKind:
        return RuleKind.THRESHOLD

    def check(self, ctx: EvalContext) -> list[Condition]:
        out: list[Condition] = []
        metric = split_key(self.series)[1]
        for service, key in expand(self.series, self.services, ctx.services):
            point = ctx.latest.get(key)
            if point is None:
                continue
            limit = self.value
            if self.clear_value is not None:
                cond = self.hit(service, point.value, "")
                if cond.fingerprint in ctx.active:
                    limit = self.clear_value
            if compare(point.value, self.operator, limit):
                text = f"{service} {metric} is {point.value:.4g} ({self.operator} {self.value:g})"
                out.append(self.hit(service, point.value, text))
        return out


@dataclass(frozen=True, kw_only=True)
class StatusRule(Rule):
    """A service whose computed status is one of ``statuses`` (down, degraded, unknown)."""

    statuses: tuple[str, ...] = ("down",)

    @property
    def kind(self) -> RuleKind:
        return RuleKind.STATUS

    def check(self, ctx: EvalContext) -> list[Condition]:
        out: list[Condition] = []
        for service in targets(self.services, ctx.services):
            word = ctx.statuses.get(service)
            if word in self.statuses:
                value = float(Status[word.upper()].value)
                why = "; ".join(ctx.reasons.get(service, ()))
                summary = f"{service} is {word}" + (f": {why}" if why else "")
                out.append(self.hit(service, value, summary))
        return out


@dataclass(frozen=True, kw_only=True)
class AbsenceRule(Rule):
    """No new point of a series for ``after_s`` (counted from start when never seen)."""

    series: str
    after_s: float = 60.0

    @property
    def kind(self) -> RuleKind:
        return RuleKind.ABSENCE

    def check(self, ctx: EvalContext) -> list[Condition]:
        out: list[Condition] = []
        for service, key in expand(self.series, self.services, ctx.services):
            point = ctx.latest.get(key)
            since = point.ts if point is not None else ctx.started_at
            age = ctx.now - since
            seen = "never seen" if point is None else f"no data for {age:.0f} s"
            cond = self.hit(service, age, f"{key}: {seen}")
            # a restart resets "never seen since start"; an open alert stays open meanwhile
            if age >= self.after_s or (point is None and cond.fingerprint in ctx.active):
                out.append(cond)
        return out


@dataclass(frozen=True, kw_only=True)
class RateLimitRule(Rule):
    """Quota below ``min_share`` of the limit, or at the current pace gone before the reset."""

    min_share: float = 0.1
    check_pace: bool = True

    @property
    def kind(self) -> RuleKind:
        return RuleKind.RATE_LIMIT

    def check(self, ctx: EvalContext) -> list[Condition]:
        out: list[Condition] = []
        for service in targets(self.services, ctx.services):
            prefix = series_key(service, M.RL_REMAINING)
            for key in [k for k in ctx.latest if k.startswith(prefix)]:
                cond = self._one(ctx, service, key, key[len(prefix):])
                if cond is not None:
                    out.append(cond)
        return out

    def _one(self, ctx: EvalContext, service: str, key: str, suffix: str) -> Condition | None:
        remaining = ctx.latest[key]
        limit = ctx.latest.get(series_key(service, M.RL_LIMIT + suffix))
        reset = ctx.latest.get(series_key(service, M.RL_RESET_S + suffix))
        pace = ctx.pace.observe(key, remaining.ts, remaining.value)
        policy = suffix.lstrip(":")
        extra = {"policy": policy} if policy else {}
        if limit is not None and limit.value > 0 and remaining.value < self.min_share * limit.value:
            share = remaining.value / limit.value
            text = (f"{service} rate limit {policy or 'quota'}: {remaining.value:.0f} of "
                    f"{limit.value:.0f} left ({share:.0%}, below {self.min_share:.0%})")
            return self.hit(service, share, text, **extra)
        if self.check_pace and reset is not None and pace is not None:
            eta = exhausted_before_reset(remaining.value, pace, reset.value)
            if eta is not None:
                text = (f"{service} rate limit {policy or 'quota'}: at {pace:.3g}/s the "
                        f"{remaining.value:.0f} left run out in {eta:.0f} s, reset in "
                        f"{reset.value:.0f} s")
                return self.hit(service, eta, text, **extra)
        return None


@dataclass(frozen=True, kw_only=True)
class AnomalyRule(Rule):
    """Hook for analytics: an anomaly score for a series at or above ``min_score``."""

    series: str
    min_score: float = 0.5

    @property
    def kind(self) -> RuleKind:
        return RuleKind.ANOMALY

    def check(self, ctx: EvalContext) -> list[Condition]:
        out: list[Condition] = []
        for service, key in expand(self.series, self.services, ctx.services):
            score = ctx.anomalies.get(key)
            if score is not None and score >= self.min_score:
                out.append(self.hit(service, score, f"{key} is unusual (score {score:.2f})"))
        return out


@dataclass(frozen=True, kw_only=True)
class ForecastRule(Rule):
    """Hook for analytics: a series forecast to cross its limit within ``within_s``."""

    series: str
    within_s: float = 3600.0

    @property
    def kind(self) -> RuleKind:
        return RuleKind.FORECAST

    def check(self, ctx: EvalContext) -> list[Condition]:
        out: list[Condition] = []
        for service, key in expand(self.series, self.services, ctx.services):
            eta = ctx.forecasts.get(key)
            if eta is not None and eta <= self.within_s:
                text = f"{key} forecast to hit its limit in {eta:.0f} s"
                out.append(self.hit(service, eta, text))
        return out
