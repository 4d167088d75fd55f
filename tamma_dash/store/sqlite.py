"""SQLite persistence: one row per tick, one row per rollup step, one row per series' newest point.

WAL journal with ``synchronous=NORMAL``: a committed transaction survives the process being
killed (SIGKILL), and readers in other processes never block the writer. Every method takes the
connection's lock, so one ``Database`` may be shared between threads.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from tamma_dash.store.rollup import RollupRow, TickRow

DB_NAME = "tamma.sqlite3"
SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS series(id INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL);
CREATE TABLE IF NOT EXISTS ticks(ts REAL PRIMARY KEY, ids BLOB NOT NULL, vals BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS latest(series_id INTEGER PRIMARY KEY, ts REAL NOT NULL,
                                  value REAL NOT NULL, labels_json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rollups(step_ts REAL PRIMARY KEY, ids BLOB NOT NULL, mins BLOB NOT NULL,
                                   maxs BLOB NOT NULL, means BLOB NOT NULL, counts BLOB NOT NULL);
"""
ROLLUP_COLUMNS = ("mins", "maxs", "means", "counts")
WAL_LIMIT_BYTES = 16 * 1024 * 1024

SeriesRow = tuple[int, str]
LatestRow = tuple[int, float, float, str]


@dataclass
class Batch:
    """Rows written together in one transaction."""

    series: list[SeriesRow] = field(default_factory=list)
    ticks: list[TickRow] = field(default_factory=list)
    latest: list[LatestRow] = field(default_factory=list)
    rollups: list[RollupRow] = field(default_factory=list)


