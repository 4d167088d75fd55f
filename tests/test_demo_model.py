"""The demo fleet model: deterministic, shaped like a day, correlated, and faults that bite."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from tamma_dash.collectors.promrates import MetricsInterpreter
from tamma_dash.collectors.promrates import histogram_quantile as collector_quantile
from tamma_dash.demo import model_observed as observed
from tamma_dash.demo import noise
from tamma_dash.demo.context import FleetState, quantiles_ms
from tamma_dash.demo.faults import FaultBook
from tamma_dash.demo.model import FleetModel
from tamma_dash.demo.model_observed import scraped_columns
from tamma_dash.demo.servers import DemoFleet
from tamma_dash.demo.topology import FLEET_NAMES, SERVICE_NAMES, spec
from tamma_dash.models import series_key

WED = datetime(2026, 5, 20, tzinfo=UTC).timestamp()  # a Wednesday, 00:00 UTC
SAT = datetime(2026, 5, 23, tzinfo=UTC).timestamp()
PEAK = WED + 14 * 3600.0
DAY = WED + 5.0 * np.arange(17280)


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def p95(st: dict[str, np.ndarray], median: str = "lat_median_s",
        sigma: str = "lat_sigma") -> np.ndarray:
    return quantiles_ms(st[median], st[sigma])[1]


@pytest.fixture(scope="module")
def day() -> FleetState:
    return FleetModel(42, 5.0).state(DAY)


def test_same_seed_gives_identical_state() -> None:
    a = FleetModel(42, 5.0).state(DAY[:2000])
    b = FleetModel(42, 5.0).state(DAY[:2000])
    assert a.keys() == b.keys() == set(SERVICE_NAMES)
    for svc in a:
        assert a[svc].keys() == b[svc].keys()
        for key in a[svc]:
            np.testing.assert_array_equal(a[svc][key], b[svc][key], err_msg=f"{svc}/{key}")


def test_different_seed_differs() -> None:
    a = FleetModel(1, 5.0).state(DAY[:500])
    b = FleetModel(2, 5.0).state(DAY[:500])
    assert not np.array_equal(a["api"]["cpu_percent"], b["api"]["cpu_percent"])
    assert not np.array_equal(a["orchestrator"]["queue_depth"], b["orchestrator"]["queue_depth"])


def test_one_instant_agrees_with_the_vector_at_the_same_tick(day: FleetState) -> None:
    """The live servers (one instant) and the backfill (a vector) see the same tick."""
    model = FleetModel(42, 5.0)
    for i in (0, 2880, 10000):
        live = model.state(DAY[i] + 3.7)
        for svc, key in (("api", "cpu_percent"), ("orchestrator", "queue_depth"),
                         ("worker-2", "busy"), ("database", "db_active"),
                         ("api", "lat_median_s"), ("openai", "response_time_ms")):
            assert live[svc][key][0] == day[svc][key][i], (svc, key, i)


def test_noise_is_keyed_by_seed_service_metric_and_tick() -> None:
    k = np.arange(1000)
    u = noise.uniform(7, "api", "cpu", k)
    assert np.array_equal(u, noise.uniform(7, "api", "cpu", k))
    assert not np.array_equal(u, noise.uniform(7, "api", "mem", k))
    assert not np.array_equal(u, noise.uniform(7, "dashboard", "cpu", k))
    assert u.min() >= 0.0 and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.05
    z = noise.normal(7, "api", "cpu", np.arange(20000))
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1.0) < 0.05


def test_daily_curve_peaks_at_14_and_bottoms_at_3() -> None:
    hours = WED + 60.0 * np.arange(1440)
    curve = noise.daily_curve(hours)
    assert (hours[curve.argmax()] - WED) / 3600 == 14.0
    assert (hours[curve.argmin()] - WED) / 3600 == 3.0


def test_load_is_higher_at_peak_and_on_weekdays(day: FleetState) -> None:
    rps = day["api"]["request_rate"]
    peak = rps[13 * 720:15 * 720].mean()
    trough = rps[2 * 720:4 * 720].mean()
    assert peak > 3 * trough
    weekend = FleetModel(42, 5.0).state(SAT + 5.0 * np.arange(13 * 720, 15 * 720))
    assert weekend["api"]["request_rate"].mean() < 0.75 * peak


def test_queue_busy_workers_and_latency_move_together(day: FleetState) -> None:
    orch = day["orchestrator"]
    series = np.vstack([orch["queue_depth"], orch["active_workers"], p95(orch),
                        day["database"]["db_active"], p95(day["api"])])
    corr = np.corrcoef(series)
    assert corr[0, 1] > 0.3  # queue depth vs busy workers
    assert corr[0, 2] > 0.5  # queue depth vs orchestrator p95
    assert corr[1, 2] > 0.4  # busy workers vs orchestrator p95
    assert corr[3, 4] > 0.5  # db pool active vs api p95


def test_active_workers_is_the_sum_of_busy_workers(day: FleetState) -> None:
    busy = sum(day[w]["busy"] for w in ("worker-1", "worker-2", "worker-3"))
    np.testing.assert_array_equal(day["orchestrator"]["active_workers"], busy)
    assert set(np.unique(day["worker-1"]["busy"])) == {0.0, 1.0}


def test_disk_fills_steadily_and_drops_at_clean_ups() -> None:
    model = FleetModel(42, 5.0)
    t = WED + 3600.0 * np.arange(24 * 45)
    disk = model.disk(t, spec("database"))
    steps = np.diff(disk)
    drops = np.flatnonzero(steps < 0)
    assert len(drops) in (2, 3)  # one clean-up every 20 days
    assert np.all(np.diff(drops) == 20 * 24)
    rises = steps[steps >= 0]
    assert 2.0 <= rises.mean() * 24 <= 2.6  # percent per day
    assert disk.min() >= 30.0 and disk.max() <= 90.0


def test_disk_and_uptime_follow_absolute_time() -> None:
    """A restart of the demo must not reset trends: the same instant, the same disk."""
    a, b = FleetModel(42, 5.0), FleetModel(42, 5.0)
    t = np.array([PEAK])
    assert a.state(t)["api"]["disk_percent"][0] == b.state(PEAK)["api"]["disk_percent"][0]
    uptime = a.state(PEAK + np.array([0.0, 60.0]))["api"]["uptime_s"]
    assert uptime[1] - uptime[0] == 60.0 or uptime[1] < 60.0


def _with_fault(service: str, kind: str, duration: float = 600.0, at: float = PEAK,
                ) -> tuple[FleetModel, FaultBook, FakeClock]:
    clock = FakeClock(at)
    book = FaultBook(clock)
    book.inject(service, kind, duration)
    return FleetModel(42, 5.0), book, clock


def test_down_fault_and_its_expiry() -> None:
    model, book, clock = _with_fault("worker-2", "down", 300)
    clock.now += 120
    st = model.state(clock(), book.timeline())
    assert st["worker-2"]["up"][0] == 0.0 and st["worker-2"]["health"][0] == 2.0
    assert np.isnan(st["worker-2"]["cpu_percent"][0])
    assert st["orchestrator"]["workers_total"][0] == 2.0
    assert st["orchestrator"]["health"][0] >= 1.0
    clock.now = PEAK + 300
    assert book.active() == []
    after = model.state(clock(), book.timeline())
    assert after["worker-2"]["up"][0] == 1.0
    assert after["worker-2"]["uptime_s"][0] == 0.0  # restarted when the fault ended
    assert after["orchestrator"]["workers_total"][0] == 3.0


def test_latency_fault_multiplies_tail_latency() -> None:
    model, book, clock = _with_fault("api", "latency")
    base = model.state(clock())["api"]
    slow = model.state(clock(), book.timeline())["api"]
    for q in (1, 2):  # p95, p99
        ratio = (quantiles_ms(slow["lat_median_s"], slow["lat_sigma"])[q]
                 / quantiles_ms(base["lat_median_s"], base["lat_sigma"])[q])
        assert 5.0 <= ratio[0] <= 10.0
    assert 300.0 <= slow["response_time_ms"][0] <= 800.0
    assert slow["health"][0] == 1.0 and base["health"][0] == 0.0
    clock.now += 600
    assert model.state(clock(), book.timeline())["api"]["response_time_ms"][0] < 100.0


def test_errors_fault_gives_20_to_40_percent_5xx() -> None:
    model, book, clock = _with_fault("api", "errors", 3600)
    t = clock() + 5.0 * np.arange(700)
    api = model.state(t, book.timeline())["api"]
    assert np.all((api["error_share"] >= 0.2) & (api["error_share"] <= 0.42))
    assert set(np.unique(api["health"])) <= {1.0, 2.0}
    assert np.all(api["health"][api["error_share"] >= 0.3] == 2.0)
    after = model.state(clock() + 3600.0, book.timeline())["api"]
    assert after["error_share"][0] < 0.02


def test_memory_leak_climbs_over_the_fault() -> None:
    model, book, clock = _with_fault("worker-1", "memory_leak", 1800)
    t = clock() + np.linspace(0.0, 1795.0, 60)
    mem = model.state(t, book.timeline())["worker-1"]["memory_percent"]
    assert mem[-1] > 95.0 and mem[0] < 70.0
    assert np.corrcoef(np.arange(60), mem)[0, 1] > 0.99
    assert model.state(clock() + 1800.0, book.timeline())["worker-1"]["memory_percent"][0] < 75


def test_queue_backlog_grows_and_pins_every_worker() -> None:
    model, book, clock = _with_fault("orchestrator", "queue_backlog", 900)
    t = clock() + np.array([10.0, 300.0, 600.0])
    st = model.state(t, book.timeline())
    orch = st["orchestrator"]
    assert np.all(np.diff(orch["queue_depth"]) > 100)
    assert np.all(orch["active_workers"] == 3.0)
    base = model.state(t)["orchestrator"]
    assert np.all(p95(orch) > p95(base)) and p95(orch)[-1] > 3 * p95(base)[-1]
    assert list(orch["health"][1:]) == [1.0, 1.0]  # warn once 100+ tasks wait


def test_rate_limit_fault_empties_the_window() -> None:
    model, book, clock = _with_fault("github", "rate_limit", 900)
    gh = model.state(clock() + 60.0, book.timeline())["github"]
    assert gh["rl_remaining"][0] == 0.0 and gh["throttled"][0] == 1.0
    assert gh["success_rate"][0] == 0.0 and gh["health"][0] == 1.0
    after = model.state(clock() + 900.0, book.timeline())["github"]
    assert after["rl_remaining"][0] > 0.0 and after["throttled"][0] == 0.0


def test_db_pool_exhaustion_spreads_to_api() -> None:
    model, book, clock = _with_fault("database", "db_pool_exhaustion")
    base = model.state(clock() + 60.0)
    bad = model.state(clock() + 60.0, book.timeline())
    db, api = bad["database"], bad["api"]
    assert db["db_active"][0] == db["db_max"][0] == 20.0
    assert db["db_idle"][0] == 0.0 and db["db_waiting"][0] > 0.0
    assert p95(db, "query_median_s", "query_sigma")[0] > 4 * p95(
        base["database"], "query_median_s", "query_sigma")[0]
    assert p95(api)[0] > 2 * p95(base["api"])[0]
    assert api["error_share"][0] > base["api"]["error_share"][0] + 0.05
    assert db["health"][0] == 2.0 and api["health"][0] == 1.0


def test_rate_limit_remaining_falls_within_a_window_and_resets() -> None:
    model = FleetModel(42, 5.0)
    start = np.floor(PEAK / 60.0) * 60.0
    t = start + np.arange(0.0, 120.0, 1.0)
    gl = model.state(t)["gitlab"]
    first, second = gl["rl_remaining"][:60], gl["rl_remaining"][60:]
    assert np.all(np.diff(first) <= 0) and first[-1] < first[0]
    assert second[0] == 2000.0 and second[0] > first[-1]
    np.testing.assert_allclose(gl["rl_reset_s"][:60], 60.0 - np.arange(60.0))


def test_backfilled_rates_and_quantiles_are_what_the_collector_derives_from_scrapes() -> None:
    iv = 1.0
    ts = PEAK + iv * np.arange(40)
    want = scraped_columns(FleetModel(42, iv).state(ts), iv)
    clock = FakeClock(float(ts[0]))
    got: dict[str, dict[float, float]] = {}
    with DemoFleet(seed=42, interval_s=iv, clock=clock) as fleet:
        readers = {name: MetricsInterpreter(name) for name in FLEET_NAMES}
        for t in ts:
            clock.now = float(t) + 0.3  # a scrape lands inside its tick
            for name, reader in readers.items():
                (_, _, body), _ = fleet.respond(name, "/metrics")
                for sample in reader.interpret(float(t), body.decode()):
                    got.setdefault(series_key(name, sample.metric), {})[float(t)] = sample.value
    compared = 0
    for key, column in want.items():
        for t, value in zip(ts, column, strict=True):
            live = got.get(key, {}).get(float(t))
            if np.isnan(value):  # the first scrape, or no task finished: no sample at all
                assert live is None, (key, t, live)
            else:
                assert live == pytest.approx(value, rel=1e-9, abs=1e-9), (key, t)
                compared += 1
    assert {"worker-2/tamma_task_duration_p95_ms", "api/error_rate",
            "database/db_query_p99_ms", "orchestrator/tamma_tasks_failed_rate"} <= set(want)
    assert compared > 0.8 * 39 * len(want) - 3 * 39  # task quantiles skip idle ticks


def test_vectorised_histogram_quantile_matches_the_collector() -> None:
    rng = np.random.default_rng(3)
    bounds = (0.25, 0.5, 1.0, 2.0, 4.0)
    labels = [f"{b:g}" for b in bounds] + ["+Inf"]
    counts = np.cumsum(rng.integers(0, 3, size=(500, 6)) * (rng.random((500, 6)) < 0.5), axis=1)
    for q in (0.5, 0.95, 0.99):
        mine = observed.histogram_quantile(q, counts[:, :-1], counts[:, -1], bounds)
        for row, value in zip(counts, mine, strict=True):
            buckets = {le: float(c) for le, c in zip(labels, row, strict=True)}
            theirs = collector_quantile(q, buckets)
            assert (theirs is None and np.isnan(value)) or theirs == pytest.approx(value)


def test_success_rate_is_over_the_last_probes() -> None:
    ok = np.array([True] * 3 + [False] + [True] * 60)
    rate = observed.rolling_success(ok, window=60)
    assert rate[:3].tolist() == [100.0, 100.0, 100.0]
    assert rate[3] == 75.0 and rate[62] == pytest.approx(100 * 59 / 60)
    assert rate[63] == 100.0  # the failure has left the window
