"""History from a Prometheus-compatible HTTP API (Prometheus, Thanos, Mimir, VictoriaMetrics).

The read side for web-only processes when ``[history] backend = "prometheus"``. Our series
``service/metric`` are the gauge family ``tamma_sample{service, metric}`` that tamma-dash exposes
on ``/metrics`` (api/selfmetrics.py) and Prometheus scrapes. Every query aggregates
``by (service, metric)``, so several scraped tamma-dash processes (or HA Prometheus pairs) count
once. Ranges use ``query_range`` with ``step = max(scrape interval, range / max_points)``: a 24 h
view asks for ~2,000 points, a zoom asks finer; steps wider than a scrape are window means
(``avg_over_time``), like the SQLite store's rollups. Like that store, reads never raise when the
backend fails: they return empty data and ``stats()`` names the problem and the fix. The
``PromClient`` underneath raises ``PrometheusError`` for callers that want the error itself.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import requests

from tamma_dash.collectors.http import direct_session
from tamma_dash.models import Clock, series_key, split_key
from tamma_dash.store.base import Latest, StoreStats
from tamma_dash.store.reads import wide_frame
from tamma_dash.suggest import unknown_keys

log = logging.getLogger(__name__)

SAMPLE_FAMILY = "tamma_sample"  # as exposed by api/selfmetrics.py
DEFAULT_STEP_S = 15.0  # Prometheus' default scrape interval
DEFAULT_TIMEOUT_S = 5.0
MAX_POINTS = 2000
SERIES_LOOKBACK_S = 86400.0
_HISTORY_KEYS = {"backend", "url", "step_s", "timeout_s"}
_RE2_SPECIAL = set("\\.^$*+?()[]{}|-")


class PrometheusError(RuntimeError):
    """Prometheus is unreachable or refused a query; the message says which URL and the fix."""


def public_url(url: str) -> str:
    """``url`` without user and password: safe for logs, pages and exceptions."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


