"""The shared time range, kept in the URL query so a copied link opens the same view."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

PRESETS: dict[str, float] = {"15m": 900.0, "1h": 3600.0, "6h": 21600.0, "24h": 86400.0,
                             "7d": 604800.0}
DEFAULT = "1h"


@dataclass(frozen=True)
class TimeRange:
    start: float
    end: float
    preset: str | None  # None for an absolute (zoomed) range
    live: bool  # True when the range follows now

    @property
    def span(self) -> float:
        return self.end - self.start


def parse_range(query: Mapping[str, str], now: float) -> TimeRange:
    """``range=1h`` follows now; ``start=&end=`` is a fixed window; anything invalid: default."""
    start, end = _num(query.get("start")), _num(query.get("end"))
    if start is not None and end is not None and start < end:
        return TimeRange(start, end, None, live=False)
    preset = query.get("range", DEFAULT)
    if preset not in PRESETS:
        preset = DEFAULT
    return TimeRange(now - PRESETS[preset], now, preset, live=True)


def query_dict(search: str | None) -> dict[str, str]:
    """``?a=1&b=2`` -> {"a": "1", "b": "2"} (last value wins)."""
    return dict(parse_qsl((search or "").lstrip("?"), keep_blank_values=False))


def with_query(search: str | None, **changes: object) -> str:
    """The search string with ``changes`` applied; a None value removes the key."""
    q = query_dict(search)
    for key, value in changes.items():
        if value is None:
            q.pop(key, None)
        else:
            q[key] = str(value)
    return "?" + urlencode(q) if q else ""


def range_query(search: str | None, tr: TimeRange) -> str:
    if tr.preset is not None:
        return with_query(search, range=tr.preset, start=None, end=None)
    return with_query(search, range=None, start=f"{tr.start:.0f}", end=f"{tr.end:.0f}")


def _num(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
