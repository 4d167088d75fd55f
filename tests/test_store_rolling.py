"""The in-memory tier: the bounded window, the series registry, rollup math and the blob codec."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tamma_dash.models import Sample
from tamma_dash.store.memory import CLOCK_STEP_EPSILON_S, Memory
from tamma_dash.store.rolling import COLUMN_CHUNK, RollingWindow
from tamma_dash.store.rollup import (
    ID_DTYPE,
    VALUE_DTYPE,
    encode_tick,
    lookup_for,
    rollup,
    scatter,
    step_start,
)


def fill(window: RollingWindow, n: int, start: float = 0.0, ncols: int = 3) -> None:
    window.ensure_columns(ncols)
    ids = np.arange(ncols)
    for i in range(n):
        window.append(start + i, ids, np.full(ncols, float(i)))


def test_window_stays_at_capacity_after_three_times_as_many_ticks() -> None:
    window = RollingWindow(capacity=500, retention_s=1e9)
    fill(window, 500)
    size = window.nbytes
    fill(window, 1000, start=500)
    assert window.rows == 500
    assert window.count == 500
    assert window.nbytes == size == 500 * 8 + 500 * COLUMN_CHUNK * 8
    ts, vals = window.take(0, window.count)
    np.testing.assert_array_equal(ts, np.arange(1000, 1500, dtype=float))
    np.testing.assert_array_equal(vals[:, 0], np.arange(500, 1000, dtype=float))
    assert window.points == 500 * 3


def test_window_rows_grow_lazily_up_to_capacity() -> None:
    window = RollingWindow(capacity=10_000, retention_s=1e9)
    fill(window, 10)
    assert window.rows == 256
    fill(window, 300, start=10)
    assert window.rows == 512
    assert window.take(0, window.count)[0].tolist() == [float(i) for i in range(310)]


def test_window_drops_ticks_older_than_retention_by_time() -> None:
    window = RollingWindow(capacity=1000, retention_s=10.0)
    fill(window, 30)  # ts 0..29
    assert window.oldest_ts == 19.0  # ts >= newest - retention are kept
    assert window.newest_ts == 29.0
    assert window.count == 11
    assert window.points == 11 * 3


def test_window_select_is_inclusive_and_correct_across_the_wrap() -> None:
    window = RollingWindow(capacity=8, retention_s=1e9)
    fill(window, 13)  # ring wrapped: holds 5..12
    ts, vals = window.select(7.0, 10.0, np.array([1]))
    assert ts.tolist() == [7.0, 8.0, 9.0, 10.0]
    assert vals[:, 0].tolist() == [7.0, 8.0, 9.0, 10.0]
    assert window.count_after(10.0) == 2
    assert window.search(11.5) == 7


def test_window_extend_with_more_ticks_than_capacity_keeps_the_newest() -> None:
    window = RollingWindow(capacity=100, retention_s=1e9)
    window.ensure_columns(2)
    ts = np.arange(250, dtype=float)
    block = np.column_stack([ts * 2, np.where(ts % 2 == 0, ts, np.nan)])
    window.extend(ts, block, np.array([1, 0]))
    got_ts, got = window.take(0, window.count)
    assert got_ts.tolist() == list(ts[150:])
    np.testing.assert_array_equal(got[:, 1], ts[150:] * 2)
    assert window.points == 100 + 50


def test_columns_grow_in_chunks_and_keep_values() -> None:
    window = RollingWindow(capacity=16, retention_s=1e9)
    fill(window, 5, ncols=2)
    window.ensure_columns(COLUMN_CHUNK + 1)
    assert window.ncols == 2 * COLUMN_CHUNK
    _, vals = window.take(0, 5)
    assert vals[:, 1].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert np.isnan(vals[:, 2:]).all()


def sample(ts: float, metric: str, value: float, **labels: str) -> Sample:
    return Sample(ts, "svc", metric, value, tuple(sorted(labels.items())))


def test_nan_and_inf_are_dropped_and_negative_values_kept() -> None:
    memory = Memory(100, 1e9)
    memory.ingest(1.0, [sample(1.0, "a", math.nan), sample(1.0, "b", math.inf),
                        sample(1.0, "c", -math.inf), sample(1.0, "d", -3.5)])
    assert memory.keys == ["svc/d"]
    assert memory.dropped_values == 3
    assert memory.window.points == 1
    assert memory.snapshot_latest()["svc/d"].value == -3.5


def test_clock_stepping_back_stores_the_tick_just_after_the_newest() -> None:
    memory = Memory(100, 1e9)
    memory.ingest(100.0, [sample(100.0, "a", 1.0)])
    stored, _, _ = memory.ingest(40.0, [sample(40.0, "a", 2.0)])
    again, _, _ = memory.ingest(100.0, [sample(100.0, "a", 3.0)])
    assert stored == 100.0 + CLOCK_STEP_EPSILON_S
    assert again == stored + CLOCK_STEP_EPSILON_S
    ts, vals = memory.window.take(0, 3)
    assert bool(np.all(np.diff(ts) > 0))
    assert vals[:, 0].tolist() == [1.0, 2.0, 3.0]
    assert memory.clamped_ticks == 2


def test_new_series_mid_way_have_nan_before_they_appear() -> None:
    memory = Memory(100, 1e9)
    memory.ingest(1.0, [sample(1.0, "a", 1.0)])
    memory.ingest(2.0, [sample(2.0, "a", 2.0), sample(2.0, "b", 20.0, reason="new")])
    _, vals = memory.window.take(0, 2)
    assert memory.keys == ["svc/a", "svc/b"]
    assert np.isnan(vals[0, 1]) and vals[1, 1] == 20.0
    assert memory.snapshot_latest()["svc/b"].labels == (("reason", "new"),)


def test_a_key_twice_in_one_tick_keeps_the_last_value() -> None:
    memory = Memory(100, 1e9)
    memory.ingest(1.0, [sample(1.0, "a", 1.0), sample(1.0, "a", 7.0)])
    assert memory.window.take(0, 1)[1][0, 0] == 7.0


def test_bulk_block_skips_ticks_not_after_the_newest_and_rejects_unsorted_ts() -> None:
    memory = Memory(100, 1e9)
    memory.ingest(5.0, [sample(5.0, "a", 1.0)])
    added, block, cols = memory.ingest_block(np.arange(10.0), {"svc/a": np.arange(10.0) * 10})
    assert added.tolist() == [6.0, 7.0, 8.0, 9.0]
    assert block[:, 0].tolist() == [60.0, 70.0, 80.0, 90.0] and cols.tolist() == [0]
    assert memory.snapshot_latest()["svc/a"].value == 90.0
    with pytest.raises(ValueError, match="ascending"):
        memory.ingest_block(np.array([20.0, 19.0]), {"svc/a": np.array([1.0, 2.0])})


def test_rollup_gives_exact_min_max_mean_count_ignoring_nan() -> None:
    ts = np.arange(100.0, 130.0)  # three 10 s steps
    a = np.arange(30.0)
    b = np.where(ts % 2 == 0, -a, np.nan)
    r = rollup(ts, np.column_stack([a, b]), 10.0)
    assert r.steps.tolist() == [100.0, 110.0, 120.0]
    assert r.mins[:, 0].tolist() == [0.0, 10.0, 20.0]
    assert r.maxs[:, 0].tolist() == [9.0, 19.0, 29.0]
    assert r.means[:, 0].tolist() == [4.5, 14.5, 24.5]
    assert r.counts[:, 0].tolist() == [10, 10, 10]
    assert r.mins[:, 1].tolist() == [-8.0, -18.0, -28.0]
    assert r.means[:, 1].tolist() == [-4.0, -14.0, -24.0]
    assert r.counts[:, 1].tolist() == [5, 5, 5]
    assert step_start(129.9, 10.0) == 120.0


def test_tick_blobs_round_trip_through_scatter() -> None:
    rows = [encode_tick(1.0, np.array([1.5, np.nan, -2.0])),
            encode_tick(2.0, np.array([np.nan] * 3))]
    assert np.frombuffer(rows[0][1], ID_DTYPE).tolist() == [0, 2]
    (matrix,) = scatter([r[1] for r in rows], [[r[2] for r in rows]], [VALUE_DTYPE],
                        lookup_for(np.array([2, -1, 0]), 0), 3)
    assert matrix[0, 0] == -2.0 and matrix[0, 2] == 1.5
    assert np.isnan(matrix[0, 1]) and np.isnan(matrix[1]).all()
