"""The UI's only door to data: the running Runtime, set once by create_app.

What every client asks for each tick (the snapshot, frames) is computed once per tick and shared
by all clients and workers through the per-tick cache (``tamma_dash.cache``); a miss computes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd
from flask import Flask
from flask_caching import Cache

from tamma_dash.api.routes import snapshot as _snapshot
from tamma_dash.cache import make_cache, per_tick
from tamma_dash.store.base import Latest

if TYPE_CHECKING:
    from tamma_dash.runtime import Runtime

log = logging.getLogger(__name__)
T = TypeVar("T")
FRAME_GRID_POINTS = 1000  # frame ranges are rounded outward to (range / this) before sharing

_runtime: Runtime | None = None
_cache: tuple[Runtime, Cache | None] | None = None  # the cache and the runtime it was made for
_cache_lock = threading.Lock()


def set_runtime(rt: Runtime) -> None:
    global _runtime
    _runtime = rt


def set_cache(cache: Cache | None) -> None:
    """Use ``cache`` (e.g. one made on the app's server) for the current runtime; None: none."""
    global _cache
    with _cache_lock:
        _cache = (runtime(), cache)


def runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError("the UI has no runtime: build the app with tamma_dash.ui.app.create_app")
    return _runtime


def shared_cache() -> Cache | None:
    """The per-tick cache of the current runtime, made on first use (None if it cannot be)."""
    global _cache
    rt = runtime()
    with _cache_lock:
        if _cache is None or _cache[0] is not rt:
            try:
                made: Cache | None = make_cache(Flask("tamma_dash.cache"), rt.settings)
            except Exception as exc:  # a cache is an optimisation: never a reason to fail a page
                log.warning("no shared cache (%s: %s); every request computes its own data",
                            type(exc).__name__, exc)
                made = None
            _cache = (rt, made)
        return _cache[1]


def tick_id() -> float | None:
    """The newest stored tick's timestamp: what identifies 'this tick' in every worker."""
    return runtime().store.stats().newest_ts


def shared(name: str, compute: Callable[[], T]) -> T:
    """``compute()`` once per tick for everyone (all clients, all workers); ``name`` says what."""
    return per_tick(shared_cache(), name, tick_id(), compute)


def now() -> float:
    return runtime().clock()


def snapshot() -> dict[str, Any]:
    """The HealthMetrics document for this tick (see api/snapshot.py), shared per tick."""
    rt = runtime()
    return shared("snapshot", lambda: _snapshot(rt))


def frame(keys: Sequence[str], start: float, end: float) -> pd.DataFrame:
    """``store.frame``, shared per tick: a range rounded outward is cached, then cut exactly."""
    rt = runtime()
    keys = list(keys)
    tick = tick_id()
    if tick is None or not keys or not (math.isfinite(start) and math.isfinite(end)):
        return rt.store.frame(keys, start, end)
    lo, hi = outer_range(start, end, tick, rt.settings.interval_s)
    digest = hashlib.sha1(json.dumps([keys, lo, hi]).encode()).hexdigest()
    wide = per_tick(shared_cache(), f"frame:{digest}", tick,
                    lambda: rt.store.frame(keys, lo, hi))
    return wide[(wide.index >= start) & (wide.index <= end)]


def outer_range(start: float, end: float, tick: float, interval_s: float) -> tuple[float, float]:
    """The shared range that holds [start, end]: live ranges (end at or after ``tick``) all end
    at ``tick``; bounds are rounded outward to a grid of the range / FRAME_GRID_POINTS."""
    grid = max(interval_s, (end - start) / FRAME_GRID_POINTS)
    lo = math.floor(start / grid) * grid
    hi = tick if end >= tick else math.ceil(end / grid) * grid
    return lo, hi


def series() -> list[str]:
    """All series keys, shared per tick (a request to Prometheus on that backend)."""
    rt = runtime()
    return shared("series", rt.store.series)


def latest() -> dict[str, Latest]:
    """The newest point of every series, shared per tick."""
    rt = runtime()
    return shared("latest", rt.store.latest)
