"""Backfill: a day at full resolution plus rollups, the collectors' keys, incidents in the data."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime

import numpy as np
import pytest

from tamma_dash.demo.backfill import backfill, expected_keys, incidents
from tamma_dash.demo.model import FleetModel
from tamma_dash.demo.servers import DemoFleet
from tamma_dash.models import series_key

NOW = datetime(2026, 5, 20, 16, 30, 2, tzinfo=UTC).timestamp() + 0.5
Rollup = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class RecordingStore:
    """Stands in for the store's bulk API (arriving later) and keeps what it was given."""

    def __init__(self, empty: bool = True) -> None:
        self.empty = empty
        self.loads: list[tuple[np.ndarray, Mapping[str, np.ndarray]]] = []
        self.rollups: list[tuple[np.ndarray, Mapping[str, Rollup]]] = []

    def is_empty(self) -> bool:
        return self.empty

    def bulk_load(self, ts: np.ndarray, columns: Mapping[str, np.ndarray]) -> None:
        self.loads.append((ts, columns))

    def bulk_rollups(self, step_ts: np.ndarray, columns: Mapping[str, Rollup]) -> None:
        self.rollups.append((step_ts, columns))


@pytest.fixture(scope="module")
def full() -> tuple[RecordingStore, dict[str, object], float]:
    store = RecordingStore()
    started = time.perf_counter()
    summary = backfill(store, FleetModel(42, 5.0), now=NOW, interval_s=5.0)
    return store, summary, time.perf_counter() - started


def window(ts: np.ndarray, key: str, cols: Mapping[str, np.ndarray], start: float,
           end: float) -> np.ndarray:
    return cols[key][(ts >= start) & (ts < end)]


def test_expected_keys_cover_the_fleet() -> None:
    keys = expected_keys(None)
    assert len(keys) == 132
    assert {"api/check:database:connections", "worker-2/scrape_ok", "openai/ratelimit_reset_s",
            "orchestrator/tamma_tasks_failed_rate", "worker-1/tamma_task_duration_p99_ms",
            "database/db_pool_waiting", "dashboard/response_time_p95_ms"} <= keys
    assert "dashboard/check:database:connections" not in keys
    assert "openai/cpu_percent" not in keys


def test_full_resolution_day(full: tuple[RecordingStore, dict[str, object], float]) -> None:
    store, summary, seconds = full
    ((ts, cols),) = store.loads
    assert len(ts) == 17280 and summary["ticks"] == 17280
    assert np.all(np.diff(ts) == 5.0) and ts[-1] < NOW <= ts[-1] + 5.0
    assert set(cols) == expected_keys(None) and summary["series"] == 132
    for key, values in cols.items():
        assert values.shape == (17280,) and values.dtype == np.float64, key
    assert seconds < 15.0  # about 2 s on a quiet machine, rollups included


def test_rollups_cover_the_week_before(
    full: tuple[RecordingStore, dict[str, object], float],
) -> None:
    store, summary, _ = full
    ((ts, _),) = store.loads
    ((steps, cols),) = store.rollups
    assert summary["rollup_steps"] == len(steps)
    assert np.all(np.diff(steps) == 60.0) and steps[0] % 60 == 0
    assert steps[-1] < ts[0] and steps[0] <= ts[0] - 7 * 86400
    assert 7 * 1440 <= len(steps) <= 7 * 1440 + 1
    assert set(cols) == expected_keys(None)
    mins, maxs, means, counts = cols["api/cpu_percent"]
    assert np.all(counts[:-1] == 12) and 0 < counts[-1] <= 12
    assert np.all((mins <= means) & (means <= maxs))


