"""Rules from the ``[[alerts.rules]]`` array: validated, every problem named with where and fix."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from tamma_dash.alerts.rules import (
    OPERATORS,
    AbsenceRule,
    AnomalyRule,
    ForecastRule,
    RateLimitRule,
    Rule,
    RuleKind,
    StatusRule,
    ThresholdRule,
)
from tamma_dash.config import ServiceConfig
from tamma_dash.models import Severity, make_labels
from tamma_dash.suggest import did_you_mean

COMMON_KEYS = frozenset({
    "name", "kind", "severity", "for_s", "keep_firing_for_s", "labels", "runbook_url",
    "description", "route", "services",
})
KIND_KEYS: dict[RuleKind, frozenset[str]] = {
    RuleKind.THRESHOLD: frozenset({"series", "operator", "value", "clear_value"}),
    RuleKind.STATUS: frozenset({"statuses"}),
    RuleKind.ABSENCE: frozenset({"series", "after_s"}),
    RuleKind.RATE_LIMIT: frozenset({"min_share", "check_pace"}),
    RuleKind.ANOMALY: frozenset({"series", "min_score"}),
    RuleKind.FORECAST: frozenset({"series", "within_s"}),
}
STATUS_WORDS = ("down", "degraded", "unknown")
RESERVED_LABELS = frozenset({"alertname", "service", "severity"})
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class FieldReader:
    """Reads typed fields of one config table, appending a problem per bad field."""

    def __init__(self, raw: Mapping[str, Any], where: str, problems: list[str]) -> None:
        self.raw, self.where, self.problems = raw, where, problems

    def bad(self, key: str, message: str) -> None:
        self.problems.append(f"{self.where}.{key}: {message}")

    def number(self, key: str, default: float | None = None, *, minimum: float = 0.0,
               maximum: float | None = None, required: bool = False) -> float | None:
        if key not in self.raw:
            if required:
                self.bad(key, "required, a number")
            return default
        value = self.raw[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.bad(key, f"expected a number, got {value!r}")
        elif value < minimum or (maximum is not None and value > maximum):
            top = f" and {maximum:g}" if maximum is not None else ""
            self.bad(key, f"{value!r} is out of range; use a number between {minimum:g}{top}")
        else:
            return float(value)
        return default

    def text(self, key: str, default: str = "", *, required: bool = False) -> str:
        if key not in self.raw:
            if required:
                self.bad(key, "required, a non-empty string")
            return default
        value = self.raw[key]
        if not isinstance(value, str) or (required and not value.strip()):
            self.bad(key, f"expected a non-empty string, got {value!r}")
            return default
        return value.strip()

    def choice(self, key: str, options: Sequence[str], default: str, *,
               suggest: bool = True) -> str:
        """``key``'s value if it is one of ``options``; ``suggest`` adds a did-you-mean hint."""
        value = self.raw.get(key, default)
        if value not in options:
            hint = did_you_mean(value, options) if suggest else ""
            self.bad(key, f"{value!r} is not one of {', '.join(options)}{hint}")
            return default
        return str(value)

    def names(self, key: str, options: Sequence[str]) -> tuple[str, ...]:
        value = self.raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.bad(key, f'expected a list of names, e.g. ["{options[0] if options else "x"}"]')
            return ()
        for v in value:
            if v not in options:
                self.bad(key, f"{v!r} is not one of {', '.join(options)}{did_you_mean(v, options)}")
        return tuple(v for v in value if v in options)

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            self.bad(key, f"expected true or false, got {value!r}")
            return default
        return value

    def series(self, services: Sequence[str]) -> str:
        value = self.text("series", required=True)
        service, _, metric = value.partition("/")
        if value and (not service or not metric):
            self.bad("series", f"{value!r} is not service/metric, e.g. \"*/cpu_percent\"")
        elif value and service != "*" and service not in services:
            self.bad("series", f"unknown service {service!r}{did_you_mean(service, services)}; "
                     f"use '*' or one of {', '.join(services)}")
        return value

    def labels(self) -> tuple[tuple[str, str], ...]:
        value = self.raw.get("labels", {})
        if not isinstance(value, Mapping):
            self.bad("labels", 'expected a table of strings, e.g. { team = "platform" }')
            return ()
        for k, v in value.items():
            if not _LABEL_NAME.match(str(k)) or str(k) in RESERVED_LABELS:
                self.bad("labels", f"{k!r} is not a usable label name (letters, digits, _; "
                         f"not {', '.join(sorted(RESERVED_LABELS))})")
            elif not isinstance(v, str):
                self.bad(f"labels.{k}", f"expected a string, got {v!r}")
        return make_labels({str(k): v for k, v in value.items() if isinstance(v, str)})

    def url(self, key: str) -> str:
        value = self.text(key)
        parsed = urlparse(value)
        if value and (parsed.scheme not in ("http", "https") or not parsed.netloc):
            self.bad(key, f"{value!r} is not an http(s) URL, e.g. https://wiki.example/runbook")
            return ""
        return value


