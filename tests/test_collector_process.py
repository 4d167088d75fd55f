"""The process collector against real processes, plus a fake psutil where only it can deny."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pytest

from tamma_dash.collectors.process import ProcessCollector
from tamma_dash.config import ProcessMatch, ServiceConfig
from tamma_dash.models import Sample, ServiceKind

FIXTURES = Path(__file__).parent / "fixtures" / "proc"

SLEEPER = "import time; print('ready', flush=True); time.sleep(60)"
Spawn = Callable[[str], "subprocess.Popen[bytes]"]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start sleepers whose command line carries a marker; all are killed at teardown."""
    children: list[subprocess.Popen[bytes]] = []

    def start(marker: str) -> subprocess.Popen[bytes]:
        child = subprocess.Popen([sys.executable, "-c", SLEEPER, marker], stdout=subprocess.PIPE)
        children.append(child)
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"  # started
        return child

    yield start
    for child in children:
        stop(child)


def stop(child: subprocess.Popen[bytes]) -> None:
    child.kill()
    child.wait(10)
    if child.stdout is not None:
        child.stdout.close()


def worker(**match: str) -> ServiceConfig:
    return ServiceConfig("worker", ServiceKind.WORKER, process=ProcessMatch(**match))


def values(samples: list[Sample]) -> dict[str, float]:
    return {s.metric: s.value for s in samples}


def up(samples: list[Sample]) -> Sample:
    return next(s for s in samples if s.metric == "process_up")


def marker() -> str:
    return f"tamma-test-{uuid.uuid4().hex}"


def test_cmdline_pattern_finds_and_sums_every_matching_process(spawn: Spawn) -> None:
    tag = marker()
    children = [spawn(tag), spawn(tag)]
    clock = SimpleNamespace(now=0.0)
    collector = ProcessCollector([worker(cmdline=rf"time\.sleep\(60\) {tag}$")],
                                 clock=lambda: clock.now)
    first = collector.collect()
    clock.now = 5.0
    second = values(collector.collect())
    assert up(first).labels == (("match", "cmdline"),)
    assert values(first)["process_count"] == 2.0 and "process_cpu_percent" not in values(first)
    rss = sum(psutil.Process(c.pid).memory_info().rss for c in children)
    assert 0.5 * rss <= second["process_rss_bytes"] <= 2.0 * rss
    assert second["process_threads"] >= 2.0 and second["process_open_files"] >= 0.0
    assert second["process_cpu_percent"] >= 0.0 and second["process_memory_percent"] > 0.0


def test_pid_file_wins_over_a_pattern_and_a_missing_one_falls_back(
    spawn: Spawn, tmp_path: Path
) -> None:
    tag = marker()
    first, _ = spawn(tag), spawn(tag)
    pid_file = tmp_path / "worker.pid"
    pid_file.write_text(f"{first.pid}\n")
    by_file = up(ProcessCollector([worker(pid_file=str(pid_file), cmdline=tag)]).collect())
    assert by_file.labels == (("match", "pid_file"), ("pid", str(first.pid)))
    missing = str(tmp_path / "absent.pid")
    samples = ProcessCollector([worker(pid_file=missing, cmdline=tag)]).collect()
    assert up(samples).label("match") == "cmdline" and values(samples)["process_count"] == 2.0


@pytest.mark.parametrize(("pid_file", "reason", "detail"), [
    (FIXTURES / "absent.pid", "pid_file_missing", "does not exist"),
    (FIXTURES / "invalid.pid", "pid_file_invalid", "holds 'not-a-pid', not a pid"),
    (FIXTURES, "pid_file_missing", "unreadable: IsADirectoryError"),
])
def test_unusable_pid_files_are_reasons(pid_file: Path, reason: str, detail: str) -> None:
    [sample] = ProcessCollector([worker(pid_file=str(pid_file))]).collect()
    assert (sample.metric, sample.value, sample.label("reason")) == ("process_up", 0.0, reason)
    assert detail in sample.label("detail")


def test_stale_pid_file_is_not_found(spawn: Spawn, tmp_path: Path) -> None:
    child = spawn(marker())
    stop(child)
    pid_file = tmp_path / "stale.pid"
    pid_file.write_text(str(child.pid))
    [sample] = ProcessCollector([worker(pid_file=str(pid_file))]).collect()
    assert sample.label("reason") == "not_found"
    assert sample.label("detail") == (
        f"pid {child.pid} from {pid_file} is not running (stale pid file)")


def test_a_process_that_exits_between_ticks_is_down_then_found_again(spawn: Spawn) -> None:
    tag = marker()
    child = spawn(tag)
    collector = ProcessCollector([worker(cmdline=tag)])
    assert up(collector.collect()).value == 1.0
    stop(child)
    [down] = collector.collect()
    assert (down.value, down.label("reason")) == (0.0, "not_found")
    assert down.label("detail") == f"no command line matches {tag!r}"
    spawn(tag)
    assert up(collector.collect()).value == 1.0


def test_reasons_cover_every_method_tried_and_a_bad_pattern_is_named() -> None:
    [sample] = ProcessCollector(
        [worker(name="no-such-process-name-xyz", cmdline="([unclosed")]).collect()
    assert sample.label("reason") == "bad_pattern"
    assert sample.label("detail").startswith("cmdline pattern '([unclosed' is not a valid regex")
    assert "no process named 'no-such-process-name-xyz'" in sample.label("detail")


def test_the_collectors_own_process_never_matches() -> None:
    own = "^" + re.escape(" ".join(psutil.Process().cmdline())) + "$"
    [sample] = ProcessCollector([worker(cmdline=own)]).collect()
    assert (sample.value, sample.label("reason")) == (0.0, "not_found")


