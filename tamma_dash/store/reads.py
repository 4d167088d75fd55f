"""Reading history: loading ticks from disk into memory, and building frames for readers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tamma_dash.store.memory import Memory
from tamma_dash.store.rollup import (
    COUNT_DTYPE,
    ROLLUP_DTYPE,
    STATS,
    VALUE_DTYPE,
    Rollup,
    lookup_for,
    scatter,
)
from tamma_dash.store.sqlite import Database

READ_CHUNK = 2000
LOAD_CHUNK = 4096
_DTYPES = {"mins": ROLLUP_DTYPE, "maxs": ROLLUP_DTYPE, "means": ROLLUP_DTYPE, "counts": COUNT_DTYPE}


def disk_rollups(
    db: Database, cols: np.ndarray, start: float, end: float, columns: Sequence[str]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Rollup steps with ``start <= step < end`` from disk: steps and one matrix per column.

    ``cols`` are series ids (-1 for unknown keys, which come back as NaN columns).
    """
    lookup = lookup_for(cols, 0)
    steps: list[np.ndarray] = []
    parts: list[list[np.ndarray]] = []
    while start < end:
        rows = db.rollups(start, end, READ_CHUNK, columns)
        if not rows:
            break
        steps.append(np.fromiter((r[0] for r in rows), dtype=np.float64, count=len(rows)))
        blobs = [[r[2][j] for r in rows] for j in range(len(columns))]
        parts.append(scatter([r[1] for r in rows], blobs, [_DTYPES[c] for c in columns],
                             lookup, cols.shape[0]))
        start = float(np.nextafter(steps[-1][-1], np.inf))
    if not steps:
        empty = np.empty((0, cols.shape[0]))
        return np.empty(0), [empty for _ in columns]
    mats = [np.concatenate([p[j] for p in parts]) for j in range(len(columns))]
    return np.concatenate(steps), mats


def wide_frame(ts: np.ndarray, values: np.ndarray, keys: Sequence[str]) -> pd.DataFrame:
    """The ``HistoryReader.frame`` shape: float ``ts`` index, one float column per key."""
    return pd.DataFrame(values, index=pd.Index(ts, name="ts", dtype=np.float64),
                        columns=list(keys), copy=False)


def rollup_table(r: Rollup, keys: Sequence[str]) -> pd.DataFrame:
    """Rollups with MultiIndex columns ``(key, stat)``, stat in min/max/mean/count.

    A MultiIndex rather than ``"key:stat"`` strings because metric names may contain ``:``.
    ``count`` is an integer column, 0 where a series had no value in that step.
    """
    counts = np.nan_to_num(r.counts.astype(np.float64), nan=0.0).astype(np.int64)
    data: dict[int, np.ndarray] = {}
    for j in range(len(keys)):
        for matrix in (r.mins, r.maxs, r.means, counts):
            data[len(data)] = matrix[:, j]
    frame = pd.DataFrame(data, index=pd.Index(r.steps, name="ts", dtype=np.float64))
    frame.columns = pd.MultiIndex.from_product([list(keys), list(STATS)], names=["key", "stat"])
    return frame


def concat_rollups(a: Rollup, b: Rollup) -> Rollup:
    """Older steps ``a`` followed by newer steps ``b``."""
    return Rollup(*(np.concatenate([x, y]) for x, y in zip(a, b, strict=True)))


def empty_rollup(width: int) -> Rollup:
    empty = np.empty((0, width))
    return Rollup(np.empty(0), empty, empty, empty, empty)


def load_new(db: Database, memory: Memory, since: float) -> int:
    """Load ticks newer than ``since``, their series and the newest points; returns ticks.

    Series are read after the ticks: a writer commits a series row no later than the first
    tick that refers to it, so every id read is known.
    """
    loaded = 0
    after = since
    while True:
        rows = db.ticks(after, LOAD_CHUNK)
        width = _load_series(db, memory)
        if not rows:
            break
        ts = np.fromiter((r[0] for r in rows), dtype=np.float64, count=len(rows))
        (block,) = scatter([r[1] for r in rows], [[r[2] for r in rows]], [VALUE_DTYPE],
                           np.arange(width), width)
        with memory.lock:
            memory.extend(ts, block, np.arange(width))
        loaded += len(rows)
        after = float(ts[-1])
    latest = db.latest()
    _load_series(db, memory)
    with memory.lock:
        memory.load_latest(latest)
    return loaded


def _load_series(db: Database, memory: Memory) -> int:
    """Register the series on disk that memory does not know yet; returns how many it knows."""
    with memory.lock:
        known = len(memory.keys)
    for i, key in db.series(known):
        with memory.lock:
            if memory.register(key) != i:
                raise ValueError(f"series ids in {db.path} are not dense (id {i} for {key!r}); "
                                 "move the file aside to start a new history")
    with memory.lock:
        return len(memory.keys)

