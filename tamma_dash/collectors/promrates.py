"""Counters as per-second rates and histograms as quantiles, from two scrapes of one target.

``MetricsInterpreter`` is the pure core of the Prometheus collector: fed ``(ts, text)`` it
returns samples and remembers what it needs from this scrape to derive the next one.

Rules (documented here because the dashboard depends on them):

* Rates and quantiles need the previous scrape of the same family. A series that is new while
  its family was there before counts from zero (a labelled counter appears on its first event).
* A counter reset (value below the previous one) counts the new value as the increase since the
  reset, as Prometheus does; for a histogram, one bucket going down (or a changed set of
  buckets) resets all its buckets.
* If the clock did not move forward since the previous scrape (stepped back, or zero elapsed),
  that tick yields no rates and no quantiles; its values become the new baseline.
* NaN and infinite values are dropped, as are negative counter and bucket values (the last
  good reading stays the baseline, so a glitch is not a reset); negative gauges are kept.
* A text that does not parse yields only ``scrape_ok=0`` (reason parse_error) and leaves the
  remembered scrape untouched, so the next good scrape rates over the longer gap.
* ``request_rate`` is per scrape (requests since the previous one per second: a throughput
  chart that shows a drop at once). ``error_rate`` is the percent 5xx of the requests counted
  over the trailing ``window_s`` (60 s: PromQL's ``sum(rate(5xx[1m])) / sum(rate(all[1m]))``),
  0 without requests; per scrape, one background error among a quiet target's few dozen
  requests read as 2-5 % and tripped the status and alert thresholds. A fresh interpreter's
  window holds only the scrapes it has seen.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tamma_dash.collectors.promparse import (
    COUNTER,
    HISTOGRAM,
    SUMMARY,
    ParseError,
    RawFamily,
    Series,
    SeriesParser,
    split_families,
)
from tamma_dash.collectors.promwindow import ERROR_WINDOW_S, Increase, TrailingRatio
from tamma_dash.models import M, Sample, make_labels

SERIES_DROPPED = "scrape_series_dropped"
WORKER_BUSY = "worker_busy"
PARSE_ERROR = "parse_error"
QUANTILES: tuple[tuple[float, str], ...] = ((0.5, "p50"), (0.95, "p95"), (0.99, "p99"))

# Tamma's families and the canonical metrics they map to (anything else keeps its own name).
GAUGE_MAP = {  # gauges summed over their label sets
    "tamma_queue_depth": M.QUEUE_DEPTH,
    "tamma_workers_active": M.ACTIVE_WORKERS,
    "tamma_workers_total": M.WORKERS_TOTAL,
    "tamma_worker_busy": WORKER_BUSY,
    "tamma_db_pool_max": M.DB_MAX,
}
POOL_FAMILY = "tamma_db_pool_connections"  # {state=active|idle|waiting}
POOL_STATES = {"active": M.DB_ACTIVE, "idle": M.DB_IDLE, "waiting": M.DB_WAITING}
REQUEST_FAMILIES = frozenset({"tamma_http_requests_total", "tamma_http_requests"})  # {code}
HISTOGRAM_MAP = {  # seconds -> p50/p95/p99 in ms, over every label set together
    "tamma_http_request_duration_seconds": (M.API_P50, M.API_P95, M.API_P99),
    "tamma_db_query_duration_seconds": (M.DB_QUERY_P50, M.DB_QUERY_P95, M.DB_QUERY_P99),
}
TAMMA_FAMILIES = frozenset({*GAUGE_MAP, POOL_FAMILY, *REQUEST_FAMILIES, *HISTOGRAM_MAP})

Parsed = list[tuple[Series, float]]
Buckets = dict[str, float]  # le label text -> cumulative count


def increase(previous: float | None, current: float) -> float:
    """Counter increase between two readings; a reset counts the new value from zero."""
    if previous is None or current < previous:
        return current
    return current - previous


def bucket_increase(previous: Buckets | None, current: Buckets) -> Buckets:
    """Per-bucket increase of one histogram; any bucket going down (or a new layout) resets."""
    if previous is None or previous.keys() != current.keys():
        return dict(current)
    if any(current[le] < previous[le] for le in current):
        return dict(current)
    return {le: current[le] - previous[le] for le in current}


def histogram_quantile(q: float, buckets: Buckets) -> float | None:
    """Prometheus' ``histogram_quantile`` over cumulative buckets; None when undefined.

    Linear interpolation inside the bucket holding the rank; a rank in the +Inf bucket gives the
    highest finite bound; no observations, no +Inf bucket or no finite bucket gives None.
    """
    if not 0.0 < q <= 1.0:
        raise ValueError(f"quantile {q} is outside (0, 1]")
    try:
        bounds = sorted((float(le), count) for le, count in buckets.items())
    except ValueError:
        return None
    if len(bounds) < 2 or bounds[-1][0] != math.inf:
        return None
    counts: list[float] = []
    for _, count in bounds:  # counts must not decrease with the bound (as Prometheus enforces)
        counts.append(max(count, counts[-1]) if counts else count)
    total = counts[-1]
    if total <= 0:
        return None
    rank = q * total
    b = next((i for i, c in enumerate(counts[:-1]) if c >= rank), len(counts) - 1)
    if b == len(counts) - 1:
        return bounds[-2][0]
    if b == 0 and bounds[0][0] <= 0:
        return bounds[0][0]
    start = 0.0 if b == 0 else bounds[b - 1][0]
    below = 0.0 if b == 0 else counts[b - 1]
    return start + (bounds[b][0] - start) * ((rank - below) / (counts[b] - below))


@dataclass(slots=True)
class _Scrape:
    """What one scrape leaves behind for the next: the raw counter and bucket readings."""

    ts: float
    families: set[str] = field(default_factory=set)
    counters: dict[tuple[str, str], float] = field(default_factory=dict)
    buckets: dict[tuple[str, str], Buckets] = field(default_factory=dict)


class MetricsInterpreter:
    """Turns successive /metrics texts of one target into samples for ``service``."""

    def __init__(
        self, service: str, *, max_series: int = 500, window_s: float = ERROR_WINDOW_S
    ) -> None:
        self.service = service
        self.max_series = max_series
        self._errors = {f: TrailingRatio(window_s) for f in REQUEST_FAMILIES}  # 5xx share
        self._parser = SeriesParser()
        self._prev: _Scrape | None = None
        self._now = _Scrape(0.0)
        self._base: _Scrape | None = None  # previous scrape when rates may be derived
        self._dt = 0.0
        self._ts = 0.0

    def interpret(self, ts: float, text: str) -> list[Sample]:
        """Samples for one scrape taken at ``ts``: scrape_ok, mapped and generic series."""
        try:
            families, dropped = self._admit(text)
        except ParseError as exc:
            labels = make_labels(reason=PARSE_ERROR, detail=str(exc)[:200])
            return [Sample(ts, self.service, M.SCRAPE_OK, 0.0, labels)]
        prev = self._prev
        self._ts = ts
        if prev is not None and ts > prev.ts:
            self._base, self._dt = prev, ts - prev.ts
        else:  # first scrape, or the clock did not move forward: nothing to derive
            self._base, self._dt = None, 0.0
        self._now = _Scrape(ts)
        out = [self._sample(M.SCRAPE_OK, 1.0), self._sample(SERIES_DROPPED, float(dropped))]
        for raw, parsed in families:
            self._now.families.add(raw.name)
            self._emit(raw, parsed, out)
        self._prev = self._now
        return out

    def _admit(self, text: str) -> tuple[list[tuple[RawFamily, Parsed]], int]:
        """Parse Tamma's families and as many whole others as fit in ``max_series``."""
        budget, dropped = self.max_series, 0
        admitted: list[tuple[RawFamily, Parsed]] = []
        for raw in split_families(text):
            if raw.name not in TAMMA_FAMILIES:
                cost = _cost(raw)
                if cost > budget:
                    dropped += cost
                    continue
                budget -= cost
            admitted.append((raw, self._parser.parse(raw)))
        return admitted, dropped

    def _emit(self, raw: RawFamily, parsed: Parsed, out: list[Sample]) -> None:
        name = raw.name
        if name in GAUGE_MAP:
            self._sum_gauge(GAUGE_MAP[name], (v for _, v in parsed), out)
        elif name == POOL_FAMILY:
            self._pool(parsed, out)
        elif name in REQUEST_FAMILIES:
            self._requests(name, parsed, out)
        elif name in HISTOGRAM_MAP:
            self._mapped_histogram(name, HISTOGRAM_MAP[name], parsed, out)
        elif raw.type == COUNTER:
            self._counters(name, parsed, out)
        elif raw.type == HISTOGRAM:
            self._histograms(name, parsed, out)
        elif raw.type == SUMMARY:
            out.extend(self._sample(s.name + s.text, v) for s, v in parsed
                       if s.name == name and math.isfinite(v))
        else:
            out.extend(self._sample(s.name + s.text, v) for s, v in parsed if math.isfinite(v))

    def _sample(self, metric: str, value: float) -> Sample:
        return Sample(self._ts, self.service, metric, value)

    def _sum_gauge(self, metric: str, values: Iterable[float], out: list[Sample]) -> None:
        finite = [v for v in values if math.isfinite(v)]
        if finite:
            out.append(self._sample(metric, math.fsum(finite)))

    def _pool(self, parsed: Parsed, out: list[Sample]) -> None:
        by_state: dict[str, list[float]] = {}
        for series, value in parsed:
            state = dict(series.labels).get("state", "")
            if state in POOL_STATES:
                by_state.setdefault(state, []).append(value)
            elif math.isfinite(value):
                out.append(self._sample(series.name + series.text, value))
        for state, values in by_state.items():
            self._sum_gauge(POOL_STATES[state], values, out)

    def _increase(self, family: str, series: Series, value: float) -> float | None:
        """Remember a counter reading; its increase when the previous scrape allows one."""
        key = (series.name, series.text)
        if not 0.0 <= value < math.inf:  # unusable: keep the last good reading as the baseline
            if self._prev is not None and key in self._prev.counters:
                self._now.counters[key] = self._prev.counters[key]
            return None
        self._now.counters[key] = value
        base = self._base
        if base is None or family not in base.families:
            return None
        return increase(base.counters.get(key), value)

    def _counters(self, family: str, parsed: Parsed, out: list[Sample]) -> None:
        for series, value in parsed:
            inc = self._increase(family, series, value)
            if inc is not None:
                metric = series.name.removesuffix("_total") + "_rate" + series.text
                out.append(self._sample(metric, inc / self._dt))

    def _requests(self, family: str, parsed: Parsed, out: list[Sample]) -> None:
        total = errors = 0.0
        for series, value in parsed:
            inc = self._increase(family, series, value)
            if inc is None:
                continue
            total += inc
            if dict(series.labels).get("code", "").startswith("5"):
                errors += inc
        base = self._base
        if base is not None and family in base.families:
            out.append(self._sample(M.REQUEST_RATE, total / self._dt))
            share = self._errors[family].add(Increase(base.ts, self._ts, errors, total))
            out.append(self._sample(M.ERROR_RATE, share))

    def _bucket_increases(self, family: str, parsed: Parsed) -> dict[str, Buckets]:
        """Remember each histogram's buckets; their increases keyed by the histogram's labels."""
        current: dict[str, Buckets] = {}
        bad: set[str] = set()
        bucket_name = family + "_bucket"
        for series, value in parsed:
            if series.name == bucket_name:
                if not 0.0 <= value < math.inf:
                    bad.add(series.group_text)
                current.setdefault(series.group_text, {})[series.le] = value
        base = self._base
        derive = base is not None and family in base.families
        increases: dict[str, Buckets] = {}
        for group, buckets in current.items():
            if group in bad:  # unusable: keep the last good reading as the baseline
                if self._prev is not None and (family, group) in self._prev.buckets:
                    self._now.buckets[(family, group)] = self._prev.buckets[(family, group)]
                continue
            self._now.buckets[(family, group)] = buckets
            if derive and base is not None:
                increases[group] = bucket_increase(base.buckets.get((family, group)), buckets)
        return increases

    def _mapped_histogram(
        self, family: str, metrics: Sequence[str], parsed: Parsed, out: list[Sample]
    ) -> None:
        summed: Buckets = {}
        for buckets in self._bucket_increases(family, parsed).values():
            for le, count in buckets.items():
                summed[le] = summed.get(le, 0.0) + count
        for (q, _), metric in zip(QUANTILES, metrics, strict=True):
            value = histogram_quantile(q, summed)
            if value is not None:
                out.append(self._sample(metric, value * 1000.0))

    def _histograms(self, family: str, parsed: Parsed, out: list[Sample]) -> None:
        seconds = family.endswith("_seconds")
        stem = family.removesuffix("_seconds")
        for group, buckets in self._bucket_increases(family, parsed).items():
            for q, tag in QUANTILES:
                value = histogram_quantile(q, buckets)
                if value is not None:
                    metric = f"{stem}_{tag}_ms{group}" if seconds else f"{family}_{tag}{group}"
                    out.append(self._sample(metric, value * 1000.0 if seconds else value))


def _cost(raw: RawFamily) -> int:
    """How many series a family would add: the unit of ``max_series``."""
    if raw.type == HISTOGRAM:
        return len(QUANTILES) * sum(1 for _, n, _ in raw.lines if n.endswith("_count"))
    if raw.type == SUMMARY:
        return sum(1 for _, n, _ in raw.lines if n == raw.name)
    return len(raw.lines)
