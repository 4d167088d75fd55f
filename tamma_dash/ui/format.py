"""Numbers as people read them: durations, bytes, percents, milliseconds, rates, relative times.

Missing values (None, NaN, inf) render as an en dash so a gap never reads as a zero.
"""

from __future__ import annotations

import math

from tamma_dash.models import M, split_key

MISSING = "–"

# metric -> (readable label, unit). The unit drives formatting and axis titles.
METRICS: dict[str, tuple[str, str]] = {
    M.UP: ("up", ""), M.STATUS: ("status", ""),
    M.RESPONSE_TIME_MS: ("response time", "ms"),
    M.CPU: ("CPU", "%"), M.MEMORY: ("memory", "%"), M.DISK: ("disk", "%"),
    M.LOAD1: ("load (1 min)", ""),
    M.NET_RX: ("network in", "B/s"), M.NET_TX: ("network out", "B/s"),
    M.PROC_CPU: ("process CPU", "%"), M.PROC_RSS: ("process memory (RSS)", "B"),
    M.PROC_MEMORY: ("process memory", "%"), M.PROC_THREADS: ("threads", ""),
    M.PROC_OPEN_FILES: ("open files", ""),
    M.ACTIVE_WORKERS: ("busy workers", ""), M.WORKERS_TOTAL: ("workers alive", ""),
    M.QUEUE_DEPTH: ("queue depth", ""),
    M.REQUEST_RATE: ("request rate", "req/s"), M.ERROR_RATE: ("error rate", "%"),
    M.API_P50: ("p50 response time", "ms"), M.API_P95: ("p95 response time", "ms"),
    M.API_P99: ("p99 response time", "ms"),
    M.DB_ACTIVE: ("pool connections in use", ""), M.DB_IDLE: ("idle pool connections", ""),
    M.DB_WAITING: ("waiting for a connection", ""), M.DB_MAX: ("pool size", ""),
    M.DB_QUERY_P50: ("p50 query time", "ms"), M.DB_QUERY_P95: ("p95 query time", "ms"),
    M.DB_QUERY_P99: ("p99 query time", "ms"),
    M.SUCCESS_RATE: ("success rate", "%"),
    M.RL_REMAINING: ("rate limit remaining", ""), M.RL_LIMIT: ("rate limit", ""),
    M.RL_RESET_S: ("rate limit resets in", "s"),
    M.SCRAPE_OK: ("metrics scrape ok", ""),
}

_IEC = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def metric_label(metric: str) -> str:
    """Readable name of a metric; unknown metrics get their underscores turned into spaces."""
    known = METRICS.get(metric)
    return known[0] if known else metric.replace("_", " ")


def metric_unit(metric: str) -> str:
    """Unit of a metric (ms, %, B, B/s, s, req/s) or '' when it has none or is unknown."""
    known = METRICS.get(metric)
    return known[1] if known else ""


def series_name(key: str) -> str:
    """Legend name of a series key: ``api/response_time_p95_ms`` -> ``api · p95 response time``."""
    service, metric = split_key(key)
    return f"{service} · {metric_label(metric)}" if metric else service


def _formatted(value: float | None, unit: str) -> str:
    if value is None or not math.isfinite(value):
        return MISSING
    return "".join(_value_parts(value, unit))


def fmt_number(value: float | None) -> str:
    """Up to three significant digits below 100, whole numbers with thousands separators above."""
    if value is None or not math.isfinite(value):
        return MISSING
    a = abs(value)
    if a >= 100 or float(value).is_integer():
        text = f"{value:,.0f}"
    elif a >= 10:
        text = f"{value:.1f}"
    elif a >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3g}" if a >= 1e-3 else f"{value:.1e}"
    if "." in text and "e" not in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def fmt_duration(seconds: float | None) -> str:
    """``3 d 4 h``, ``1 h 02 m``, ``2 m 05 s``, ``45 s``, ``2.5 s``, ``350 ms``."""
    if seconds is None or not math.isfinite(seconds):
        return MISSING
    sign, s = ("-" if seconds < 0 else ""), abs(seconds)
    if s < 1:
        return f"{sign}{round(s * 1000):d} ms"
    if s < 10:
        return f"{sign}{fmt_number(round(s, 1))} s"
    whole = round(s)
    if whole < 60:
        return f"{sign}{whole} s"
    if whole < 3600:
        return f"{sign}{whole // 60} m {whole % 60:02d} s"
    minutes = round(s / 60)
    if minutes < 24 * 60:
        return f"{sign}{minutes // 60} h {minutes % 60:02d} m"
    hours = round(s / 3600)
    return f"{sign}{hours // 24} d {hours % 24} h"


def _bytes_parts(n: float) -> tuple[str, str]:
    i, v = 0, float(n)
    while abs(v) >= 1024 and i < len(_IEC) - 1:
        v, i = v / 1024, i + 1
    return (f"{v:,.0f}" if i == 0 else fmt_number(v)), f" {_IEC[i]}"


def fmt_bytes(n: float | None) -> str:
    """IEC units: ``512 B``, ``1.5 KiB``, ``3.21 GiB``."""
    return _formatted(n, "B")


def fmt_percent(value: float | None) -> str:
    """``42.5%``."""
    return _formatted(value, "%")


def fmt_ms(value: float | None) -> str:
    """Milliseconds below a second, then seconds, then minutes: ``84 ms``, ``1.25 s``."""
    return _formatted(value, "ms")


def fmt_rate(value: float | None, unit: str = "/s") -> str:
    """A per-second rate: ``12.5/s``, ``1,234 req/s``."""
    return _formatted(value, unit)


def fmt_relative(ts: float, now: float) -> str:
    """``just now``, ``12 s ago``, ``3 m ago``, ``2 h ago``, ``3 d ago``, or ``in 5 m``."""
    delta = now - ts
    a = abs(delta)
    if a < 5:
        return "just now"
    if a < 60:
        text = f"{int(a)} s"
    elif a < 3600:
        text = f"{int(a // 60)} m"
    elif a < 86400:
        text = f"{int(a // 3600)} h"
    else:
        text = f"{int(a // 86400)} d"
    return f"{text} ago" if delta > 0 else f"in {text}"


def _value_parts(value: float, unit: str) -> tuple[str, str]:
    """A value split into number text and unit suffix, so ranges can share one unit."""
    if unit == "ms":
        if abs(value) < 1000:
            return fmt_number(value), " ms"
        if abs(value) < 60_000:
            return fmt_number(value / 1000), " s"
        return fmt_duration(value / 1000), ""
    if unit == "%":
        return fmt_number(value), "%"
    if unit == "B":
        return _bytes_parts(value)
    if unit == "B/s":
        num, suffix = _bytes_parts(value)
        return num, f"{suffix}/s"
    if unit == "s":
        return fmt_duration(value), ""
    if unit.startswith("/"):
        return fmt_number(value), unit
    return fmt_number(value), (f" {unit}" if unit else "")


def format_value(value: float | None, unit: str = "") -> str:
    """Any value in its unit (ms, %, B, B/s, s, req/s, or none)."""
    return _formatted(value, unit)


def format_range(low: float | None, high: float | None, unit: str = "") -> str:
    """``60–130 ms``; each end keeps its own unit when they differ (``800 ms–1.2 s``)."""
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return MISSING
    n1, s1 = _value_parts(low, unit)
    n2, s2 = _value_parts(high, unit)
    return f"{n1}–{n2}{s2}" if s1 == s2 else f"{n1}{s1}–{n2}{s2}"
