"""Per-tick shared work: one computation per tick across workers, on Redis and on files.

Redis is Debian's ``redis-server`` (apt package ``redis-server``), started here on loopback.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from flask import Flask

from tamma_dash.cache import AtomicFileSystemCache, backend_of, make_cache, per_tick, redact
from tamma_dash.config import ServiceConfig, Settings
from tamma_dash.models import M, Sample, ServiceKind
from tamma_dash.runtime import Runtime

from .conftest import wait_for

PASSWORD = "s3cret-redis-pw"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_answers(port: int) -> bool:
    import redis

    try:
        return bool(redis.Redis(host="127.0.0.1", port=port, password=PASSWORD,
                                socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--requirepass", PASSWORD, "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: proc.poll() is not None or redis_answers(port), timeout=20)
        assert proc.poll() is None, "redis-server exited at start"
        yield f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, interval_s=0.5)


def two_workers(data_dir: Path, env: dict[str, str]) -> tuple[object, object]:
    """Two caches as two worker processes would build them: separate apps, same config."""
    return (make_cache(Flask("worker-a"), settings(data_dir), env),
            make_cache(Flask("worker-b"), settings(data_dir), env))


class Counter:
    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> dict[str, int]:
        with self._lock:
            self.calls += 1
            return {"computed": self.calls}


BACKENDS = ["redis", "files"]


@pytest.fixture(params=BACKENDS)
def workers(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[object, object]:
    env = {"TAMMA_REDIS_URL": request.getfixturevalue("redis_url")} \
        if request.param == "redis" else {}
    return two_workers(tmp_path, env)


def test_backend_is_redis_with_the_env_and_files_without(redis_url: str, tmp_path: Path) -> None:
    on_redis, _ = two_workers(tmp_path, {"TAMMA_REDIS_URL": redis_url})
    on_files, _ = two_workers(tmp_path, {})
    assert type(backend_of(on_redis)).__name__ == "RedisCache"  # type: ignore[arg-type]
    assert isinstance(backend_of(on_files), AtomicFileSystemCache)  # type: ignore[arg-type]
    assert (tmp_path / "cache").is_dir()


def test_two_workers_compute_once_per_tick(workers: tuple[object, object]) -> None:
    a, b = workers
    count = Counter()
    first = [per_tick(w, "snapshot", 1000.0, count) for w in (a, b, a, b)]  # type: ignore[arg-type]
    assert count.calls == 1
    assert first == [{"computed": 1}] * 4
    assert per_tick(b, "snapshot", 1000.5, count) == {"computed": 2}  # type: ignore[arg-type]
    assert per_tick(a, "snapshot", 1000.5, count) == {"computed": 2}  # type: ignore[arg-type]
    assert per_tick(a, "other", 1000.5, count) == {"computed": 3}  # type: ignore[arg-type]
    assert count.calls == 3


def test_concurrent_workers_share_one_computation(workers: tuple[object, object]) -> None:
    a, b = workers
    count = Counter()
    start = threading.Barrier(8)
    results: list[object] = []

    def slow() -> dict[str, int]:
        done = threading.Event()
        done.wait(0.05)  # the work takes a while, so the other callers arrive during it
        return count()

    def client(i: int) -> None:
        start.wait()
        results.append(per_tick([a, b][i % 2], "frame", 7.0, slow, wait_s=20))  # type: ignore[list-item]

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert count.calls == 1
    assert results == [{"computed": 1}] * 8


def test_none_is_cached_like_any_value(workers: tuple[object, object]) -> None:
    a, b = workers
    calls: list[int] = []
    assert per_tick(a, "nothing", 1.0, lambda: calls.append(1)) is None  # type: ignore[arg-type,func-returns-value]
    assert per_tick(b, "nothing", 1.0, lambda: calls.append(1)) is None  # type: ignore[arg-type,func-returns-value]
    assert calls == [1]


def test_no_tick_or_no_cache_just_computes(tmp_path: Path) -> None:
    a, _ = two_workers(tmp_path, {})
    count = Counter()
    per_tick(a, "x", None, count)  # type: ignore[arg-type]
    per_tick(None, "x", 1.0, count)
    per_tick(None, "x", 1.0, count)
    assert count.calls == 3


def test_redis_down_computes_and_logs_no_password(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"  # nothing listens there
    a, b = two_workers(tmp_path, {"TAMMA_REDIS_URL": url})
    count = Counter()
    assert per_tick(a, "snapshot", 1.0, count) == {"computed": 1}  # type: ignore[arg-type]
    assert per_tick(b, "snapshot", 1.0, count) == {"computed": 2}  # type: ignore[arg-type]
    assert "shared cache read failed" in caplog.text
    assert "redis://:***@127.0.0.1" in caplog.text
    assert PASSWORD not in caplog.text


def test_password_never_logged_with_a_live_redis(
    caplog: pytest.LogCaptureFixture, redis_url: str, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    a, _ = two_workers(tmp_path, {"TAMMA_REDIS_URL": redis_url})
    per_tick(a, "snapshot", 3.0, Counter())  # type: ignore[arg-type]
    assert "Redis at redis://:***@127.0.0.1" in caplog.text
    assert PASSWORD not in caplog.text


def test_redact_keeps_user_host_and_path() -> None:
    assert redact("redis://app:pw@cache.internal:6380/2") == "redis://app:***@cache.internal:6380/2"
    assert redact("redis://cache:6379/0") == "redis://cache:6379/0"


def test_expired_file_lock_can_be_claimed_again(tmp_path: Path) -> None:
    a, b = two_workers(tmp_path, {})
    fs = backend_of(a)  # type: ignore[arg-type]
    assert fs.add("k", 1, timeout=60) is True
    assert backend_of(b).add("k", 2, timeout=60) is False  # type: ignore[arg-type]
    assert fs.get("k") == 1
    fs.set("gone", 1, timeout=-1)  # already expired
    assert fs.add("gone", 3, timeout=60) is True
    assert fs.get("gone") == 3


# --- the UI's context shares the snapshot and frames per tick (file-system cache) ---

T0 = 1_767_225_600.0


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[Runtime]:
    from tamma_dash.runtime import build
    from tamma_dash.ui import context

    services = (ServiceConfig("api", ServiceKind.API),)
    rt = build(Settings(data_dir=tmp_path, demo=False, host_metrics=False, interval_s=1.0,
                        services=services), "run", clock=FakeClock(T0))
    context.set_runtime(rt)
    yield rt
    rt.store.close()


def tick(rt: Runtime, i: int) -> float:
    ts = T0 + i
    rt.store.append(ts, [Sample(ts, "api", M.UP, 1.0), Sample(ts, "api", M.CPU, float(i)),
                         Sample(ts, "api", M.STATUS, 0.0)])
    rt.clock.now = ts  # type: ignore[attr-defined]
    return ts


def test_snapshot_is_computed_once_per_tick_and_seen_by_another_worker(ui: Runtime) -> None:
    from tamma_dash.ui import context

    ts = tick(ui, 1)
    doc = context.snapshot()
    ui.clock.now = ts + 0.5  # type: ignore[attr-defined]  # same tick, later instant
    assert context.snapshot() == doc  # shared: not rebuilt for the later instant
    other = make_cache(Flask("another-worker"), ui.settings)

    def must_not_run() -> dict[str, object]:
        raise AssertionError("the other worker recomputed a snapshot of the same tick")

    assert per_tick(other, "snapshot", ts, must_not_run) == doc
    tick(ui, 2)
    newer = context.snapshot()
    assert newer["timestamp"] != doc["timestamp"]
    assert newer["services"]["api"]["cpu"] == 2.0


def test_shared_frames_equal_the_store_for_any_range(ui: Runtime) -> None:
    from tamma_dash.ui import context

    for i in range(120):
        last = tick(ui, i)
    keys = [f"api/{M.CPU}", f"api/{M.UP}", "api/unknown"]
    ranges = [(T0, last), (T0 + 10.3, last + 0.7), (T0 + 10.3, T0 + 50.9), (last - 5.5, last),
              (T0 - 100, T0 + 3), (last + 1, last + 9)]
    for start, end in ranges:
        got = context.frame(keys, start, end)
        pd.testing.assert_frame_equal(got, ui.store.frame(keys, start, end))
    tick(ui, 120)
    assert context.frame(keys, last - 5.5, last + 1)[f"api/{M.CPU}"].iloc[-1] == 120.0


def test_live_frames_of_one_tick_share_one_read(ui: Runtime) -> None:
    from tamma_dash.ui import context

    for i in range(30):
        last = tick(ui, i)
    backend = backend_of(context.shared_cache())  # type: ignore[arg-type]
    before = len(list(backend._list_dir()))
    context.frame([f"api/{M.CPU}"], last - 10.2, last + 0.1)
    context.frame([f"api/{M.CPU}"], last - 10.4, last + 0.3)  # another client, same tick
    assert len(list(backend._list_dir())) - before == 2  # one value and its claim
