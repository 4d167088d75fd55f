"""The Store as readers and the pipeline see it: ticks in, frames out, tiers, reload."""

from __future__ import annotations

import math
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tamma_dash.models import Sample
from tamma_dash.store import HistoryReader, Store
from tamma_dash.store.memory import CLOCK_STEP_EPSILON_S

T0 = 1000.0


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def tick(ts: float, i: int) -> list[Sample]:
    """``a`` = i, ``b`` = -i on even ticks only, ``up`` = 1 with a reason label that changes."""
    out = [Sample(ts, "svc", "a", float(i)),
           Sample(ts, "svc", "up", 1.0, (("reason", f"r{i // 10}"),))]
    if i % 2 == 0:
        out.append(Sample(ts, "svc", "b", -float(i)))
    return out


def run(store: Store, clock: FakeClock, n: int, first: int = 0) -> None:
    """Append ticks ``first..first+n-1`` at 1 s spacing from T0, moving the clock along."""
    for i in range(first, first + n):
        clock.now = T0 + i
        store.append(clock.now, tick(clock.now, i))


def open_store(path: Path | None, clock: FakeClock, **kw: float) -> Store:
    opts = dict(interval_s=1.0, retention_s=20.0, rollup_step_s=10.0, rollup_retention_s=1000.0)
    opts.update(kw)
    return Store.open(path, clock=clock, **opts)  # type: ignore[arg-type]


