"""Alerts and their transitions in SQLite (WAL), so a restart changes nothing."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any

from tamma_dash.alerts.lifecycle import ACTIVE, Alert, AlertState, Transition
from tamma_dash.models import Severity

_COLUMNS = [f.name for f in fields(Alert)]
_JSON = ("labels", "extra")

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY,
    {", ".join(c + " " + ("TEXT" if c in _JSON else "") for c in _COLUMNS if c != "id")}
);
CREATE TABLE IF NOT EXISTS actions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    action TEXT NOT NULL,
    body TEXT NOT NULL,
    done_at REAL,
    result TEXT
);
CREATE TABLE IF NOT EXISTS transitions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id INTEGER NOT NULL,
    ts REAL NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    actor TEXT NOT NULL,
    comment TEXT NOT NULL
);
"""
INDEXES = """
CREATE INDEX IF NOT EXISTS alerts_state ON alerts(state);
CREATE INDEX IF NOT EXISTS alerts_started ON alerts(started_at);
CREATE INDEX IF NOT EXISTS transitions_alert ON transitions(alert_id);
"""


class AlertStore:
    """One SQLite file owned by the alerting core; safe to share between threads."""

    def __init__(self, path: str | Path, busy_timeout_s: float = 5.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), timeout=busy_timeout_s,
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._add_missing_columns()
        self._db.executescript(INDEXES)

    def _add_missing_columns(self) -> None:
        """Files written by an older version gain the columns added since (as NULL)."""
        have = {row[1] for row in self._db.execute("PRAGMA table_info(alerts)")}
        for name in _COLUMNS:
            if name not in have:
                self._db.execute(f"ALTER TABLE alerts ADD COLUMN {name}")
        self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def next_id(self) -> int:
        """The id the next new alert should take."""
        with self._lock:
            row = self._db.execute("SELECT COALESCE(MAX(id), 0) FROM alerts").fetchone()
        return int(row[0]) + 1

    def write(
        self, saves: Iterable[Alert], transitions: Iterable[Transition],
        deletes: Iterable[int] = (),
    ) -> None:
        """Persist one tick's (or one action's) changes in a single transaction."""
        rows = [_row(a) for a in saves]
        trans = [(t.alert_id, t.ts, t.from_state, t.to_state, t.actor, t.comment)
                 for t in transitions]
        gone = [(i,) for i in deletes]
        if not (rows or trans or gone):
            return
        marks = ", ".join("?" for _ in _COLUMNS)
        with self._lock, self._db:
            self._db.executemany(
                f"INSERT OR REPLACE INTO alerts ({', '.join(_COLUMNS)}) VALUES ({marks})", rows)
            self._db.executemany(
                "INSERT INTO transitions (alert_id, ts, from_state, to_state, actor, comment) "
                "VALUES (?, ?, ?, ?, ?, ?)", trans)
            self._db.executemany("DELETE FROM transitions WHERE alert_id = ?", gone)
            self._db.executemany("DELETE FROM alerts WHERE id = ?", gone)

    def active(self) -> list[Alert]:
        """Every pending, firing or acknowledged alert, oldest first."""
        marks = ", ".join("?" for _ in ACTIVE)
        return self._select(f"state IN ({marks}) ORDER BY id", [s.value for s in ACTIVE])

    def get(self, alert_id: int) -> Alert | None:
        found = self._select("id = ?", [alert_id])
        return found[0] if found else None

    def query(
        self, *, state: str | None = None, service: str | None = None,
        severity: str | None = None, start: float | None = None, end: float | None = None,
        limit: int = 500,
    ) -> list[Alert]:
        """Alerts matching every given filter that were open at some time in [start, end]."""
        where: list[str] = ["1=1"]
        args: list[Any] = []
        for column, value in (("state", state), ("service", service)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if severity is not None:
            where.append("severity = ?")
            args.append(int(Severity[severity.upper()]))
        if start is not None:
            where.append("(resolved_at IS NULL OR resolved_at >= ?)")
            args.append(start)
        if end is not None:
            where.append("started_at <= ?")
            args.append(end)
        return self._select(f"{' AND '.join(where)} ORDER BY id DESC LIMIT ?", [*args, limit])

    def transitions(self, alert_ids: Iterable[int]) -> dict[int, list[Transition]]:
        """The transitions of each alert, oldest first."""
        ids = list(alert_ids)
        out: dict[int, list[Transition]] = {i: [] for i in ids}
        if not ids:
            return out
        marks = ", ".join("?" for _ in ids)
        with self._lock:
            rows = self._db.execute(
                "SELECT alert_id, ts, from_state, to_state, actor, comment FROM transitions "
                f"WHERE alert_id IN ({marks}) ORDER BY seq", ids).fetchall()
        for row in rows:
            out[int(row[0])].append(Transition(*row))
        return out

    # -- actions from web-only processes, applied by the one collector ----------------------

    def enqueue(self, action: str, body: dict[str, Any], ts: float) -> int:
        """Queue an action (ack, resolve, ingest) for the collector; returns its number."""
        with self._lock, self._db:
            cur = self._db.execute("INSERT INTO actions (ts, action, body) VALUES (?, ?, ?)",
                                   (ts, action, json.dumps(body)))
        return int(cur.lastrowid or 0)

    def pending_actions(self, limit: int = 100) -> list[tuple[int, str, dict[str, Any]]]:
        """Queued actions not applied yet, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT seq, action, body FROM actions WHERE done_at IS NULL "
                                    "ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [(int(r[0]), str(r[1]), json.loads(r[2])) for r in rows]

    def finish_action(self, seq: int, result: dict[str, Any], ts: float) -> None:
        """Record what applying action ``seq`` gave; old finished actions are pruned."""
        with self._lock, self._db:
            self._db.execute("UPDATE actions SET done_at = ?, result = ? WHERE seq = ?",
                             (ts, json.dumps(result), seq))
            self._db.execute("DELETE FROM actions WHERE done_at < ?", (ts - 3600.0,))

    def action_result(self, seq: int) -> dict[str, Any] | None:
        """The result of action ``seq`` once the collector applied it, else None."""
        with self._lock:
            row = self._db.execute("SELECT result FROM actions WHERE seq = ? AND done_at IS NOT "
                                   "NULL", (seq,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def _select(self, where: str, args: list[Any]) -> list[Alert]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM alerts WHERE {where}", args).fetchall()
        return [_alert(r) for r in rows]


def _row(alert: Alert) -> tuple[Any, ...]:
    out: list[Any] = []
    for name in _COLUMNS:
        value = getattr(alert, name)
        if name in _JSON:
            value = json.dumps(value, sort_keys=True)
        elif name == "severity":
            value = int(value)
        elif name == "state":
            value = value.value
        out.append(value)
    return tuple(out)


def _alert(row: tuple[Any, ...]) -> Alert:
    # NULL (a column added after the row was written) takes the field's default
    data = {k: v for k, v in zip(_COLUMNS, row, strict=True) if v is not None}
    for name in _JSON:
        if name in data:
            data[name] = json.loads(data[name])
    data["severity"] = Severity(data["severity"])
    data["state"] = AlertState(data["state"])
    return Alert(**data)
