"""The Store: full resolution in memory and SQLite for ``retention_s``, 1-minute rollups beyond.

Tiers, like Netdata's: every tick for ``retention_s`` (default 24 h) in a bounded in-memory window
and in SQLite; rollups (min, max, mean, count per ``rollup_step_s``, default 60 s) for
``rollup_retention_s`` (default 30 days) in SQLite; older rows are deleted once per step. With
``data_dir=None`` the store lives in memory only (rollups in a private in-memory database).

Writes happen in ``append`` on the caller's thread, one transaction per tick, so a SIGKILL loses
at most the tick being written. A disk that is read-only, full or missing never makes ``append``
raise: ticks stay in memory, ``stats()`` says what is wrong and how to fix it, and the backlog
(bounded by the window) is written once the disk accepts writes again. Frames are copies, built
outside the lock.

Values: all samples of a tick are stored at the tick's ``ts``; NaN and +/-inf are dropped,
negative values kept; a tick not after the newest is stored 1 ms after it (see ``memory.py``).
Memory is ``(retention_s / interval_s) x series x 8 B`` (plus 1 % and a 32-column chunk): about
31 MB for 200 series at 5 s over 24 h, but 1.4 GB at a 0.1 s tick, so keep short ticks for
short retentions. On disk: the ticks of ``retention_s`` plus at most one rollup step, rollups
of ``rollup_retention_s`` (about 4 kB per step for 200 series) and a WAL of a few MB.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tamma_dash.models import Clock, Sample
from tamma_dash.store.base import Latest, StoreStats
from tamma_dash.store.memory import Memory
from tamma_dash.store.persist import Persister
from tamma_dash.store.reads import (
    concat_rollups,
    disk_rollups,
    empty_rollup,
    load_new,
    rollup_table,
    wide_frame,
)
from tamma_dash.store.rollup import Rollup, encode_rollups, rollup, step_start
from tamma_dash.store.sqlite import DB_NAME, Database, describe_error, disk_bytes

log = logging.getLogger(__name__)

WINDOW_SLACK = 0.01  # extra window rows beyond retention / interval, for tick jitter


class Store:
    """History for the API and the UI (a ``HistoryReader``), fed one tick at a time."""

    def __init__(self, memory: Memory, persister: Persister | None, path: Path | None, *,
                 retention_s: float, step_s: float, clock: Clock) -> None:
        self._memory = memory
        self._persister = persister
        self._path = path
        self._retention_s = retention_s
        self._step_s = step_s
        self._clock = clock
        self._reader: Database | None = None
        self._read_error: str | None = None
        self._reader_lock = threading.Lock()
        self._rollup_oldest: float | None = None
        self._closed = False

    @classmethod
    def open(
        cls, data_dir: Path | None, *, interval_s: float = 5.0, retention_s: float = 86400.0,
        rollup_step_s: float = 60.0, rollup_retention_s: float = 30 * 86400.0,
        clock: Clock = time.time, readonly: bool = False,
    ) -> Store:
        """Open (and reload) the history in ``data_dir``/tamma.sqlite3; ``None`` is memory only.

        ``readonly`` is for web-only processes that read what a collector process writes.
        """
        for name, value in (("interval_s", interval_s), ("retention_s", retention_s),
                            ("rollup_step_s", rollup_step_s),
                            ("rollup_retention_s", rollup_retention_s)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"Store.open: {name} must be a positive number of seconds, "
                                 f"got {value!r}")
        if readonly and data_dir is None:
            raise ValueError("Store.open: readonly needs the data_dir the collector writes to")
        capacity = math.ceil(retention_s / interval_s)
        memory = Memory(capacity + max(8, math.ceil(capacity * WINDOW_SLACK)), retention_s)
        path = None if data_dir is None else Path(data_dir) / DB_NAME
        persister = None if readonly else Persister(
            path, memory, retention_s=retention_s, step_s=rollup_step_s,
            rollup_retention_s=rollup_retention_s)
        store = cls(memory, persister, path, retention_s=retention_s, step_s=rollup_step_s,
                    clock=clock)
        since = float(np.nextafter(clock() - retention_s, -np.inf))  # the window keeps ts >= this
        if persister is not None:
            persister.start(since)
        else:
            store._load(since)
        return store

    # -- writing -------------------------------------------------------------------------------

    def append(self, ts: float, samples: Sequence[Sample]) -> None:
        """Store one tick (NaN/inf dropped); never raises on disk errors (see ``stats()``)."""
        persister = self._writer()
        self._memory.ingest(ts, samples)
        persister.sync()

    def bulk_load(self, ts: np.ndarray, columns: Mapping[str, np.ndarray]) -> None:
        """Store many ticks at full resolution (ascending ``ts``; old ones skipped)."""
        persister = self._writer()
        persister.roll_block(*self._memory.ingest_block(ts, columns))
        persister.sync(limit=None)

    def bulk_rollups(
        self, step_ts: np.ndarray,
        columns: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    ) -> None:
        """Store (min, max, mean, count) per key per step: history older than the window."""
        persister = self._writer()
        steps = np.asarray(step_ts, dtype=np.float64)
        arrays = {k: [np.asarray(a, dtype=np.float64) for a in v] for k, v in columns.items()}
        for key, four in arrays.items():
            if len(four) != 4 or any(a.shape != steps.shape for a in four):
                raise ValueError(f"bulk_rollups: {key!r} needs (min, max, mean, count) arrays "
                                 f"of shape {steps.shape}, like step_ts")
        stats = [np.column_stack([four[s] for four in arrays.values()]) if arrays
                 else np.empty((steps.shape[0], 0)) for s in range(4)]
        with self._memory.lock:
            cols = np.array([self._memory.register(k) for k in columns], dtype=np.int64)
        mins, maxs, means, counts = stats
        counts = np.where(np.isfinite(means) & (counts > 0), counts, 0)
        persister.write_rollups(encode_rollups(Rollup(steps, mins, maxs, means, counts), cols))

    def flush(self) -> None:
        """Write every pending tick now (when the disk accepts it)."""
        if self._persister is not None:
            self._persister.sync(limit=None)

    def refresh(self) -> int:
        """Readonly mode: load ticks newer than memory's newest; returns how many."""
        if self._persister is not None or self._closed:
            return 0
        newest = self._memory.window.newest_ts
        return self._load(newest if newest is not None else self._clock() - self._retention_s)

    def close(self) -> None:
        """Write what is pending and close the files."""
        if self._closed:
            return
        self.flush()
        self._closed = True
        if self._persister is not None:
            lost = self._persister.pending()
            if lost:
                log.warning("closing with %d tick(s) not written: %s", lost, self._persister.error)
            self._persister.close()
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    def _writer(self) -> Persister:
        if self._persister is None:
            raise RuntimeError("this Store was opened readonly (a web-only process); only the "
                               "collector process writes history")
        if self._closed:
            raise RuntimeError("this Store is closed")
        return self._persister

    def _load(self, since: float) -> int:
        db = self._read_db()
        if db is None:
            return 0
        try:
            loaded = load_new(db, self._memory, since)
            self._rollup_oldest = db.span("rollups")[0]
        except (sqlite3.Error, ValueError) as exc:
            self._read_failed(exc)
            return 0
        self._read_error = None
        return loaded

    # -- reading -------------------------------------------------------------------------------

    def is_empty(self) -> bool:
        """True on a first start: no ticks and no rollups, in memory or on disk."""
        if self._memory.window.count:
            return False
        db = self._persister.db if self._persister is not None else self._read_db()
        try:
            return db is None or not db.has_data()
        except sqlite3.Error:
            return True

    def series(self) -> list[str]:
        with self._memory.lock:
            return sorted(self._memory.keys)

    def latest(self) -> dict[str, Latest]:
        return self._memory.snapshot_latest()

    def frame(self, keys: Sequence[str], start: float, end: float) -> pd.DataFrame:
        """Ticks with ``start <= ts <= end``; before the window, rollup means (ts = step start)."""
        keys = list(dict.fromkeys(keys))
        with self._memory.lock:
            cols = self._memory.columns(keys)
            known = cols >= 0
            ts, block = self._memory.window.select(start, end, cols[known])
            oldest = self._memory.window.oldest_ts
        values = np.full((ts.shape[0], len(keys)), np.nan)
        values[:, known] = block
        boundary = math.inf if oldest is None else oldest
        if start < boundary:
            db = self._read_db()
            if db is not None:
                stop = min(boundary, float(np.nextafter(end, np.inf)))
                steps, (means,) = self._disk_rollups(db, cols, start, stop, ("means",))
                ts, values = np.concatenate([steps, ts]), np.concatenate([means, values])
        return wide_frame(ts, values, keys)

    def points(self, key: str, start: float, end: float) -> tuple[list[float], list[float]]:
        """One series without NaN, oldest first (rollup means before the window)."""
        column = self.frame([key], start, end)[key]
        column = column[column.notna()]
        return [float(t) for t in column.index], [float(v) for v in column.to_numpy()]

    def rollup_frame(self, keys: Sequence[str], start: float, end: float) -> pd.DataFrame:
        """Rollups of steps with ``start <= step start <= end``; MultiIndex columns (key, stat).

        Steps wholly inside the in-memory window are computed from it (float64, including the
        current, still incomplete step); older steps are read from disk (float32).
        """
        keys = list(dict.fromkeys(keys))
        with self._memory.lock:
            cols = self._memory.columns(keys)
            oldest = self._memory.window.oldest_ts
        step = self._step_s
        boundary = math.inf if oldest is None else math.ceil(oldest / step) * step
        result = empty_rollup(len(keys))
        db = self._read_db()
        if start < boundary and db is not None:
            stop = min(boundary, float(np.nextafter(end, np.inf)))
            steps, mats = self._disk_rollups(db, cols, start, stop, ("mins", "maxs", "means",
                                                                      "counts"))
            result = Rollup(steps, *mats)
        if end >= boundary:
            first = math.ceil(max(start, boundary) / step) * step
            known = cols >= 0
            ts, block = self._memory.between(first, step_start(end, step) + step, cols[known])
            part = rollup(ts, block, step)
            widened = [np.full((part.steps.shape[0], len(keys)), np.nan) for _ in range(4)]
            for matrix, source in zip(widened, part[1:], strict=True):
                matrix[:, known] = source
            result = concat_rollups(result, Rollup(part.steps, *widened))
        return rollup_table(result, keys)

    def stats(self) -> StoreStats:
        """Size and health; ``oldest_ts`` is the oldest time readable, rollups included."""
        with self._memory.lock:
            w = self._memory.window
            series, points, memory = len(self._memory.keys), w.points, self._memory.nbytes
            oldest, newest = w.oldest_ts, w.newest_ts
        p = self._persister
        error = self._read_error if p is None else p.error
        rollup_oldest = self._rollup_oldest if p is None else p.rollup_oldest
        if rollup_oldest is not None:
            oldest = rollup_oldest if oldest is None else min(oldest, rollup_oldest)
        return StoreStats(
            series=series, points_in_memory=points, memory_bytes=memory,
            disk_bytes=disk_bytes(self._path), persist_ok=error is None, persist_error=error,
            pending_ticks=0 if p is None else p.pending(), oldest_ts=oldest, newest_ts=newest)

    def _disk_rollups(
        self, db: Database, cols: np.ndarray, start: float, end: float, columns: Sequence[str]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        try:
            return disk_rollups(db, cols, start, end, columns)
        except sqlite3.Error as exc:
            self._read_failed(exc)
            return np.empty(0), [np.empty((0, cols.shape[0])) for _ in columns]

    def _read_db(self) -> Database | None:
        """The connection reads use: memory-only's own, else a read-only one to the file."""
        if self._path is None:
            return self._persister.db if self._persister is not None else None
        with self._reader_lock:
            if self._reader is None and not self._closed:
                try:
                    self._reader = Database.open(self._path, readonly=True)
                    self._read_error = None
                except (sqlite3.Error, OSError) as exc:
                    self._read_failed(exc)
            return self._reader

    def _read_failed(self, exc: BaseException) -> None:
        path = self._path
        if path is None:
            return
        if not path.exists():
            self._read_error = (f"no history at {path} yet; start the collector "
                                "(tamma-dash collect) with the same data_dir")
        else:
            self._read_error = describe_error(exc, path)
