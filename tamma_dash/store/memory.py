"""Everything the store holds in memory: the series registry, the window and the newest points.

Series ids are dense (0, 1, 2, ...), assigned in order of first appearance, and are both the
column of a series in the window matrix and its ``series.id`` row in SQLite.

Bad values: NaN and +/-inf are dropped when a tick is appended (never stored, counted in
``dropped_values``); negative values are kept, since some metrics (deltas, offsets, temperatures)
are legitimately negative. Clock stepping back: a tick whose time is not after the newest tick
is stored at ``newest + CLOCK_STEP_EPSILON_S`` (1 ms later), so order is never corrupted and the
dashboard keeps live values while the clock catches up; such ticks are counted in
``clamped_ticks``.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from tamma_dash.models import Labels, Sample
from tamma_dash.store.base import Latest
from tamma_dash.store.rolling import RollingWindow

log = logging.getLogger(__name__)

CLOCK_STEP_EPSILON_S = 1e-3

LatestRow = tuple[int, float, float, str]


class TickBatch(NamedTuple):
    """Copies of some ticks, ready to be written to disk."""

    ts: np.ndarray
    block: np.ndarray  # [ticks x all columns]
    keys: list[str]
    labels_json: list[str]


class Memory:
    """The in-memory tier, guarded by one lock (readers copy slices under it, build outside)."""

    def __init__(self, capacity: int, retention_s: float) -> None:
        self.lock = threading.Lock()
        self.window = RollingWindow(capacity, retention_s)
        self.keys: list[str] = []
        self.ids: dict[str, int] = {}
        self.latest_ts = np.full(0, np.nan)
        self.latest_val = np.full(0, np.nan)
        self.labels: list[Labels] = []
        self.labels_json: list[str] = []
        self.dropped_values = 0
        self.clamped_ticks = 0

    @property
    def nbytes(self) -> int:
        return self.window.nbytes + int(self.latest_ts.nbytes + self.latest_val.nbytes)

    def register(self, key: str) -> int:
        """The id of ``key``, assigning the next one if it is new (call with the lock held)."""
        i = self.ids.get(key)
        if i is None:
            i = len(self.keys)
            self.ids[key] = i
            self.keys.append(key)
            self.labels.append(())
            self.labels_json.append("[]")
            self.window.ensure_columns(i + 1)
            if i >= self.latest_ts.shape[0]:
                grow = np.full(self.window.ncols - self.latest_ts.shape[0], np.nan)
                self.latest_ts = np.concatenate([self.latest_ts, grow])
                self.latest_val = np.concatenate([self.latest_val, grow])
        return i

    def columns(self, keys: Sequence[str]) -> np.ndarray:
        """Series ids of ``keys``, -1 for keys never seen."""
        return np.array([self.ids.get(k, -1) for k in keys], dtype=np.int64)

    def ingest(self, ts: float, samples: Iterable[Sample]) -> tuple[float, np.ndarray, np.ndarray]:
        """Add one tick; returns the time it was stored at and the ids and values kept."""
        if not math.isfinite(ts):
            raise ValueError(f"tick time must be a finite number of epoch seconds, got {ts!r}")
        values: dict[int, float] = {}
        labels: dict[int, Labels] = {}
        with self.lock:
            known = self.ids.get
            for _, service, metric, raw, lab in samples:  # hot loop: about 1 us per sample
                value = raw if raw.__class__ is float and raw - raw == 0.0 else _finite(raw)
                if value is None:
                    self.dropped_values += 1
                    continue
                key = f"{service}/{metric}"
                i = known(key)
                if i is None:
                    i = self.register(key)
                values[i] = value
                labels[i] = lab
            ts = self._clamp(ts)
            ids = np.fromiter(values.keys(), dtype=np.int64, count=len(values))
            vals = np.fromiter(values.values(), dtype=np.float64, count=len(values))
            self.window.append(ts, ids, vals)
            self.latest_ts[ids] = ts
            self.latest_val[ids] = vals
            for i, lab in labels.items():
                if lab != self.labels[i]:
                    self.labels[i] = lab
                    self.labels_json[i] = json.dumps(lab)
        return ts, ids, vals

    def ingest_block(
        self, ts: np.ndarray, columns: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Add many ticks (those not after the newest held are skipped); returns what was added.

        The result is ``(ts, block, cols)``, all of it, including ticks already older than the
        window (which the caller may still roll up).
        """
        ts = np.asarray(ts, dtype=np.float64)
        if ts.ndim != 1 or (ts.shape[0] > 1 and not bool(np.all(np.diff(ts) > 0))):
            raise ValueError("bulk_load: ts must be 1-D, strictly ascending epoch seconds")
        block = np.full((ts.shape[0], len(columns)), np.nan)
        for j, (key, col) in enumerate(columns.items()):
            arr = np.asarray(col, dtype=np.float64)
            if arr.shape != ts.shape:
                raise ValueError(f"bulk_load: column {key!r} has shape {arr.shape}, ts {ts.shape}")
            block[:, j] = arr
        block[~np.isfinite(block)] = np.nan
        with self.lock:
            cols = np.array([self.register(k) for k in columns], dtype=np.int64)
            newest = self.window.newest_ts
            if newest is not None:
                ts, block = ts[ts > newest], block[ts > newest]
            self.extend(ts, block, cols)
        return ts, block, cols

    def extend(self, ts: np.ndarray, block: np.ndarray, cols: np.ndarray) -> None:
        """Add ticks newer than every tick held and take their newest points (lock held)."""
        self.window.extend(ts, block, cols)
        if ts.shape[0] == 0:
            return
        valid = ~np.isnan(block)
        last = ts.shape[0] - 1 - np.argmax(valid[::-1], axis=0)
        has = valid.any(axis=0)
        newer = ts[last[has]] > np.nan_to_num(self.latest_ts[cols[has]], nan=-np.inf)
        ids = cols[has][newer]
        self.latest_ts[ids] = ts[last[has]][newer]
        self.latest_val[ids] = block[last[has], np.flatnonzero(has)][newer]

    def unpersisted(self, after: float, limit: int) -> TickBatch:
        """Copies of up to ``limit`` ticks newer than ``after``, with what disk needs about them."""
        with self.lock:
            lo = self.window.search(after, "right")
            ts, block = self.window.take(lo, min(self.window.count, lo + limit))
            return TickBatch(ts, block, list(self.keys), list(self.labels_json))

    def latest_rows(self) -> list[LatestRow]:
        """The newest point of every series, as ``latest`` table rows."""
        with self.lock:
            ids = np.flatnonzero(~np.isnan(self.latest_ts[: len(self.keys)]))
            return [(int(i), float(self.latest_ts[i]), float(self.latest_val[i]),
                     self.labels_json[i]) for i in ids]

    def between(
        self, start: float, end: float, cols: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the ticks with ``start <= ts < end`` (all columns, or ``cols``)."""
        with self.lock:
            w = self.window
            return w.take(w.search(start, "left"), w.search(end, "left"), cols)

    def snapshot_latest(self) -> dict[str, Latest]:
        """The newest point of every series that ever had one."""
        with self.lock:
            n = len(self.keys)
            ts, val = self.latest_ts[:n].copy(), self.latest_val[:n].copy()
            keys, labels = list(self.keys), list(self.labels)
        return {keys[i]: Latest(float(ts[i]), float(val[i]), labels[i])
                for i in np.flatnonzero(~np.isnan(ts))}

    def load_latest(self, rows: Iterable[LatestRow]) -> None:
        """Take the labels, and any newer point, from ``latest`` rows read from disk (lock held).

        On disk a series' row is rewritten whenever its labels change and once per rollup step,
        so its labels are always the newest; its value may be older than the window's.
        """
        for i, ts, value, labels_json in rows:
            if i >= len(self.keys):
                continue
            if not ts < self.latest_ts[i]:
                self.latest_ts[i], self.latest_val[i] = ts, value
            if labels_json != self.labels_json[i]:
                self.labels[i] = tuple((str(k), str(v)) for k, v in json.loads(labels_json))
                self.labels_json[i] = labels_json

    def _clamp(self, ts: float) -> float:
        newest = self.window.newest_ts
        if newest is None or ts > newest:
            return ts
        self.clamped_ticks += 1
        if self.clamped_ticks == 1 or self.clamped_ticks % 1000 == 0:
            log.warning("clock stepped back: tick at %.3f is not after %.3f; stored 1 ms after it "
                        "(%d such ticks so far)", ts, newest, self.clamped_ticks)
        return newest + CLOCK_STEP_EPSILON_S


def _finite(value: object) -> float | None:
    """``value`` as a float, or None when it is NaN, infinite or not a number."""
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None