def parse_rules(
    raw: Any, services: Sequence[ServiceConfig], where: str = "alerts.rules",
) -> tuple[list[Rule], list[str]]:
    """Validate ``[[alerts.rules]]`` tables into rules; returns (rules, problems)."""
    problems: list[str] = []
    if not isinstance(raw, list):
        return [], [f"{where}: expected [[alerts.rules]] tables"]
    names = [s.name for s in services]
    rules: list[Rule] = []
    for i, item in enumerate(raw):
        rule = _rule(item, f"{where}[{i}]", names, problems)
        if rule is not None:
            rules.append(rule)
    seen = [r.name for r in rules]
    for name in sorted({n for n in seen if seen.count(n) > 1}):
        problems.append(f"{where}: the name '{name}' is used twice; rule names must be unique")
    return rules, problems


def _rule(item: Any, where: str, services: list[str], problems: list[str]) -> Rule | None:
    if not isinstance(item, Mapping):
        problems.append(f"{where}: expected a table with at least name and kind")
        return None
    before = len(problems)
    kinds = [k.value for k in RuleKind]
    r = FieldReader(item, where, problems)
    kind_word = r.choice("kind", kinds, "")
    if not kind_word:
        return None
    kind = RuleKind(kind_word)
    allowed = COMMON_KEYS | KIND_KEYS[kind]
    for key in sorted(set(item) - allowed):
        problems.append(f"{where}: unknown key '{key}'{did_you_mean(key, allowed)} for a "
                        f"{kind.value} rule; known keys are {', '.join(sorted(allowed))}")
    severities = [s.name.lower() for s in Severity]
    common: dict[str, Any] = {
        "name": r.text("name", required=True),
        "severity": Severity[r.choice("severity", severities, "warning").upper()],
        "for_s": r.number("for_s", 0.0),
        "keep_firing_for_s": r.number("keep_firing_for_s", 10.0),
        "labels": r.labels(),
        "runbook_url": r.url("runbook_url"),
        "description": r.text("description"),
        "route": r.text("route", "default"),
        "services": r.names("services", services),
    }
    rule = _specific(kind, r, services, common)
    return rule if len(problems) == before else None


def _specific(kind: RuleKind, r: FieldReader, services: list[str], common: dict[str, Any]) -> Rule:
    # no hint for operators: by spelling, '=>' is closest to '>', not the '>=' that was meant
    if kind is RuleKind.THRESHOLD:
        return ThresholdRule(
            series=r.series(services), operator=r.choice("operator", OPERATORS, ">", suggest=False),
            value=r.number("value", 0.0, minimum=float("-inf"), required=True) or 0.0,
            clear_value=r.number("clear_value", minimum=float("-inf")), **common)
    if kind is RuleKind.STATUS:
        statuses = r.names("statuses", STATUS_WORDS) if "statuses" in r.raw else ("down",)
        if not statuses:
            r.bad("statuses", 'choose at least one of "down", "degraded", "unknown"')
        return StatusRule(statuses=statuses, **common)
    if kind is RuleKind.ABSENCE:
        return AbsenceRule(series=r.series(services), after_s=r.number("after_s", 60.0) or 0.0,
                           **common)
    if kind is RuleKind.RATE_LIMIT:
        share = r.number("min_share", 0.1, maximum=1.0) or 0.0
        return RateLimitRule(min_share=share, check_pace=r.flag("check_pace", True), **common)
    if kind is RuleKind.ANOMALY:
        return AnomalyRule(series=r.series(services), min_score=r.number("min_score", 0.5) or 0.0,
                           **common)
    return ForecastRule(series=r.series(services), within_s=r.number("within_s", 3600.0) or 0.0,
                        **common)
