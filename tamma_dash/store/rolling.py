"""The full-resolution window in memory: one ring of tick times plus one value matrix, bounded.

Samples of one tick share the tick's time, so the window keeps a single float64 ring of tick
timestamps and a float64 matrix ``[rows x columns]`` (one column per series id, NaN where a series
had no value that tick). Rows grow by doubling up to ``capacity`` and never beyond; columns grow
in chunks as series appear. Ticks older than ``retention_s`` before the newest one are dropped
on every append, so the window is bounded both by count and by time.
"""

from __future__ import annotations

import numpy as np

FIRST_ROWS = 256
COLUMN_CHUNK = 32


class RollingWindow:
    """Ticks of the last ``retention_s`` (at most ``capacity`` of them), oldest first."""

    def __init__(self, capacity: int, retention_s: float) -> None:
        if capacity < 1:
            raise ValueError(f"window capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.retention_s = retention_s
        rows = min(capacity, FIRST_ROWS)
        self._ts = np.full(rows, np.nan)
        self._vals = np.full((rows, 0), np.nan)
        self._head = 0
        self._count = 0
        self.points = 0  # non-NaN values held

    @property
    def rows(self) -> int:
        return int(self._ts.shape[0])

    @property
    def ncols(self) -> int:
        return int(self._vals.shape[1])

    @property
    def count(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        return int(self._ts.nbytes + self._vals.nbytes)

    @property
    def oldest_ts(self) -> float | None:
        return float(self._ts[self._head]) if self._count else None

    @property
    def newest_ts(self) -> float | None:
        return float(self._ts[(self._head + self._count - 1) % self.rows]) if self._count else None

    def ensure_columns(self, n: int) -> None:
        """Make room for series ids ``0..n-1`` (rounded up to a chunk, so growth is rare)."""
        if n <= self.ncols:
            return
        cols = -(-n // COLUMN_CHUNK) * COLUMN_CHUNK
        grown = np.full((self.rows, cols), np.nan)
        grown[:, : self.ncols] = self._vals
        self._vals = grown

    def append(self, ts: float, ids: np.ndarray, vals: np.ndarray) -> None:
        """Add one tick (``ts`` newer than every tick held) with values for series ``ids``."""
        self._reserve(1)
        if self._count == self.rows:
            self._drop(1)
        i = (self._head + self._count) % self.rows
        self._ts[i] = ts
        row = self._vals[i]
        row[:] = np.nan
        row[ids] = vals
        self._count += 1
        self.points += int(ids.shape[0])
        self._evict_before(ts - self.retention_s)

    def extend(self, ts: np.ndarray, block: np.ndarray, cols: np.ndarray) -> None:
        """Add many ticks: ``block[i, j]`` is the value of series ``cols[j]`` at ``ts[i]``."""
        if ts.shape[0] == 0:
            return
        if ts.shape[0] > self.capacity:
            ts, block = ts[-self.capacity :], block[-self.capacity :]
        n = int(ts.shape[0])
        self._reserve(n)
        overflow = self._count + n - self.rows
        if overflow > 0:
            self._drop(overflow)
        idx = self._physical(self._count, self._count + n)
        self._ts[idx] = ts
        self._vals[idx] = np.nan
        self._vals[np.ix_(idx, cols)] = block
        self._count += n
        self.points += int(np.count_nonzero(~np.isnan(block)))
        self._evict_before(float(ts[-1]) - self.retention_s)

    def search(self, value: float, side: str = "left") -> int:
        """Logical position of ``value`` among the tick times, like ``np.searchsorted``."""
        end = self._head + self._count
        first = self._ts[self._head : min(end, self.rows)]
        i = int(np.searchsorted(first, value, side=side))  # type: ignore[call-overload]
        if i < first.shape[0] or end <= self.rows:
            return i
        second = self._ts[: end - self.rows]
        return i + int(np.searchsorted(second, value, side=side))  # type: ignore[call-overload]

    def take(
        self, lo: int, hi: int, cols: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Copies of tick times and values of logical rows ``lo..hi-1`` (all or some columns)."""
        idx = self._physical(lo, hi)
        if cols is None:
            return self._ts[idx], self._vals[idx]
        return self._ts[idx], self._vals[np.ix_(idx, cols)]

    def select(
        self, start: float, end: float, cols: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the ticks with ``start <= ts <= end``."""
        return self.take(self.search(start, "left"), self.search(end, "right"), cols)

    def count_after(self, ts: float) -> int:
        """How many ticks are newer than ``ts``."""
        return self._count - self.search(ts, "right")

    def _physical(self, lo: int, hi: int) -> np.ndarray:
        return (self._head + np.arange(lo, hi)) % self.rows

    def _reserve(self, n: int) -> None:
        """Grow the rows (by doubling, never past capacity) when ``n`` more ticks do not fit."""
        if self._count + n <= self.rows or self.rows >= self.capacity:
            return
        rows = min(self.capacity, max(2 * self.rows, self._count + n))
        idx = self._physical(0, self._count)
        ts = np.full(rows, np.nan)
        vals = np.full((rows, self.ncols), np.nan)
        ts[: self._count] = self._ts[idx]
        vals[: self._count] = self._vals[idx]
        self._ts, self._vals, self._head = ts, vals, 0

    def _drop(self, n: int) -> None:
        """Forget the ``n`` oldest ticks."""
        if n <= 0:
            return
        idx = self._physical(0, n)
        self.points -= int(np.count_nonzero(~np.isnan(self._vals[idx])))
        self._head = (self._head + n) % self.rows
        self._count -= n

    def _evict_before(self, cutoff: float) -> None:
        self._drop(self.search(cutoff, "left"))
