"""The host collector: exact values through a fake psutil, plausible ranges through the real one."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import psutil

from tamma_dash.collectors.host import HostCollector, disk_metric
from tamma_dash.models import Sample


class FakePsutil:
    """Just the psutil calls the host collector makes, answering what the test sets."""

    Error = psutil.Error

    def __init__(self) -> None:
        self.cpu = [3.0, 40.0, 55.5]  # successive cpu_percent() answers
        self.memory = 61.25
        self.disks = {"/": 70.0, "/var": 91.5}
        self.load: tuple[float, float, float] | Exception = (0.5, 0.75, 1.25)
        self.net: tuple[int, int] | None = (1_000, 500)  # bytes_recv, bytes_sent
        self.cpu_calls: list[float | None] = []

    def cpu_percent(self, interval: float | None = 0.0) -> float:
        self.cpu_calls.append(interval)
        return self.cpu.pop(0)

    def virtual_memory(self) -> SimpleNamespace:
        return SimpleNamespace(percent=self.memory)

    def disk_usage(self, path: str) -> SimpleNamespace:
        if path not in self.disks:
            raise FileNotFoundError(2, "No such file or directory", path)
        return SimpleNamespace(percent=self.disks[path])

    def getloadavg(self) -> tuple[float, float, float]:
        if isinstance(self.load, Exception):
            raise self.load
        return self.load

    def net_io_counters(self) -> SimpleNamespace | None:
        if self.net is None:
            return None
        return SimpleNamespace(bytes_recv=self.net[0], bytes_sent=self.net[1])


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def values(samples: list[Sample]) -> dict[str, float]:
    return {s.metric: s.value for s in samples}


def errors(samples: list[Sample]) -> Sample:
    return next(s for s in samples if s.metric == "host_errors")


def make(mounts: tuple[str, ...] = ("/", "/var")) -> tuple[HostCollector, FakePsutil, FakeClock]:
    fake, clock = FakePsutil(), FakeClock()
    return HostCollector(mounts=mounts, psutil_module=fake, clock=clock), fake, clock


def test_first_tick_primes_cpu_and_net_and_reports_the_rest_exactly() -> None:
    collector, fake, _ = make()
    samples = collector.collect()
    assert values(samples) == {
        "memory_percent": 61.25, "disk_percent": 70.0, "disk_percent:/var": 91.5,
        "load1": 0.5, "load5": 0.75, "load15": 1.25, "host_errors": 0.0,
    }
    assert errors(samples).labels == ()
    assert fake.cpu_calls == [None]  # non-blocking: the call only set the baseline
    assert {(s.ts, s.service) for s in samples} == {(1000.0, "host")}


def test_second_tick_reports_cpu_and_network_rates_over_the_injected_clock() -> None:
    collector, fake, clock = make()
    collector.collect()
    clock.now, fake.net = 1005.0, (6_000, 3_000)
    got = values(collector.collect())
    assert (got["cpu_percent"], got["net_rx_bytes_per_s"], got["net_tx_bytes_per_s"]) == (
        40.0, 1000.0, 500.0)


def test_a_counter_going_down_skips_that_direction_for_one_tick() -> None:
    collector, fake, clock = make()
    collector.collect()
    clock.now, fake.net = 1005.0, (200, 1_500)  # rx wrapped or reset
    got = values(collector.collect())
    assert "net_rx_bytes_per_s" not in got and got["net_tx_bytes_per_s"] == 200.0
    clock.now, fake.net = 1010.0, (1_200, 1_500)
    got = values(collector.collect())
    assert (got["net_rx_bytes_per_s"], got["net_tx_bytes_per_s"]) == (200.0, 0.0)


def test_clock_not_moving_forward_gives_no_network_rate() -> None:
    collector, fake, clock = make()
    collector.collect()
    clock.now, fake.net = 995.0, (9_000, 9_000)
    assert not any(k.startswith("net_") for k in values(collector.collect()))
    clock.now, fake.net = 1000.0, (9_500, 9_100)  # the stepped-back tick is the new baseline
    got = values(collector.collect())
    assert (got["net_rx_bytes_per_s"], got["net_tx_bytes_per_s"]) == (100.0, 20.0)


def test_failed_readings_are_counted_and_named_never_raised() -> None:
    collector, fake, _ = make(mounts=("/", "/gone"))
    fake.load = psutil.AccessDenied()
    fake.net = None
    samples = collector.collect()
    got = values(samples)
    assert "disk_percent:/gone" not in got and "load1" not in got
    assert got["disk_percent"] == 70.0 and got["host_errors"] == 3.0
    err = errors(samples)
    assert err.label("reason") == "disk:/gone,load,net"
    assert err.label("detail").startswith("disk:/gone: FileNotFoundError: [Errno 2]")
    assert "load: AccessDenied" in err.label("detail")
    assert "net: OSError: no network interface counters" in err.label("detail")


def test_mount_names_follow_the_documented_scheme() -> None:
    assert [disk_metric(m) for m in ("/", "/var", "/data/x")] == [
        "disk_percent", "disk_percent:/var", "disk_percent:/data/x"]


def test_real_psutil_gives_values_in_range(tmp_path: Path) -> None:
    clock = FakeClock()
    collector = HostCollector(mounts=("/", str(tmp_path / "missing")), clock=clock)
    collector.collect()
    clock.now += 1.0
    samples = collector.collect()
    got = values(samples)
    for metric in ("cpu_percent", "memory_percent", "disk_percent"):
        assert 0.0 <= got[metric] <= 100.0, metric
    assert all(got[k] >= 0.0 for k in ("load1", "load5", "load15"))
    assert got["net_rx_bytes_per_s"] >= 0.0 and got["net_tx_bytes_per_s"] >= 0.0
    assert got["host_errors"] == 1.0
    assert errors(samples).label("reason") == f"disk:{tmp_path / 'missing'}"
