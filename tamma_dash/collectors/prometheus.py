"""Scrapes each service's Prometheus /metrics endpoint and maps what it says onto Tamma's metrics.

Every scrape yields ``scrape_ok`` (1, or 0 with labels ``reason`` / ``detail``) and
``scrape_duration_ms`` (fetch plus parse). What a successful text becomes is decided by
:class:`~tamma_dash.collectors.promrates.MetricsInterpreter`, one per target:

* Tamma's families map to canonical names: ``tamma_queue_depth`` -> ``queue_depth``,
  ``tamma_workers_active`` -> ``active_workers``, ``tamma_workers_total`` -> ``workers_total``,
  ``tamma_worker_busy`` -> ``worker_busy``, ``tamma_db_pool_connections{state}`` ->
  ``db_pool_active|idle|waiting``, ``tamma_db_pool_max`` -> ``db_pool_max`` (each summed over
  its label sets); ``tamma_http_requests_total{code}`` -> ``request_rate`` (per second since
  the previous scrape) and ``error_rate`` (percent 5xx of the requests over the last
  ``error_window_s``, 60 s by default, 0 without requests); the request and DB query duration
  histograms -> ``response_time_p50_ms``... and ``db_query_p50_ms``... over all label sets.
* Other gauges and untyped series keep their name with labels folded in, sorted:
  ``name{a="x",b="y"}``. Other counters become ``<name without _total>_rate{...}`` per second.
  Other histograms become ``<name without _seconds>_p50_ms{...}`` (and p95, p99) when in
  seconds, else ``<name>_p50{...}``, one set per label set. Summaries contribute their quantile
  samples as ``<name>{quantile="0.5"}``; histogram and summary ``_sum`` / ``_count`` are not
  kept, nor are the ``_created`` timestamps.
* Non-Tamma families are admitted whole, in exposition order, while they fit in
  ``max_series_per_target`` output series; the rest are skipped unparsed and counted in
  ``scrape_series_dropped`` (so ``process_*`` stays unless a target floods the store).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import requests

from tamma_dash.collectors.http import Timer, direct_session, fetch
from tamma_dash.collectors.promrates import PARSE_ERROR, MetricsInterpreter
from tamma_dash.collectors.promwindow import ERROR_WINDOW_S
from tamma_dash.config import ServiceConfig
from tamma_dash.models import Clock, M, Sample, make_labels

SCRAPE_DURATION_MS = "scrape_duration_ms"
HTTP_STATUS = "http_status"  # reason when /metrics answered with a status other than 200
# Ask for the classic text format: OpenMetrics (exemplars) is not what the parser reads.
ACCEPT = {"Accept": "text/plain;version=0.0.4;q=1.0, */*;q=0.1"}


class PrometheusCollector:
    """Scrapes every service that has a ``metrics_url``, concurrently, once per ``collect``."""

    name = "prometheus"

    def __init__(
        self,
        services: Sequence[ServiceConfig],
        *,
        session: requests.Session | None = None,
        clock: Clock = time.time,
        timer: Timer = time.perf_counter,
        max_series_per_target: int = 500,
        max_workers: int = 8,
        error_window_s: float = ERROR_WINDOW_S,
    ) -> None:
        self._targets = [s for s in services if s.metrics_url]
        self._owns_session = session is None
        self._session = session if session is not None else direct_session()
        self._clock = clock
        self._timer = timer
        self._interpreters = {
            s.name: MetricsInterpreter(
                s.name, max_series=max_series_per_target, window_s=error_window_s)
            for s in self._targets
        }
        workers = max(1, min(max_workers, len(self._targets)))
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prometheus")

    def collect(self) -> list[Sample]:
        """One scrape of every target; failures come back as ``scrape_ok=0`` samples."""
        futures = [self._pool.submit(self.scrape, svc) for svc in self._targets]
        out: list[Sample] = []
        for fut in futures:
            out.extend(fut.result())
        return out

    def scrape(self, svc: ServiceConfig) -> list[Sample]:
        """Fetch and interpret one target's /metrics."""
        start = self._timer()
        url = svc.metrics_url or ""
        res = fetch(self._session, url, timeout_s=svc.timeout_s, max_bytes=svc.max_body_bytes,
                    headers=ACCEPT, timer=self._timer)
        ts = self._clock()
        if res.error is not None:
            samples = [_failed(ts, svc.name, res.error, res.detail)]
        elif res.status_code != 200:
            samples = [_failed(ts, svc.name, HTTP_STATUS, f"HTTP {res.status_code} from /metrics")]
        else:
            try:
                text = res.body.decode("utf-8")
            except UnicodeDecodeError as exc:
                samples = [_failed(ts, svc.name, PARSE_ERROR, f"not UTF-8 text ({exc.reason})")]
            else:
                samples = self._interpreters[svc.name].interpret(ts, text)
        elapsed_ms = (self._timer() - start) * 1000.0
        samples.append(Sample(ts, svc.name, SCRAPE_DURATION_MS, round(elapsed_ms, 3)))
        return samples

    def close(self) -> None:
        """Stop the worker threads and release connections (owned session only)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._owns_session:
            self._session.close()


def _failed(ts: float, service: str, reason: str, detail: str) -> Sample:
    return Sample(ts, service, M.SCRAPE_OK, 0.0, make_labels(reason=reason, detail=detail))
