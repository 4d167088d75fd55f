"""The model as the collectors measure it, so that backfilled history looks like live ticks.

The live collectors do not read the model's numbers: they measure the demo servers over HTTP.
Three things make what they record differ from the modelled values, and the backfill applies
each of them (see ``bench/check_backfill_match.py`` for how far apart they were):

- Prometheus counters are exported floored, and rates and quantiles come from the increase
  between two scrapes: at a short tick a worker finishes zero or one task, so its p95 is the
  interpolation inside one bucket (3.9 s), never the log-normal's smooth 4.8 s.
- ``error_rate`` is the 5xx share of the requests counted over the collector's trailing
  window (60 s), not of one tick's.
- A provider's ``success_rate`` is the share of its last 60 probes that got a 2xx, mostly
  exactly 100, not the modelled 99.6.
- A round trip measured from this process costs more than the servers' modelled hold (the
  client, the server thread and their share of the GIL), and a scrape takes what it takes:
  :func:`measure_observation` measures both on the running fleet with the real collectors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from tamma_dash.collectors.promwindow import ERROR_WINDOW_S
from tamma_dash.demo import noise
from tamma_dash.demo.context import Arr, FleetState
from tamma_dash.demo.counters import HISTOGRAMS, tick_increments
from tamma_dash.demo.servers import _NORMAL_DELAY_SHARE, DemoFleet
from tamma_dash.demo.topology import EXTERNAL_NAMES, FLEET_NAMES, HTTP_SERVING
from tamma_dash.models import M, series_key

SUCCESS_WINDOW = 60  # probes: the ProviderCollector's default window
QUANTILES = ((0.5, "p50"), (0.95, "p95"), (0.99, "p99"))
SCRAPE_DURATION = "scrape_duration_ms"
ALWAYS_ZERO = ("health_invalid_values", "scrape_series_dropped")  # healthy demo answers
_HIST_SERIES = {
    "http": (M.API_P50, M.API_P95, M.API_P99),
    "query": (M.DB_QUERY_P50, M.DB_QUERY_P95, M.DB_QUERY_P99),
    "task": tuple(f"tamma_task_duration_{tag}_ms" for _, tag in QUANTILES),
}
_COUNTER_RATES = {"tasks_completed": "tamma_tasks_completed_rate",
                  "tasks_failed": "tamma_tasks_failed_rate",
                  "worker_tasks": "tamma_worker_tasks_rate"}


@dataclass(frozen=True)
class ObservationCost:
    """What observing the demo from this process adds or takes, in milliseconds.

    ``round_trip_ms``: measured minus modelled round trips of health checks and probes;
    ``scrape_ms``: measured ``/metrics`` scrape durations. Each backfilled tick draws one of them.
    """

    round_trip_ms: tuple[float, ...]
    scrape_ms: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.round_trip_ms or not self.scrape_ms:
            raise ValueError("ObservationCost needs at least one round trip and one scrape "
                             "figure; use NOMINAL_COST when nothing was measured")


# Without a running fleet to measure (a model-only backfill): a quiet loopback's figures.
NOMINAL_COST = ObservationCost(round_trip_ms=(3.0,), scrape_ms=(8.0,))


@dataclass(frozen=True)
class Observation:
    """How the collectors see the model at ticks ``ts``: one scrape and one probe per tick."""

    ts: Arr
    interval_s: float
    seed: int
    cost: ObservationCost = NOMINAL_COST
    hold_cap_ms: float = float("inf")  # a healthy demo answer is held at most this long


def hold_cap_ms(interval_s: float) -> float:
    """The longest a demo server holds a healthy answer at the live tick ``interval_s``."""
    return 1000.0 * _NORMAL_DELAY_SHARE * interval_s


def histogram_quantile(q: float, buckets: Arr, count: Arr, bounds: Sequence[float]) -> Arr:
    """Prometheus' ``histogram_quantile`` per row: cumulative finite ``buckets`` (n, B), the
    +Inf ``count`` (n,); NaN where there was no observation (as the collector emits none)."""
    cum = np.maximum.accumulate(np.column_stack([buckets, count]), axis=1)
    total = cum[:, -1]
    rank = q * total
    finite = cum[:, :-1]
    reached = finite >= rank[:, None]
    b = np.where(reached.any(axis=1), reached.argmax(axis=1), finite.shape[1])
    edges = np.asarray(bounds, dtype=np.float64)
    in_inf = b >= finite.shape[1]
    bi = np.minimum(b, finite.shape[1] - 1)
    rows = np.arange(len(b))
    start = np.where(bi > 0, edges[np.maximum(bi - 1, 0)], 0.0)
    below = np.where(bi > 0, finite[rows, np.maximum(bi - 1, 0)], 0.0)
    width = finite[rows, bi] - below
    with np.errstate(invalid="ignore", divide="ignore"):
        inside = start + (edges[bi] - start) * np.where(width > 0, (rank - below) / width, 1.0)
    value = np.where(in_inf, edges[-1], inside)
    return np.where(total > 0, value, np.nan)


def _increase(cumulative: Arr) -> Arr:
    """Per-tick increase of a floored running total (first tick: no previous scrape, NaN)."""
    floored = np.floor(cumulative)
    out = np.diff(floored, axis=0, prepend=np.nan * floored[:1])
    return np.asarray(out, dtype=np.float64)


def trailing_sum(values: Arr, rows: int) -> Arr:
    """Sum of each row and the ``rows - 1`` before it (fewer at the start); NaN counts 0."""
    csum = np.cumsum(np.nan_to_num(values), axis=0)
    before = np.concatenate([np.zeros((rows, *csum.shape[1:])), csum])[: len(csum)]
    return np.asarray(csum - before, dtype=np.float64)


def window_rows(window_s: float, interval_s: float) -> int:
    """Ticks in the collector's trailing window: those whose midpoint lies inside it."""
    return max(1, math.ceil(window_s / interval_s - 0.5))


