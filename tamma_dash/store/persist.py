"""Writing memory to disk: ticks as they come, rollups as steps complete, cleanup, and catch-up.

Nothing is queued separately: the ticks not yet on disk are simply the window's ticks newer than
``persisted_ts``, so the backlog is bounded by the window by construction. When the disk is
read-only, full or missing, writes fail, the error becomes a message, and each later tick (or
``flush()``) retries; ticks that fall out of the window before the disk recovers are lost.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
from pathlib import Path

import numpy as np

from tamma_dash.store.memory import LatestRow, Memory, TickBatch
from tamma_dash.store.reads import load_new
from tamma_dash.store.rollup import RollupRow, encode_rollups, encode_tick, rollup, step_start
from tamma_dash.store.sqlite import Batch, Database, describe_error, is_disk_full

log = logging.getLogger(__name__)

CHUNK_TICKS = 1000  # ticks per transaction when catching up or bulk loading


class Persister:
    """Owns the writing connection and what has reached disk so far."""

    def __init__(self, path: Path | None, memory: Memory, *, retention_s: float,
                 step_s: float, rollup_retention_s: float) -> None:
        self.path = path
        self.memory = memory
        self.retention_s = retention_s
        self.step_s = step_s
        self.rollup_retention_s = rollup_retention_s
        self.db: Database | None = None
        self.error: str | None = None
        self.persisted_ts = -math.inf
        self.rollup_next: float | None = None  # start of the next step to roll up
        self.rollup_oldest: float | None = None
        self._series_written = 0
        self._labels_written: dict[int, str] = {}  # labels_json on disk per series id
        self._lock = threading.Lock()

    @property
    def keeps_ticks(self) -> bool:
        return self.path is not None

    def start(self, since: float) -> None:
        """Connect and load the ticks newer than ``since`` (and everything else) into memory."""
        with self._lock:
            db = self._connect() or self._read_only()
            if db is None:
                return
            try:
                load_new(db, self.memory, since)
                _, last_step = db.span("rollups")
            except (sqlite3.Error, ValueError) as exc:
                self._fail(exc)
                return
            finally:
                if db is not self.db:
                    db.close()
            newest = self.memory.window.newest_ts
            self.persisted_ts = -math.inf if newest is None else newest
            self.rollup_next = None if last_step is None else last_step + self.step_s
            self._series_written = len(self.memory.keys)
            with self.memory.lock:
                self._labels_written = dict(enumerate(self.memory.labels_json))

    def pending(self) -> int:
        """Ticks held in memory that are not on disk yet."""
        if not self.keeps_ticks:
            return 0
        with self.memory.lock:
            return self.memory.window.count_after(self.persisted_ts)

    def sync(self, limit: int | None = CHUNK_TICKS) -> None:
        """Write pending ticks (up to ``limit``, all when None), due rollups and cleanup."""
        with self._lock:
            db = self.db or self._connect()
            if db is None:
                return
            try:
                self._write_ticks(db, limit)
                self._write_rollups(db)
            except (sqlite3.Error, OSError) as exc:
                self._fail(exc)
                return
            if self.error is not None:
                log.warning("history writes resumed on %s", self.path)
                self.error = None

    def write_rollups(self, rows: list[RollupRow]) -> None:
        """Write rollups made elsewhere (history older than the window)."""
        with self._lock:
            db = self.db or self._connect()
            if db is None:
                return
            try:
                self._write(db, Batch(rollups=rows))
                self._note_rollups([r[0] for r in rows])
            except (sqlite3.Error, OSError) as exc:
                self._fail(exc)

    def roll_block(self, ts: np.ndarray, block: np.ndarray, cols: np.ndarray) -> None:
        """Write rollups of bulk-loaded ticks, including those already older than the window."""
        if ts.shape[0] == 0:
            return
        with self._lock:
            db = self.db or self._connect()
            if db is None:
                return
            first = step_start(float(ts[0]), self.step_s)
            done = step_start(float(ts[-1]), self.step_s)
            if self.rollup_next is not None:
                first = max(first, self.rollup_next)
            keep = (ts >= first) & (ts < done)
            rows = encode_rollups(rollup(ts[keep], block[keep], self.step_s), cols)
            try:
                self._write(db, Batch(rollups=rows))
            except (sqlite3.Error, OSError) as exc:
                self._fail(exc)
                return
            self.rollup_next = max(done, self.rollup_next or done)
            self._note_rollups([row[0] for row in rows])

    def close(self) -> None:
        with self._lock:
            if self.db is not None:
                self.db.close()
                self.db = None

    def _write_ticks(self, db: Database, limit: int | None) -> None:
        """Write pending ticks oldest first; a failing disk is probed with one tick, not all."""
        if not self.keeps_ticks:
            return
        probing = self.error is not None
        while True:
            size = 1 if probing else limit or CHUNK_TICKS
            batch = self.memory.unpersisted(self.persisted_ts, size)
            if batch.ts.shape[0] == 0 and len(batch.keys) == self._series_written:
                return
            latest = self._changed_labels(batch)
            self._write(db, Batch(ticks=_tick_rows(batch), latest=latest), batch.keys)
            self._labels_written.update((row[0], row[3]) for row in latest)
            if batch.ts.shape[0]:
                self.persisted_ts = float(batch.ts[-1])
            if batch.ts.shape[0] == 0 or (limit is not None and not probing):
                return
            probing = False

    def _write_rollups(self, db: Database) -> None:
        """Roll up every step that is complete (a newer tick exists) and not yet written."""
        w = self.memory.window
        newest, oldest = w.newest_ts, w.oldest_ts
        if newest is None or oldest is None:
            return
        done = step_start(newest, self.step_s)
        first = step_start(oldest, self.step_s) if self.rollup_next is None else self.rollup_next
        if first >= done:
            return
        ts, block = self.memory.between(first, done)
        rows = encode_rollups(rollup(ts, block, self.step_s), np.arange(block.shape[1]))
        caught_up = self.keeps_ticks and self.pending() == 0  # else rows could outrun ticks
        latest = self.memory.latest_rows() if caught_up else []
        self._write(db, Batch(rollups=rows, latest=latest))
        self._labels_written.update((row[0], row[3]) for row in latest)
        self.rollup_next = done
        self._note_rollups([row[0] for row in rows])
        db.cleanup(newest - self.retention_s, newest - self.rollup_retention_s)
        self.rollup_oldest = db.span("rollups")[0]

    def _changed_labels(self, batch: TickBatch) -> list[LatestRow]:
        """``latest`` rows for the series whose labels changed since last written."""
        written = self._labels_written
        changed = [i for i, text in enumerate(batch.labels_json) if written.get(i, "[]") != text]
        if not changed or batch.ts.shape[0] == 0:
            return []
        sub = batch.block[:, changed]
        valid = ~np.isnan(sub)
        last = batch.ts.shape[0] - 1 - np.argmax(valid[::-1], axis=0)
        return [(i, float(batch.ts[last[j]]), float(sub[last[j], j]), batch.labels_json[i])
                for j, i in enumerate(changed) if valid[last[j], j]]

    def _write(self, db: Database, batch: Batch, keys: list[str] | None = None) -> None:
        """Write ``batch`` with the series rows it may refer to that are not on disk yet."""
        if keys is None:
            with self.memory.lock:
                keys = list(self.memory.keys)
        batch.series = [(i, keys[i]) for i in range(self._series_written, len(keys))]
        db.write(batch)
        self._series_written = max(self._series_written, len(keys))

    def _note_rollups(self, steps: list[float]) -> None:
        if steps:
            low = min(steps)
            self.rollup_oldest = low if self.rollup_oldest is None else min(self.rollup_oldest, low)

    def _read_only(self) -> Database | None:
        """When the file cannot be written, still read it, so history shows and ids agree."""
        if self.path is None or not self.path.exists():
            return None
        for frozen in (False, True):
            try:
                return Database.open(self.path, readonly=True, frozen=frozen)
            except (sqlite3.Error, OSError):
                pass
        return None

    def _connect(self) -> Database | None:
        """Open the file; refuse it if its series ids disagree with memory's."""
        try:
            db = Database.open(self.path)
        except (sqlite3.Error, OSError) as exc:
            self._fail(exc)
            return None
        try:
            on_disk = db.series()
            self.rollup_oldest = db.span("rollups")[0]
        except sqlite3.Error as exc:
            db.close()
            self._fail(exc)
            return None
        with self.memory.lock:
            keys = list(self.memory.keys)
        if keys and any(i >= len(keys) or keys[i] != k for i, k in on_disk):
            db.close()
            self._report(f"{self.path} holds history that was not loaded at start (its series "
                         "differ from the ones in memory); restart tamma-dash to load it, or "
                         "move the file aside to start a new history")
            return None
        self.db = db
        return db

    def _fail(self, exc: BaseException) -> None:
        self._report(describe_error(exc, self.path) if self.path else f"in-memory database: {exc}")
        if self.db is not None and not is_disk_full(exc):
            self.db.close()  # reopen next time: a read-only open must not be reused
            self.db = None

    def _report(self, message: str) -> None:
        if message != self.error:
            log.warning("history not written: %s (ticks are kept in memory and written when "
                        "the problem is fixed)", message)
        self.error = message


def _tick_rows(batch: TickBatch) -> list[tuple[float, bytes, bytes]]:
    return [encode_tick(batch.ts[i], batch.block[i]) for i in range(batch.ts.shape[0])]
