"""Root-cause hints: unhealthy or anomalous services ranked by dependencies and onset, in words.

"api degraded; likely cause: database pool exhausted, since 14:02:10". Onsets come from when a
service turned unhealthy (tracked by :class:`OnsetTracker`) or from the start of its open
anomaly event, whichever is earlier.

When several services that do not depend on one another turn unusual at the same moment (three
or more roots of the ranking within ``together_s``), no one of them explains the rest: what they
share does, the machine that probes them or its network (a stalled collector, a saturated host,
a broken egress). The hint then says so instead of naming whichever root sorts first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tamma_dash.analytics.events import AnomalyEvent
from tamma_dash.analytics.rootcause import rank_causes, upstream

# what a metric going wrong means, for the cause's half of the sentence
PHRASES = {
    "db_pool_waiting": "pool exhausted", "db_pool_active": "pool exhausted",
    "db_pool_idle": "pool exhausted", "check:database:connections": "pool exhausted",
    "error_rate": "errors", "response_time_ms": "slow", "response_time_p95_ms": "slow",
    "response_time_p99_ms": "slow", "response_time_p50_ms": "slow", "queue_depth": "backlog",
    "ratelimit_remaining": "rate limit nearly spent", "up": "not answering",
    "memory_percent": "memory high", "cpu_percent": "CPU high", "disk_percent": "disk filling",
    "success_rate": "failing requests", "db_query_p95_ms": "slow queries",
}
SHARED_CAUSE = "host"  # the series prefix of the machine tamma-dash runs on (host/cpu_percent)
MIN_TOGETHER = 3  # independent services turning unusual at once that point at what they share


@dataclass(frozen=True)
class RootCauseHint:
    """Who is affected, the likeliest cause, why, and since when."""

    cause: str
    problem: str
    since: float
    affected: tuple[tuple[str, str], ...]  # (service, status word or "anomalous")
    ranking: tuple[tuple[str, str], ...]  # (service, reason), likeliest first
    together: tuple[str, ...] = ()  # independent services that turned unusual at once; then
    # ``problem`` names the direct dependencies they all share (none of them unusual), if any

    def text(self) -> str:
        """'api degraded; likely cause: database pool exhausted, since 14:02:10' (UTC)."""
        when = datetime.fromtimestamp(self.since, tz=UTC).strftime("%H:%M:%S")
        if self.together:
            more = len(self.affected)
            also = f" (and {more} more)" if more else ""
            itself = "themselves" if "," in self.problem else "itself"
            common = f"{self.problem} (not unusual {itself}), " if self.problem else ""
            return (f"{', '.join(self.together)} turned unusual at the same moment{also}, "
                    "with no dependency between them; likely cause: something they share, "
                    f"{common}this host or its network, since {when}")
        victims = ", ".join(f"{s} {w}" for s, w in self.affected) or f"{self.cause} unusual"
        return f"{victims}; likely cause: {self.cause} {self.problem}, since {when}"

    def as_dict(self) -> dict[str, Any]:
        return {"cause": self.cause, "problem": self.problem, "since": self.since,
                "affected": [list(a) for a in self.affected],
                "ranking": [list(r) for r in self.ranking], "together": list(self.together),
                "text": self.text()}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RootCauseHint:
        return cls(str(raw["cause"]), str(raw["problem"]), float(raw["since"]),
                   tuple((str(a), str(b)) for a, b in raw.get("affected", ())),
                   tuple((str(a), str(b)) for a, b in raw.get("ranking", ())),
                   tuple(str(s) for s in raw.get("together", ())))


@dataclass
class OnsetTracker:
    """Remembers when each service last turned from healthy to something else."""

    _since: dict[str, float] = field(default_factory=dict)

    def update(self, statuses: Mapping[str, str], now: float) -> dict[str, float]:
        """Feed the current status words; returns onsets of the services unhealthy now."""
        for service, word in statuses.items():
            if word in ("degraded", "down"):
                self._since.setdefault(service, now)
            else:
                self._since.pop(service, None)
        return dict(self._since)


def problem_of(service: str, status: str, reasons: Sequence[str],
               event: AnomalyEvent | None) -> str:
    """A few words for what is wrong with ``service``."""
    metric = event.drivers[0].metric if event is not None and event.drivers else ""
    if metric in PHRASES:
        return PHRASES[metric]
    for reason in reasons:
        for name, phrase in PHRASES.items():
            if reason.startswith(name):
                return phrase
    if status in ("down", "degraded"):
        return status
    return f"unusual {metric}" if metric else "unusual"


def root_cause_hint(
    depends_on: Mapping[str, Sequence[str]], statuses: Mapping[str, str],
    reasons: Mapping[str, Sequence[str]], unhealthy_since: Mapping[str, float],
    open_events: Mapping[str, AnomalyEvent], *, together_s: float = 0.0,
) -> RootCauseHint | None:
    """The hint when two or more services are unusual: the one that explains those that depend
    on it, or what they share when independent ones turned unusual within ``together_s``; None
    when fewer are unusual or no one of them explains another."""
    onsets = dict(unhealthy_since)
    for service, event in open_events.items():
        onsets[service] = min(onsets.get(service, event.start), event.start)
    if len(onsets) < 2:
        return None
    ranking = rank_causes(depends_on, onsets,
                          down={s for s, word in statuses.items() if word == "down"})
    together = _together(ranking, onsets, together_s)
    if together:
        rest = tuple((s, _word(statuses, s)) for s, _ in ranking if s not in together)
        common = set.intersection(*(set(depends_on.get(s, ())) for s in together)) - onsets.keys()
        return RootCauseHint(SHARED_CAUSE, ", ".join(sorted(common)),
                             min(onsets[s] for s in together), rest, tuple(ranking), together)
    cause = ranking[0][0]
    downstream = [s for s, _ in ranking[1:] if cause in upstream(depends_on, s)]
    if not downstream:  # unrelated troubles: naming one the cause of the others would mislead
        return None
    affected = tuple((s, _word(statuses, s)) for s in downstream)
    problem = problem_of(cause, statuses.get(cause, ""), reasons.get(cause, ()),
                         open_events.get(cause))
    return RootCauseHint(cause, problem, onsets[cause], affected, tuple(ranking))


def _word(statuses: Mapping[str, str], service: str) -> str:
    word = statuses.get(service, "")
    return word if word in ("degraded", "down") else "anomalous"


def _together(ranking: Sequence[tuple[str, str]], onsets: Mapping[str, float],
              together_s: float) -> tuple[str, ...]:
    """The ranking's roots (nothing unusual upstream explains them) that turned unusual within
    ``together_s`` of the first root, when there are at least ``MIN_TOGETHER`` of them."""
    roots = [s for s, why in ranking if not why.startswith("depends on")]
    first = min(onsets[s] for s in roots)
    together = tuple(s for s in roots if onsets[s] <= first + together_s)
    return together if len(together) >= MIN_TOGETHER else ()