# ---- a fake psutil, for what a test cannot make the real one do --------------------------


class FakeProcess:
    def __init__(self, pid: int, *, rss: int, cpu: float, created: float = 1.0,
                 denied: tuple[str, ...] = ()) -> None:
        self.pid, self.rss, self.cpu, self.created, self.denied = pid, rss, cpu, created, denied
        self.info = {"name": "tamma-worker", "cmdline": ["tamma-worker"], "status": "sleeping"}
        self.running = True
        self.cpu_calls = 0

    def _check(self, what: str) -> None:
        if not self.running:
            raise psutil.NoSuchProcess(self.pid)
        if what in self.denied:
            raise psutil.AccessDenied(self.pid)

    def oneshot(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def is_running(self) -> bool:
        return self.running

    def status(self) -> str:
        self._check("status")
        return "sleeping"

    def create_time(self) -> float:
        return self.created

    def cpu_percent(self, interval: float | None = None) -> float:
        self._check("cpu_percent")
        self.cpu_calls += 1
        return 0.0 if self.cpu_calls == 1 else self.cpu

    def memory_info(self) -> SimpleNamespace:
        self._check("memory_info")
        return SimpleNamespace(rss=self.rss)

    def memory_percent(self) -> float:
        self._check("memory_percent")
        return self.rss / 100.0

    def num_threads(self) -> int:
        self._check("num_threads")
        return 4

    def open_files(self) -> list[object]:
        self._check("open_files")
        return [object()] * 3


class FakePsutil:
    Error, NoSuchProcess, AccessDenied = psutil.Error, psutil.NoSuchProcess, psutil.AccessDenied
    STATUS_ZOMBIE = psutil.STATUS_ZOMBIE

    def __init__(self, *procs: FakeProcess, denied_pids: tuple[int, ...] = ()) -> None:
        self.table = {p.pid: p for p in procs}
        self.denied_pids = denied_pids

    def Process(self, pid: int) -> FakeProcess:  # psutil's name
        if pid in self.denied_pids:
            raise psutil.AccessDenied(pid)
        proc = self.table.get(pid)
        if proc is None or not proc.running:
            raise psutil.NoSuchProcess(pid)
        return proc

    def process_iter(self, attrs: list[str]) -> list[FakeProcess]:
        return [p for p in self.table.values() if p.running]


def fake_collector(fake: Any, **match: str) -> ProcessCollector:
    return ProcessCollector([worker(**match)], psutil_module=fake, clock=lambda: 0.0,
                            read_text=lambda path: "42\n" if path.name == "worker.pid" else "")


def test_denied_metrics_are_skipped_and_named_while_the_rest_are_summed_exactly() -> None:
    fake = FakePsutil(FakeProcess(41, rss=100, cpu=10.0),
                      FakeProcess(42, rss=200, cpu=25.0, denied=("open_files",)))
    collector = fake_collector(fake, name="tamma-worker")
    collector.collect()
    samples = collector.collect()
    assert values(samples) == {
        "process_up": 1.0, "process_count": 2.0, "process_cpu_percent": 35.0,
        "process_rss_bytes": 300.0, "process_memory_percent": 3.0, "process_threads": 8.0,
    }
    assert up(samples).labels == (("denied", "process_open_files"), ("match", "name"))


def test_a_pid_we_may_not_inspect_is_access_denied() -> None:
    fake = FakePsutil(FakeProcess(42, rss=1, cpu=1.0), denied_pids=(42,))
    [sample] = fake_collector(fake, pid_file="/run/worker.pid").collect()  # holds "42"
    assert (sample.label("reason"), sample.label("detail")) == (
        "access_denied", "pid 42 (from /run/worker.pid) may not be inspected")


def test_a_reused_pid_is_found_anew_and_gives_no_cpu_on_its_first_tick() -> None:
    old = FakeProcess(4242, rss=100, cpu=50.0, created=1.0)
    fake = FakePsutil(old)
    collector = ProcessCollector([worker(pid_file=str(FIXTURES / "padded.pid"))],
                                 psutil_module=fake, clock=lambda: 0.0)
    collector.collect()
    assert values(collector.collect())["process_cpu_percent"] == 50.0
    old.running = False  # psutil's is_running() turns false when the create time differs
    fake.table[4242] = FakeProcess(4242, rss=700, cpu=5.0, created=2.0)
    got = values(collector.collect())
    assert got["process_rss_bytes"] == 700.0 and "process_cpu_percent" not in got
    assert values(collector.collect())["process_cpu_percent"] == 5.0


def test_workers_started_later_are_found_by_the_periodic_rescan() -> None:
    first = FakeProcess(41, rss=100, cpu=10.0)
    fake = FakePsutil(first)
    clock = SimpleNamespace(now=0.0)
    collector = ProcessCollector([worker(name="tamma-worker")], psutil_module=fake,
                                 clock=lambda: clock.now, rescan_s=30.0)
    collector.collect()
    fake.table[42] = FakeProcess(42, rss=200, cpu=20.0)
    clock.now = 5.0
    assert values(collector.collect())["process_count"] == 1.0  # not yet due
    clock.now = 30.0
    rescanned = values(collector.collect())
    assert rescanned["process_count"] == 2.0 and "process_cpu_percent" not in rescanned
    clock.now = 35.0
    assert values(collector.collect())["process_cpu_percent"] == 30.0
    assert first.cpu_calls == 3  # primed at 0 s, read at 5 s and 35 s: never primed again
