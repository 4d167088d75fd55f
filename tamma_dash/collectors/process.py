"""CPU, memory, threads and open files of each configured service's processes on this host.

A service's ``process`` config is tried in order pid file, name, command-line regex; the first
that finds a live process wins. Several processes matching a name or pattern (a worker pool) are
summed, and ``process_count`` says how many. ``process_up`` is 1 (labels ``match`` and, for one
process, ``pid``), or 0 with ``reason`` ``pid_file_missing`` / ``pid_file_invalid`` /
``not_found`` / ``access_denied`` / ``bad_pattern`` (of the first method tried) and a ``detail``
covering every method tried.

Found processes are cached between ticks (psutil's ``is_running`` compares the creation time, so
a reused pid is not mistaken for ours); a dead or zombie process is looked up again at once, and
every ``rescan_s`` the lookup is redone (a rewritten pid file, new workers); processes found
again keep their CPU baseline.
``process_cpu_percent`` is psutil's per-process figure (100 = one full core) since the previous
tick, so a tick that found a new process gives none. A metric psutil denies (AccessDenied) for
any of the processes is skipped and named in the ``denied`` label of ``process_up``. The
collector's own process never matches a name or pattern.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from tamma_dash.config import ProcessMatch, ServiceConfig
from tamma_dash.models import Clock, M, Sample, make_labels

PROCESS_UP = "process_up"
PROCESS_COUNT = "process_count"
PID_FILE_MISSING = "pid_file_missing"
PID_FILE_INVALID = "pid_file_invalid"
NOT_FOUND = "not_found"
ACCESS_DENIED = "access_denied"
BAD_PATTERN = "bad_pattern"

ReadText = Callable[[Path], str]


@dataclass(frozen=True)
class Miss:
    """Why a lookup found nothing: a reason word and a sentence for people."""

    reason: str
    detail: str


@dataclass
class Tracked:
    """The processes found for one service, and how and when they were found."""

    procs: list[Any]  # psutil.Process (or the injected module's equivalent)
    how: str  # pid_file | name | cmdline
    found_at: float
    fresh: bool  # found this tick: CPU% has no interval yet


class ProcessCollector:
    """Samples each service's processes; psutil, the clock and file reading are injectable."""

    name = "process"

    def __init__(
        self,
        services: Sequence[ServiceConfig],
        *,
        psutil_module: Any = psutil,
        clock: Clock = time.time,
        read_text: ReadText = Path.read_text,
        rescan_s: float = 30.0,
    ) -> None:
        self._services = [s for s in services if s.process is not None]
        self._ps = psutil_module
        self._clock = clock
        self._read_text = read_text
        self._rescan_s = rescan_s
        self._self_pid = os.getpid()
        self._tracked: dict[str, Tracked] = {}
        self._patterns: dict[str, re.Pattern[str] | Miss] = {}
        for svc in self._services:
            if svc.process is not None and svc.process.cmdline:
                self._patterns[svc.name] = _compile(svc.process.cmdline)

    def collect(self) -> list[Sample]:
        """One reading per configured service; a missing process is ``process_up=0``."""
        ts = self._clock()
        out: list[Sample] = []
        for svc in self._services:
            out.extend(self._service(svc, ts))
        return out

    def _service(self, svc: ServiceConfig, ts: float) -> list[Sample]:
        tracked = self._refresh(svc, ts)
        if isinstance(tracked, Miss):
            self._tracked.pop(svc.name, None)
            labels = make_labels(reason=tracked.reason, detail=tracked.detail)
            return [Sample(ts, svc.name, PROCESS_UP, 0.0, labels)]
        sums, denied, alive = self._measure(tracked)
        if not alive:
            self._tracked.pop(svc.name, None)
            labels = make_labels(reason=NOT_FOUND, detail="the process exited while being read")
            return [Sample(ts, svc.name, PROCESS_UP, 0.0, labels)]
        tracked.procs = alive
        pid = alive[0].pid if len(alive) == 1 else None
        labels = make_labels(match=tracked.how, pid=pid, denied=",".join(denied))
        out = [Sample(ts, svc.name, PROCESS_UP, 1.0, labels),
               Sample(ts, svc.name, PROCESS_COUNT, float(len(alive)))]
        out.extend(Sample(ts, svc.name, metric, value) for metric, value in sums.items())
        return out

    def _refresh(self, svc: ServiceConfig, ts: float) -> Tracked | Miss:
        """The cached processes if all still live and not due a re-scan, else a fresh lookup."""
        old = self._tracked.get(svc.name)
        if old is not None:
            old.fresh = False
            due = not 0.0 <= ts - old.found_at < self._rescan_s  # clock stepped back: due too
            if not due and all(self._alive(p) for p in old.procs):
                return old
        found = self._find(svc)
        if isinstance(found, Miss):
            return found
        procs, how = found
        known = {(p.pid, self._created(p)): p for p in (old.procs if old else [])}
        kept = [known.get((p.pid, self._created(p)), p) for p in procs]
        reused = {id(p) for p in known.values()}
        new = [p for p in kept if id(p) not in reused]
        for proc in new:
            self._prime(proc)
        tracked = Tracked(kept, how, ts, fresh=bool(new))
        self._tracked[svc.name] = tracked
        return tracked

    def _find(self, svc: ServiceConfig) -> tuple[list[Any], str] | Miss:
        """Pid file, then name, then command line: the first that finds a process wins."""
        match = svc.process or ProcessMatch()
        misses: list[Miss] = []
        if match.pid_file:
            by_file = self._by_pid_file(match.pid_file)
            if not isinstance(by_file, Miss):
                return [by_file], "pid_file"
            misses.append(by_file)
        pattern = self._patterns.get(svc.name)
        if isinstance(pattern, Miss):
            misses.append(pattern)
            pattern = None
        if match.name or pattern is not None:
            by_name, by_cmdline = self._scan(match.name, pattern)
            if by_name:
                return by_name, "name"
            if match.name:
                misses.append(Miss(NOT_FOUND, f"no process named {match.name!r}"))
            if by_cmdline:
                return by_cmdline, "cmdline"
            if pattern is not None:
                misses.append(Miss(NOT_FOUND, f"no command line matches {pattern.pattern!r}"))
        if not misses:
            return Miss(NOT_FOUND, "process has no pid_file, name or cmdline to look for")
        return Miss(misses[0].reason, "; ".join(m.detail for m in misses))

    def _by_pid_file(self, pid_file: str) -> Any | Miss:
        try:
            text = self._read_text(Path(pid_file))
        except FileNotFoundError:
            return Miss(PID_FILE_MISSING, f"pid file {pid_file} does not exist")
        except PermissionError:
            return Miss(ACCESS_DENIED, f"pid file {pid_file} is not readable by this user")
        except (OSError, UnicodeDecodeError) as exc:
            return Miss(PID_FILE_MISSING, f"pid file {pid_file} unreadable: {type(exc).__name__}")
        token = text.strip()
        if not token.isdigit() or int(token) <= 0:
            return Miss(PID_FILE_INVALID, f"pid file {pid_file} holds {token[:20]!r}, not a pid")
        pid = int(token)
        try:
            proc = self._ps.Process(pid)
            if proc.status() != self._ps.STATUS_ZOMBIE:
                return proc
        except self._ps.AccessDenied:
            return Miss(ACCESS_DENIED, f"pid {pid} (from {pid_file}) may not be inspected")
        except self._ps.NoSuchProcess:
            pass
        return Miss(NOT_FOUND, f"pid {pid} from {pid_file} is not running (stale pid file)")

    def _scan(
        self, name: str | None, pattern: re.Pattern[str] | None
    ) -> tuple[list[Any], list[Any]]:
        """One pass over the process table: processes matching the name, and the pattern."""
        by_name: list[Any] = []
        by_cmdline: list[Any] = []
        for proc in self._ps.process_iter(["name", "cmdline", "status"]):
            info = proc.info
            if proc.pid == self._self_pid or info.get("status") == self._ps.STATUS_ZOMBIE:
                continue
            if name and info.get("name") == name:
                by_name.append(proc)
            elif pattern is not None and pattern.search(" ".join(info.get("cmdline") or ())):
                by_cmdline.append(proc)
        return by_name, by_cmdline

    def _created(self, proc: Any) -> float | None:
        """A process's creation time: with the pid, what tells a process from a reused pid."""
        try:
            return float(proc.create_time())
        except self._ps.Error:
            return None

    def _alive(self, proc: Any) -> bool:
        try:
            return bool(proc.is_running()) and proc.status() != self._ps.STATUS_ZOMBIE
        except self._ps.Error:
            return False

    def _prime(self, proc: Any) -> None:
        """Start the CPU interval of a newly found process (its first reading is meaningless)."""
        with contextlib.suppress(self._ps.Error):  # gone or denied: the measurement says so
            proc.cpu_percent(interval=None)

    def _measure(self, tracked: Tracked) -> tuple[dict[str, float], list[str], list[Any]]:
        """Sum each metric over the live processes: (sums, denied metric names, live procs)."""
        sums: dict[str, float] = {}
        denied: set[str] = set()
        alive: list[Any] = []
        for proc in tracked.procs:
            readings = self._read(proc, skip_cpu=tracked.fresh)
            if readings is None:
                continue
            alive.append(proc)
            for metric, value in readings.items():
                if value is None:
                    denied.add(metric)
                else:
                    sums[metric] = sums.get(metric, 0.0) + value
        for metric in denied:
            sums.pop(metric, None)  # a partial sum would understate the service
        return sums, sorted(denied), alive

    def _read(self, proc: Any, *, skip_cpu: bool) -> dict[str, float | None] | None:
        """One process's readings (None where denied), or None if it is gone."""
        readers: dict[str, Callable[[], float]] = {
            M.PROC_RSS: lambda: float(proc.memory_info().rss),
            M.PROC_MEMORY: lambda: float(proc.memory_percent()),
            M.PROC_THREADS: lambda: float(proc.num_threads()),
            M.PROC_OPEN_FILES: lambda: float(len(proc.open_files())),
        }
        if not skip_cpu:
            readers = {M.PROC_CPU: lambda: float(proc.cpu_percent(interval=None)), **readers}
        out: dict[str, float | None] = {}
        try:
            with proc.oneshot():
                if proc.status() == self._ps.STATUS_ZOMBIE:
                    return None
                for metric, reader in readers.items():
                    try:
                        out[metric] = reader()
                    except self._ps.AccessDenied:
                        out[metric] = None
        except self._ps.NoSuchProcess:  # includes ZombieProcess
            return None
        return out


def _compile(pattern: str) -> re.Pattern[str] | Miss:
    try:
        return re.compile(pattern)
    except re.error as exc:
        return Miss(BAD_PATTERN, f"cmdline pattern {pattern!r} is not a valid regex ({exc}); "
                                 "fix services[].process.cmdline")