def scraped_columns(
    state: FleetState, interval_s: float, error_window_s: float = ERROR_WINDOW_S
) -> dict[str, Arr]:
    """Rates and quantiles as the Prometheus collector derives them from two scrapes."""
    rows = window_rows(error_window_s, interval_s)
    out: dict[str, Arr] = {}
    for name, inc in tick_increments(state, interval_s).items():
        scraped = np.asarray(state[name]["up"]) > 0
        got = {k: _increase(np.cumsum(v, axis=0)) for k, v in inc.items()}
        cols: dict[str, Arr] = {}
        if name in HTTP_SERVING:
            errors = got["requests:500"] + got["requests:503"]
            total = got["requests:200"] + got["requests:404"] + errors
            cols[M.REQUEST_RATE] = total / interval_s
            errors_w, total_w = trailing_sum(errors, rows), trailing_sum(total, rows)
            with np.errstate(invalid="ignore", divide="ignore"):
                share = np.where(total_w > 0, 100.0 * errors_w / total_w, 0.0)
            cols[M.ERROR_RATE] = np.where(np.isnan(total), np.nan, share)
        for counter, metric in _COUNTER_RATES.items():
            if counter in got:
                cols[metric] = got[counter] / interval_s
        for kind, metrics in _HIST_SERIES.items():
            if f"{kind}_buckets" in got:
                bounds = HISTOGRAMS[kind].buckets
                for (q, _), metric in zip(QUANTILES, metrics, strict=True):
                    cols[metric] = 1000.0 * histogram_quantile(
                        q, got[f"{kind}_buckets"], got[f"{kind}_count"], bounds)
        for metric, values in cols.items():
            out[series_key(name, metric)] = np.where(scraped, values, np.nan)
    return out


def rolling_success(ok: Arr, window: int = SUCCESS_WINDOW) -> Arr:
    """Percent of the last ``window`` probes (fewer at the start) that succeeded."""
    hits = np.cumsum(np.asarray(ok, dtype=np.float64))
    n = np.arange(1, len(hits) + 1, dtype=np.float64)
    before = np.concatenate([np.zeros(window), hits])[: len(hits)]
    return 100.0 * (hits - before) / np.minimum(n, window)


def probe_success(state: FleetState, service: str) -> Arr:
    """Whether each tick's probe got a 2xx: up, not throttled, and not drawn as an error."""
    st = state[service]
    ok = (np.asarray(st["up"]) > 0) & (np.nan_to_num(st["throttled"]) == 0)
    return ok & ~(np.nan_to_num(st["probe_draw"], nan=0.0) < np.nan_to_num(st["error_share"]))