def db_rows(path: Path, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    with sqlite3.connect(path / "tamma.sqlite3") as conn:
        return conn.execute(sql).fetchall()


def test_store_is_a_history_reader(tmp_path: Path) -> None:
    store = open_store(tmp_path, FakeClock())
    reader: HistoryReader = store
    assert reader.series() == []
    store.close()


def test_reload_after_close_gives_back_exact_values_and_labels(tmp_path: Path) -> None:
    clock = FakeClock()
    store = open_store(tmp_path, clock, retention_s=100.0)
    run(store, clock, 50)
    before = store.frame(["svc/a", "svc/b", "svc/up"], T0, T0 + 49)
    store.close()
    again = open_store(tmp_path, clock, retention_s=100.0)
    after = again.frame(["svc/a", "svc/b", "svc/up"], T0, T0 + 49)
    pd.testing.assert_frame_equal(before, after)
    assert after["svc/a"].tolist() == [float(i) for i in range(50)]
    assert again.latest()["svc/up"].labels == (("reason", "r4"),)
    assert again.latest()["svc/b"].ts == T0 + 48 and again.latest()["svc/b"].value == -48.0
    assert again.series() == ["svc/a", "svc/b", "svc/up"]
    again.close()


def test_old_ticks_leave_memory_and_sqlite(tmp_path: Path) -> None:
    clock = FakeClock()
    store = open_store(tmp_path, clock)
    run(store, clock, 60)  # ts T0 .. T0+59, retention 20 s
    ts = store.frame(["svc/a"], T0 + 35, T0 + 59).index
    assert ts[0] == T0 + 39 and ts[-1] == T0 + 59  # memory keeps ts >= newest - 20 s
    assert store.stats().points_in_memory == 21 + 21 + 10  # a, up, and b on even ticks
    # cleanup runs once per rollup step: at T0+50 it deleted ticks before T0+30
    assert db_rows(tmp_path, "SELECT MIN(ts), MAX(ts), COUNT(*) FROM ticks") == [
        (T0 + 30, T0 + 59, 30)]
    store.close()


def test_rollups_hold_exact_min_max_mean_count(tmp_path: Path) -> None:
    clock = FakeClock()
    store = open_store(tmp_path, clock)
    run(store, clock, 60)
    old = store.rollup_frame(["svc/a", "svc/b"], T0, T0 + 20)  # before the window: from disk
    assert old.index.tolist() == [T0, T0 + 10, T0 + 20]
    assert old[("svc/a", "min")].tolist() == [0.0, 10.0, 20.0]
    assert old[("svc/a", "max")].tolist() == [9.0, 19.0, 29.0]
    assert old[("svc/a", "mean")].tolist() == [4.5, 14.5, 24.5]
    assert old[("svc/a", "count")].tolist() == [10, 10, 10]
    assert old[("svc/b", "mean")].tolist() == [-4.0, -14.0, -24.0]
    assert old[("svc/b", "count")].tolist() == [5, 5, 5]
    new = store.rollup_frame(["svc/a"], T0 + 40, T0 + 59)  # inside the window: from memory
    assert new.index.tolist() == [T0 + 40, T0 + 50]
    assert new[("svc/a", "count")].tolist() == [10, 10]  # 50..59 is the current step
    assert db_rows(tmp_path, "SELECT step_ts FROM rollups") == [
        (T0 + s,) for s in (0, 10, 20, 30, 40)]
    store.close()


def test_rollups_older_than_their_retention_are_deleted(tmp_path: Path) -> None:
    clock = FakeClock()
    store = open_store(tmp_path, clock, rollup_retention_s=30.0)
    run(store, clock, 60)
    # the last cleanup ran when T0+50 arrived: rollups before T0+20 went
    assert db_rows(tmp_path, "SELECT step_ts FROM rollups") == [(T0 + 20,), (T0 + 30,), (T0 + 40,)]
    assert store.stats().oldest_ts == T0 + 20
    store.close()


def test_frame_before_the_window_uses_rollup_means_then_full_resolution(tmp_path: Path) -> None:
    clock = FakeClock()
    store = open_store(tmp_path, clock)
    run(store, clock, 60)
    frame = store.frame(["svc/a", "svc/nope"], T0, T0 + 59)
    expected_ts = [T0, T0 + 10, T0 + 20, T0 + 30] + [T0 + i for i in range(39, 60)]
    assert frame.index.name == "ts" and frame.index.dtype == np.float64
    assert frame.index.tolist() == expected_ts
    assert frame["svc/a"].tolist() == [4.5, 14.5, 24.5, 34.5] + [float(i) for i in range(39, 60)]
    assert frame["svc/nope"].isna().all()
    ts, values = store.points("svc/b", T0 + 25, T0 + 45)
    assert ts == [T0 + 30, T0 + 40, T0 + 42, T0 + 44]
    assert values == [-34.0, -40.0, -42.0, -44.0]
    store.close()


def test_frames_are_copies(tmp_path: Path) -> None:
    clock = FakeClock()
    store = open_store(tmp_path, clock)
    run(store, clock, 5)
    frame = store.frame(["svc/a"], T0, T0 + 4)
    frame.iloc[:, 0] = -1.0
    assert store.frame(["svc/a"], T0, T0 + 4)["svc/a"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    store.close()


def test_clock_stepping_back_never_breaks_order_on_disk_or_in_memory(tmp_path: Path) -> None:
    clock = FakeClock()
    store = open_store(tmp_path, clock)
    run(store, clock, 5)
    store.append(T0 - 100.0, [Sample(T0 - 100.0, "svc", "a", 99.0)])
    store.close()
    again = open_store(tmp_path, clock)
    frame = again.frame(["svc/a"], 0, T0 + 10)
    assert frame.index.tolist()[-2:] == [T0 + 4, T0 + 4 + CLOCK_STEP_EPSILON_S]
    assert frame["svc/a"].tolist()[-1] == 99.0
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    again.close()


def test_nan_and_inf_are_never_stored(tmp_path: Path) -> None:
    clock = FakeClock()
    store = open_store(tmp_path, clock)
    store.append(T0, [Sample(T0, "svc", "a", math.nan), Sample(T0, "svc", "b", -2.0),
                      Sample(T0, "svc", "c", math.inf)])
    store.close()
    again = open_store(tmp_path, clock)
    assert again.series() == ["svc/b"]
    assert again.frame(["svc/b"], T0, T0)["svc/b"].tolist() == [-2.0]
    again.close()


def test_new_series_appearing_mid_way_survive_reload(tmp_path: Path) -> None:
    clock = FakeClock()
    store = open_store(tmp_path, clock)
    run(store, clock, 3)
    store.append(T0 + 3, [Sample(T0 + 3, "new", "m", 5.0, (("unit", "ms"),))])
    store.close()
    again = open_store(tmp_path, clock)
    frame = again.frame(["new/m", "svc/a"], T0, T0 + 3)
    assert frame["new/m"].isna().tolist() == [True, True, True, False]
    assert frame["svc/a"].isna().tolist() == [False, False, False, True]
    assert again.latest()["new/m"].labels == (("unit", "ms"),)
    again.close()


def test_memory_only_store_has_rollups_and_no_disk(tmp_path: Path) -> None:
    clock = FakeClock()
    store = open_store(None, clock)
    run(store, clock, 60)
    stats = store.stats()
    assert stats.disk_bytes == 0 and stats.persist_ok and stats.pending_ticks == 0
    assert store.frame(["svc/a"], T0, T0 + 30)["svc/a"].tolist()[:3] == [4.5, 14.5, 24.5]
    assert not list(tmp_path.iterdir())
    store.close()


def test_bulk_load_and_bulk_rollups_reach_memory_and_disk(tmp_path: Path) -> None:
    clock = FakeClock(T0 + 999)
    store = open_store(tmp_path, clock, retention_s=500.0, rollup_retention_s=5000.0)
    assert store.is_empty()
    steps = np.array([T0 - 20, T0 - 10])
    store.bulk_rollups(steps, {"svc/a": (np.array([1.0, 2.0]), np.array([3.0, 4.0]),
                                         np.array([2.0, 3.0]), np.array([10, 10]))})
    assert not store.is_empty()
    ts = T0 + np.arange(1000.0)
    a = np.arange(1000.0)
    a[5] = np.inf
    store.bulk_load(ts, {"svc/a": a, "svc/c": -a})
    store.close()
    again = open_store(tmp_path, clock, retention_s=500.0, rollup_retention_s=5000.0)
    frame = again.frame(["svc/a"], T0 - 20, T0 + 999)
    assert frame.index.tolist()[:3] == [T0 - 20, T0 - 10, T0]
    # the step at T0 was rolled up from the bulk ticks although they are older than the window
    assert frame["svc/a"].tolist()[:3] == [2.0, 3.0, float(np.float32(40 / 9))]  # inf dropped
    assert frame.index.tolist()[-501:] == list(ts[-501:])
    assert frame["svc/a"].tolist()[-501:] == list(a[-501:])
    assert again.latest()["svc/c"].value == -999.0
    inf_step = again.rollup_frame(["svc/a"], T0, T0)
    assert inf_step[("svc/a", "count")].tolist() == [9]  # the inf was dropped
    with pytest.raises(ValueError, match="ascending"):
        again.bulk_load(np.array([2.0, 1.0]), {"svc/a": np.array([1.0, 1.0])})
    again.close()


def test_readers_in_other_threads_see_consistent_frames(tmp_path: Path) -> None:
    clock = FakeClock()
    store = open_store(tmp_path, clock, retention_s=50.0)
    failures: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                frame = store.frame(["svc/a", "svc/b"], 0, T0 + 1000)
                assert frame.index.is_monotonic_increasing and frame.index.is_unique
                store.latest()
                store.stats()
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for r in readers:
        r.start()
    run(store, clock, 300)
    done.set()
    for r in readers:
        r.join(10)
    assert failures == []
    assert store.frame(["svc/a"], T0 + 250, T0 + 299)["svc/a"].tolist() == [
        float(i) for i in range(250, 300)]
    store.close()


def test_open_rejects_nonsense_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="interval_s"):
        Store.open(tmp_path, interval_s=0.0)
    with pytest.raises(ValueError, match="readonly"):
        Store.open(None, readonly=True)


def test_memory_stays_bounded_after_three_windows_of_ticks() -> None:
    clock = FakeClock()
    store = open_store(None, clock, retention_s=100.0)
    run(store, clock, 110)
    size = store.stats().memory_bytes
    run(store, clock, 220, first=110)
    stats = store.stats()
    assert stats.memory_bytes == size
    assert store._memory.window.rows == store._memory.window.capacity == 108  # 100 + slack
    assert stats.points_in_memory == 101 + 101 + 50  # ts >= newest - 100 s; b on even ticks
    assert stats.newest_ts == T0 + 329
    store.close()


def test_disk_use_stays_bounded_and_is_reported(tmp_path: Path) -> None:
    clock = FakeClock()
    store = open_store(tmp_path, clock, rollup_retention_s=100.0)
    wide = [f"m{j}" for j in range(100)]
    for i in range(2000):
        clock.now = T0 + i
        store.append(clock.now, [Sample(clock.now, "svc", m, float(i)) for m in wide])
    files = [tmp_path / f"tamma.sqlite3{s}" for s in ("", "-wal", "-shm")]
    assert store.stats().disk_bytes == sum(f.stat().st_size for f in files if f.exists())
    assert files[0].stat().st_size < 300_000  # 21 ticks + 10 rollups live, pages reused
    assert store.stats().disk_bytes < 6_000_000  # plus a WAL checkpointed every 4 MB
    store.close()