class Database:
    """One connection to the history file (or to a private in-memory database)."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None) -> None:
        self._conn = conn
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path | None, *, readonly: bool = False, frozen: bool = False) -> Database:
        """Open (creating when writable) ``path``; ``None`` is a private in-memory database.

        ``frozen`` (read-only too) reads a file in a read-only directory, where SQLite cannot
        create the WAL index; it ignores a WAL left by a crash, so use it only as a last resort.
        """
        if path is None:
            conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        elif readonly or frozen:
            uri = f"{path.resolve().as_uri()}?mode=ro" + ("&immutable=1" if frozen else "")
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout = 2000")
            if readonly or frozen:
                conn.execute("SELECT 1 FROM ticks LIMIT 1").fetchall()  # fail now if not ours
            else:
                _prepare(conn, path is not None)
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def write(self, batch: Batch) -> None:
        """Write every row of ``batch`` in one transaction (all or nothing)."""
        with self._lock, self._transaction() as c:
            if batch.series:
                c.executemany("INSERT OR IGNORE INTO series(id, key) VALUES (?, ?)", batch.series)
            if batch.ticks:
                c.executemany("INSERT OR REPLACE INTO ticks VALUES (?, ?, ?)", batch.ticks)
            if batch.latest:
                c.executemany("INSERT OR REPLACE INTO latest VALUES (?, ?, ?, ?)", batch.latest)
            if batch.rollups:
                c.executemany("INSERT OR REPLACE INTO rollups VALUES (?, ?, ?, ?, ?, ?)",
                              batch.rollups)

    def cleanup(self, tick_cutoff: float, rollup_cutoff: float) -> None:
        """Delete ticks and rollups older than their retention."""
        with self._lock, self._transaction() as c:
            c.execute("DELETE FROM ticks WHERE ts < ?", (tick_cutoff,))
            c.execute("DELETE FROM rollups WHERE step_ts < ?", (rollup_cutoff,))

    def series(self, from_id: int = 0) -> list[SeriesRow]:
        return self._all("SELECT id, key FROM series WHERE id >= ? ORDER BY id", (from_id,))

    def latest(self) -> list[LatestRow]:
        return self._all("SELECT series_id, ts, value, labels_json FROM latest", ())

    def ticks(self, after: float, limit: int) -> list[TickRow]:
        """Up to ``limit`` tick rows newer than ``after``, oldest first."""
        sql = "SELECT ts, ids, vals FROM ticks WHERE ts > ? ORDER BY ts LIMIT ?"
        return self._all(sql, (after, limit))

    def rollups(
        self, start: float, end: float, limit: int, columns: Sequence[str] = ROLLUP_COLUMNS
    ) -> list[tuple[float, bytes, tuple[bytes, ...]]]:
        """Up to ``limit`` rollup rows with ``start <= step_ts < end``: (step, ids, blobs)."""
        if not set(columns) <= set(ROLLUP_COLUMNS):
            raise ValueError(f"unknown rollup columns {columns}")
        sql = (f"SELECT step_ts, ids, {', '.join(columns)} FROM rollups "
               "WHERE step_ts >= ? AND step_ts < ? ORDER BY step_ts LIMIT ?")
        rows = self._all(sql, (start, end, limit))
        return [(r[0], r[1], tuple(r[2:])) for r in rows]

    def span(self, table: str) -> tuple[float | None, float | None]:
        """Oldest and newest time in ``ticks`` or ``rollups``."""
        col = {"ticks": "ts", "rollups": "step_ts"}[table]
        row = self._all(f"SELECT MIN({col}), MAX({col}) FROM {table}", ())[0]
        return row[0], row[1]

    def has_data(self) -> bool:
        sql = "SELECT EXISTS(SELECT 1 FROM ticks) OR EXISTS(SELECT 1 FROM rollups)"
        return bool(self._all(sql, ())[0][0])

    def execute(self, sql: str) -> list[tuple]:  # type: ignore[type-arg]
        """Run one statement (pragmas, diagnostics); returns its rows."""
        return self._all(sql, ())

    def _all(self, sql: str, params: tuple[object, ...]) -> list:  # type: ignore[type-arg]
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")


def _prepare(conn: sqlite3.Connection, on_disk: bool) -> None:
    """Set the journal and create the schema (idempotent)."""
    if on_disk:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"could not switch to WAL journal (got {mode})")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT_BYTES}")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version not in (0, SCHEMA_VERSION):
        raise sqlite3.DatabaseError(f"history schema version {version}, this build reads "
                                    f"{SCHEMA_VERSION}")
    conn.executescript(SCHEMA)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def disk_bytes(path: Path | None) -> int:
    """Bytes used by the database and its WAL and shared-memory files."""
    if path is None:
        return 0
    total = 0
    for suffix in ("", "-wal", "-shm"):
        with suppress(OSError):
            total += os.stat(f"{path}{suffix}").st_size
    return total


def describe_error(exc: BaseException, path: Path) -> str:
    """A message naming what went wrong with the history file and how to fix it."""
    name = str(getattr(exc, "sqlite_errorname", ""))
    text = str(exc)
    where = path.parent
    if isinstance(exc, OSError):
        return (f"cannot create the data directory {where} ({exc.strerror or exc}); create it, "
                "writable by this user, or set TAMMA_DATA_DIR to a writable directory")
    if name.startswith("SQLITE_FULL") or "disk is full" in text:
        return (f"cannot write history to {path}: the disk is full; free space on that "
                "filesystem, lower retention_s / rollup.retention_s, or set TAMMA_DATA_DIR to "
                "a larger disk")
    if name.startswith("SQLITE_READONLY") or "readonly" in text or "read-only" in text:
        return (f"cannot write history to {path}: the database or {where} is read-only; make "
                "both writable by this user or set TAMMA_DATA_DIR to a writable directory")
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        return (f"cannot open {path}: {where} is missing or not writable; create it, writable "
                "by this user, or set TAMMA_DATA_DIR to a writable directory")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return (f"{path} is locked by another process; run a single collector per data "
                "directory (web-only processes use readonly mode)")
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")) or "not a database" in text:
        return (f"{path} is not a readable tamma-dash history file ({text}); move it aside and "
                "restart to begin a new history")
    return f"cannot use history file {path}: {text}; check the file and its directory"


def is_disk_full(exc: BaseException) -> bool:
    """Full disks keep the connection: nothing about it needs reopening when space returns."""
    return str(getattr(exc, "sqlite_errorname", "")).startswith("SQLITE_FULL")