class PromClient:
    """The three read endpoints of the Prometheus HTTP API, with a timeout and clear errors."""

    def __init__(self, url: str, *, session: requests.Session | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self.where = public_url(self.url)
        self.session = session if session is not None else direct_session()
        self.timeout_s = timeout_s

    def query(self, expr: str, at: float) -> list[dict[str, Any]]:
        return self._get("/api/v1/query", {"query": expr, "time": f"{at:.3f}"})  # type: ignore[no-any-return]

    def query_range(self, expr: str, start: float, end: float,
                    step: float) -> list[dict[str, Any]]:
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        return self._get("/api/v1/query_range", params)  # type: ignore[no-any-return]

    def series(self, match: str, start: float, end: float) -> list[dict[str, str]]:
        params = {"match[]": match, "start": f"{start:.3f}", "end": f"{end:.3f}"}
        return self._get("/api/v1/series", params)  # type: ignore[no-any-return]

    def _get(self, path: str, params: Mapping[str, str]) -> Any:
        try:
            resp = self.session.get(self.url + path, params=params, timeout=self.timeout_s)
        except requests.Timeout:
            raise PrometheusError(
                f"Prometheus at {self.where} did not answer within {self.timeout_s:g} s; check "
                "that it is up and not overloaded, or raise history.timeout_s") from None
        except requests.RequestException as exc:
            raise PrometheusError(
                f"Prometheus at {self.where} is unreachable ({type(exc).__name__}); start it, "
                "or fix history.url in the config") from None
        try:
            doc = resp.json()
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or "status" not in doc:
            raise PrometheusError(
                f"{self.where} answered HTTP {resp.status_code} without Prometheus JSON; "
                "history.url must be the server's root, e.g. http://prometheus:9090")
        if doc["status"] != "success":
            error = str(doc.get("error", ""))[:300]
            raise PrometheusError(
                f"Prometheus at {self.where} refused {path} (HTTP {resp.status_code}, "
                f"{doc.get('errorType', 'error')}: {error}); check history.url and its version")
        data = doc.get("data")
        return data.get("result", []) if isinstance(data, dict) else data or []


class PromHistory:
    """A read-only ``HistoryReader`` over Prometheus; ``refresh()`` follows new scrapes."""

    def __init__(self, client: PromClient, *, step_s: float = DEFAULT_STEP_S,
                 max_points: int = MAX_POINTS, clock: Clock = time.time) -> None:
        self.client = client
        self.step_s = step_s
        self.max_points = max_points
        self._clock = clock
        self._error: str | None = None
        self._newest: float | None = None
        self._count = 0

    @classmethod
    def from_settings(cls, history: Mapping[str, Any], *, clock: Clock = time.time,
                      session: requests.Session | None = None) -> PromHistory:
        """From a validated ``[history]`` table (see ``check_history``)."""
        client = PromClient(str(history["url"]), session=session,
                            timeout_s=float(history.get("timeout_s", DEFAULT_TIMEOUT_S)))
        return cls(client, step_s=float(history.get("step_s", DEFAULT_STEP_S)), clock=clock)

    # -- HistoryReader -------------------------------------------------------------------------

    def series(self) -> list[str]:
        now = self._clock()
        found = self._read(lambda: self.client.series(
            SAMPLE_FAMILY, now - SERIES_LOOKBACK_S, now))
        return sorted({series_key(s.get("service", ""), s.get("metric", "")) for s in found})

    def latest(self) -> dict[str, Latest]:
        now = self._clock()
        values = self._read(lambda: self.client.query(_by(SAMPLE_FAMILY), now))
        stamps = self._read(lambda: self.client.query(_newest_expr(), now))
        when = {_key(r): float(r["value"][1]) for r in stamps}
        out: dict[str, Latest] = {}
        for r in values:
            key, value = _key(r), float(r["value"][1])
            if key in when and math.isfinite(value):
                out[key] = Latest(ts=when[key], value=value)
        return out

    def step_for(self, start: float, end: float) -> float:
        """The query step: one scrape, or coarser so the range holds at most ``max_points``."""
        step = max(self.step_s, (end - start) / self.max_points)
        return math.ceil(round(step * 1000, 6)) / 1000

    def frame(self, keys: Sequence[str], start: float, end: float) -> pd.DataFrame:
        """Wide frame on the step grid (aligned to multiples of the step), NaN for gaps."""
        keys = list(dict.fromkeys(keys))
        step = self.step_for(start, end)
        first = math.ceil(start / step) * step
        if not keys or first > end:
            return wide_frame(np.empty(0), np.empty((0, len(keys))), keys)
        expr = self.range_expr(keys, step)
        result = self._read(lambda: self.client.query_range(expr, first, end, step))
        return _wide(result, keys)

    def range_expr(self, keys: Sequence[str], step: float) -> str:
        """PromQL for ``keys``: the raw gauge, or window means when a step spans scrapes."""
        services = sorted({split_key(k)[0] for k in keys})
        metrics = sorted({split_key(k)[1] for k in keys})
        sel = (f"{SAMPLE_FAMILY}{{service=~{_quote(_alternation(services))},"
               f"metric=~{_quote(_alternation(metrics))}}}")
        if step > self.step_s:
            sel = f"avg_over_time({sel}[{round(step * 1000)}ms])"
        return _by(sel)

    def points(self, key: str, start: float, end: float) -> tuple[list[float], list[float]]:
        column = self.frame([key], start, end)[key]
        column = column[column.notna()]
        return [float(t) for t in column.index], [float(v) for v in column.to_numpy()]

    def stats(self) -> StoreStats:
        """What the last ``refresh()`` saw: cheap, no request."""
        return StoreStats(series=self._count, points_in_memory=0, memory_bytes=0, disk_bytes=0,
                          persist_ok=self._error is None, persist_error=self._error,
                          pending_ticks=0, oldest_ts=None, newest_ts=self._newest)

    # -- what the runtime asks of a store ------------------------------------------------------

    def refresh(self) -> int:
        """1 when Prometheus has a scrape newer than the last one seen (a new 'tick'), else 0."""
        stamps = self._read(lambda: self.client.query(_newest_expr(), self._clock()))
        if not stamps:
            return 0
        newest = max(float(r["value"][1]) for r in stamps)
        self._count = len(stamps)
        if self._newest is not None and newest <= self._newest:
            return 0
        self._newest = newest
        return 1

    def is_empty(self) -> bool:
        return self._newest is None

    def close(self) -> None:
        self.client.session.close()

    def _read(self, fetch: Callable[[], list[Any]]) -> list[Any]:
        """What ``fetch`` returns, or [] with the error kept for ``stats()`` (logged once)."""
        try:
            value = fetch()
        except PrometheusError as exc:
            if str(exc) != self._error:
                log.warning("history: %s", exc)
            self._error = str(exc)
            return []
        self._error = None
        return value


def check_history(raw: Any) -> list[str]:
    """Problems in the ``[history]`` config table, each with its fix."""
    if not isinstance(raw, Mapping):
        return ['history: expected a table like [history] backend = "prometheus"']
    problems = unknown_keys(raw, _HISTORY_KEYS, "history")
    backend = raw.get("backend", "sqlite")
    if backend not in ("sqlite", "prometheus"):
        problems.append(f'history.backend: {backend!r} is not "sqlite" or "prometheus"')
    url = raw.get("url")
    if url is None and backend == "prometheus":
        problems.append('history.url: required for the prometheus backend, e.g. '
                        '"http://127.0.0.1:9090"')
    elif url is not None:
        parts = urlsplit(str(url))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append(f"history.url: {public_url(str(url))!r} is not an http(s) URL, "
                            "e.g. http://127.0.0.1:9090")
    for key, top in (("step_s", 3600.0), ("timeout_s", 300.0)):
        value = raw.get(key)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= top
        if key in raw and not ok:
            problems.append(f"history.{key}: expected a number of seconds in (0, {top:g}]")
    return problems


def _by(expr: str) -> str:
    return f"avg by (service, metric) ({expr})"


def _newest_expr() -> str:
    return f"max by (service, metric) (timestamp({SAMPLE_FAMILY}))"


def _key(result: Mapping[str, Any]) -> str:
    labels = result.get("metric", {})
    return series_key(labels.get("service", ""), labels.get("metric", ""))


def _quote(text: str) -> str:
    """A PromQL string literal (Go escapes, which JSON's are a subset of)."""
    return json.dumps(text, ensure_ascii=False)


def _alternation(names: Sequence[str]) -> str:
    """An RE2 alternation matching exactly ``names`` (only metacharacters escaped)."""
    return "|".join("".join("\\" + c if c in _RE2_SPECIAL else c for c in n) for n in names)


def _wide(result: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> pd.DataFrame:
    """A matrix result as the store's wide frame; series not asked for are dropped."""
    wanted = set(keys)
    columns: dict[str, pd.Series] = {}
    for r in result:
        key = _key(r)
        if key in wanted:
            pairs = np.asarray(r.get("values", []), dtype=object).reshape(-1, 2)
            values = pairs[:, 1].astype(np.float64)
            columns[key] = pd.Series(np.where(np.isfinite(values), values, np.nan),
                                     index=pairs[:, 0].astype(np.float64))
    if not columns:
        return wide_frame(np.empty(0), np.empty((0, len(keys))), keys)
    joined = pd.DataFrame(columns).sort_index().reindex(columns=list(keys))
    return wide_frame(joined.index.to_numpy(np.float64), joined.to_numpy(np.float64), keys)