def _draw(seen: Observation, service: str, what: str, figures: Sequence[float]) -> Arr:
    """One of the measured ``figures`` per tick, picked by the demo's deterministic noise."""
    ticks = np.round(np.asarray(seen.ts) / seen.interval_s).astype(np.int64)
    u = noise.uniform(seen.seed, service, f"observe:{what}", ticks)
    pool = np.sort(np.asarray(figures, dtype=np.float64))
    return pool[np.minimum((u * len(pool)).astype(np.int64), len(pool) - 1)]


def round_trip_ms(state: FleetState, service: str, seen: Observation) -> Arr:
    """The health or probe round trip as measured: the served hold plus observing's cost."""
    st = state[service]
    modelled = np.asarray(st["response_time_ms"], dtype=np.float64)
    held = np.where(np.asarray(st["slowed"]) > 0, modelled, np.minimum(modelled, seen.hold_cap_ms))
    return held + _draw(seen, service, "rt", seen.cost.round_trip_ms)


def observed_columns(state: FleetState, seen: Observation) -> dict[str, Arr]:
    """Every series whose measured value differs from the model's, as measured."""
    out = scraped_columns(state, seen.interval_s)
    for name in (*FLEET_NAMES, *EXTERNAL_NAMES):
        up = np.asarray(state[name]["up"]) > 0
        out[series_key(name, M.RESPONSE_TIME_MS)] = np.where(
            up, round_trip_ms(state, name, seen), np.nan)
    for name in FLEET_NAMES:
        up = np.asarray(state[name]["up"]) > 0
        out[series_key(name, SCRAPE_DURATION)] = np.where(
            up, _draw(seen, name, "scrape", seen.cost.scrape_ms), np.nan)
    for name in EXTERNAL_NAMES:
        out[series_key(name, M.SUCCESS_RATE)] = rolling_success(probe_success(state, name))
    return out


def measure_observation(fleet: DemoFleet, rounds: int = 6) -> ObservationCost:
    """Run the real collectors against the running ``fleet`` for a few rounds, as a tick does
    (all at once), and keep what observing added to each round trip and each scrape's time."""
    from tamma_dash.collectors.health import HealthCheckCollector
    from tamma_dash.collectors.http import direct_session
    from tamma_dash.collectors.prometheus import PrometheusCollector
    from tamma_dash.collectors.providers import ProviderCollector

    services = fleet.services_config()
    names = [s.name for s in services]
    cap = hold_cap_ms(fleet.model.interval_s)
    session = direct_session()
    collectors: list[HealthCheckCollector | PrometheusCollector | ProviderCollector] = [
        HealthCheckCollector(services, session=session),
        PrometheusCollector(services, session=session), ProviderCollector(services)]
    trips: list[float] = []
    scrapes: list[float] = []
    try:
        with ThreadPoolExecutor(len(collectors), thread_name_prefix="demo-observe") as pool:
            for i in range(rounds + 1):
                modelled = {n: float(fleet.state_now(n)["response_time_ms"][0]) for n in names}
                futures = [pool.submit(c.collect) for c in collectors]
                samples = [s for f in futures for s in f.result()]
                if i == 0:
                    continue  # the first round also opens pools and warms caches
                for s in samples:
                    if s.metric == M.RESPONSE_TIME_MS and s.service in modelled:
                        trips.append(s.value - min(modelled[s.service], cap))
                    elif s.metric == SCRAPE_DURATION:
                        scrapes.append(s.value)
    finally:
        for c in collectors:
            c.close()
        session.close()
    return ObservationCost(tuple(trips) or NOMINAL_COST.round_trip_ms,
                           tuple(scrapes) or NOMINAL_COST.scrape_ms)


def zero_columns(state: FleetState) -> dict[str, Arr]:
    """Counts of invalid health values and dropped scrape series: 0 while a service answers."""
    out: dict[str, Arr] = {}
    for name in FLEET_NAMES:
        zero = np.where(np.asarray(state[name]["up"]) > 0, 0.0, np.nan)
        out.update({series_key(name, metric): zero for metric in ALWAYS_ZERO})
    return out