def test_recent_incidents_show_in_the_data(
    full: tuple[RecordingStore, dict[str, object], float],
) -> None:
    store, summary, _ = full
    ((ts, cols),) = store.loads
    by_kind = {(i["service"], i["kind"]): i for i in summary["incidents"]}  # type: ignore[attr-defined]
    down = by_kind[("worker-2", "down")]
    assert down["ends"] - down["started"] == 300 and NOW - down["started"] == pytest.approx(
        14 * 3600, abs=5)
    assert np.all(window(ts, "worker-2/up", cols, down["started"], down["ends"]) == 0)
    assert np.all(window(ts, "worker-2/status", cols, down["started"], down["ends"]) == 2)
    assert np.all(np.isnan(window(ts, "worker-2/cpu_percent", cols, down["started"],
                                  down["ends"])))
    assert np.all(window(ts, "orchestrator/workers_total", cols, down["started"],
                         down["ends"]) == 2)
    pool = by_kind[("database", "db_pool_exhaustion")]
    assert np.all(window(ts, "database/db_pool_waiting", cols, pool["started"], pool["ends"]) > 0)
    assert np.all(window(ts, "database/status", cols, pool["started"], pool["ends"]) == 2)
    assert np.all(window(ts, "database/db_pool_waiting", cols, ts[0], pool["started"]) == 0)
    gh = by_kind[("github", "rate_limit")]
    assert np.all(window(ts, "github/ratelimit_remaining", cols, gh["started"], gh["ends"]) == 0)
    errors = by_kind[("api", "errors")]
    assert np.all(window(ts, "api/error_rate", cols, errors["started"], errors["ends"]) >= 20)
    assert np.all(window(ts, "api/error_rate", cols, ts[0], errors["started"]) < 2)


def test_older_incident_shows_in_the_rollups(
    full: tuple[RecordingStore, dict[str, object], float],
) -> None:
    store, summary, _ = full
    ((steps, cols),) = store.rollups
    leak = next(i for i in summary["incidents"] if i["kind"] == "memory_leak")  # type: ignore[attr-defined, index]
    _, maxs, _, _ = cols["worker-1/memory_percent"]
    during = maxs[(steps >= leak["started"]) & (steps < leak["ends"])]
    assert during.max() > 95 and np.nanmax(maxs[steps < leak["started"]]) < 80


def test_backfill_is_deterministic() -> None:
    a, b = RecordingStore(), RecordingStore()
    for store in (a, b):
        backfill(store, FleetModel(9, 5.0), now=NOW, interval_s=5.0, full_s=3600, rollup_days=0)
    assert a.rollups == b.rollups == []
    for key, values in a.loads[0][1].items():
        np.testing.assert_array_equal(values, b.loads[0][1][key], err_msg=key)


def test_a_store_with_data_is_left_alone() -> None:
    store = RecordingStore(empty=False)
    summary = backfill(store, FleetModel(), now=NOW, interval_s=5.0)
    assert summary["skipped"] is True and summary["ticks"] == 0
    assert store.loads == [] and store.rollups == []


def test_backfill_agrees_with_the_live_fleet_and_teaches_it_the_incidents() -> None:
    clock_now = [NOW]
    fleet = DemoFleet(seed=5, interval_s=5.0, clock=lambda: clock_now[0])
    store = RecordingStore()
    backfill(store, fleet, now=NOW, interval_s=5.0, full_s=600, rollup_days=0)
    ((ts, cols),) = store.loads
    clock_now[0] = float(ts[-1]) + 2.0  # inside the last backfilled tick
    for service, metric, key in (("api", "cpu_percent", "cpu_percent"),
                                 ("orchestrator", "queue_depth", "queue_depth"),
                                 ("database", "db_pool_active", "db_active")):
        live = fleet.state_now(service)[key][0]
        assert cols[series_key(service, metric)][-1] == live
    assert {f.id for f in fleet.book.timeline()} == {f.id for f in incidents(NOW, 5.0)}
    worker2 = next(f for f in fleet.book.timeline() if f.service == "worker-2")
    then = fleet.model.state(worker2.started + 10.0, fleet.book.timeline())["worker-2"]
    assert then["up"][0] == 0.0
    assert fleet.state_now("worker-2")["uptime_s"][0] <= clock_now[0] - worker2.ends


def test_incidents_are_aligned_to_ticks() -> None:
    for fault in incidents(NOW, 5.0):
        assert fault.started % 5.0 == 0 and fault.ends > fault.started
        assert fault.ends <= NOW
