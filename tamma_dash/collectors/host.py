"""This machine's CPU, memory, disks, load and network throughput, read through psutil.

* ``cpu_percent`` is ``psutil.cpu_percent(interval=None)``: the share of all CPUs busy since the
  previous call. The first ``collect`` only primes it and reports no ``cpu_percent``. psutil keeps
  that baseline per process, so another caller of ``cpu_percent`` shortens our interval.
* ``disk_percent`` is the root mount ``/``; any other mount ``m`` is ``disk_percent:m`` (e.g.
  ``disk_percent:/var``), the ``name:detail`` form the pipeline uses for ``collector_ok:<name>``.
* ``net_rx_bytes_per_s`` / ``net_tx_bytes_per_s`` are the difference of psutil's totals over
  all interfaces (loopback included) between two ticks, over the injected clock. The first tick,
  a clock that did not move forward, or a counter that went down (wrap, reset) gives none.
* ``host_errors`` is emitted every tick: the number of readings that failed (0 normally), with
  ``reason`` naming them (``disk:/var,load``) and ``detail`` saying why. A failure never raises.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import psutil

from tamma_dash.models import Clock, M, Sample, make_labels

HOST_ERRORS = "host_errors"
LOAD5 = "load5"
LOAD15 = "load15"
ROOT = "/"

_FAILURES = (OSError, psutil.Error, NotImplementedError)


def disk_metric(mount: str) -> str:
    """``disk_percent`` for ``/``, ``disk_percent:<mount>`` for any other mount."""
    return M.DISK if mount == ROOT else f"{M.DISK}:{mount}"


class HostCollector:
    """Samples this host's resources; ``psutil_module`` is injectable for exact tests."""

    name = "host"

    def __init__(
        self,
        *,
        service: str = "host",
        mounts: Sequence[str] = (ROOT,),
        psutil_module: Any = psutil,
        clock: Clock = time.time,
    ) -> None:
        self.service = service
        self.mounts = tuple(mounts)
        self._ps = psutil_module
        self._clock = clock
        self._cpu_primed = False
        self._net_prev: tuple[float, int, int] | None = None  # (ts, bytes_recv, bytes_sent)

    def collect(self) -> list[Sample]:
        """One reading of every host metric; failed readings are counted in ``host_errors``."""
        ts = self._clock()
        out: list[Sample] = []
        failed: list[tuple[str, str]] = []  # (what, why)

        def read(what: str, reader: Callable[[], list[tuple[str, float]]]) -> None:
            try:
                pairs = reader()
            except _FAILURES as exc:
                failed.append((what, f"{type(exc).__name__}: {exc}"[:120]))
                return
            out.extend(Sample(ts, self.service, metric, float(v)) for metric, v in pairs)

        read("cpu", self._cpu)
        read("memory", lambda: [(M.MEMORY, self._ps.virtual_memory().percent)])
        for mount in self.mounts:
            read(f"disk:{mount}", partial(self._disk, mount))
        read("load", self._load)
        read("net", lambda: self._net(ts))
        labels = make_labels(reason=",".join(w for w, _ in failed),
                             detail="; ".join(f"{w}: {why}" for w, why in failed))
        out.append(Sample(ts, self.service, HOST_ERRORS, float(len(failed)), labels))
        return out

    def _cpu(self) -> list[tuple[str, float]]:
        value = self._ps.cpu_percent(interval=None)
        if not self._cpu_primed:  # the first call measures nothing: it sets the baseline
            self._cpu_primed = True
            return []
        return [(M.CPU, value)]

    def _disk(self, mount: str) -> list[tuple[str, float]]:
        return [(disk_metric(mount), self._ps.disk_usage(mount).percent)]

    def _load(self) -> list[tuple[str, float]]:
        one, five, fifteen = self._ps.getloadavg()
        return [(M.LOAD1, one), (LOAD5, five), (LOAD15, fifteen)]

    def _net(self, ts: float) -> list[tuple[str, float]]:
        counters = self._ps.net_io_counters()
        if counters is None:
            raise OSError("no network interface counters")
        now = (ts, int(counters.bytes_recv), int(counters.bytes_sent))
        prev, self._net_prev = self._net_prev, now
        if prev is None or ts <= prev[0]:
            return []
        dt = ts - prev[0]
        out: list[tuple[str, float]] = []
        for metric, before, after in ((M.NET_RX, prev[1], now[1]), (M.NET_TX, prev[2], now[2])):
            if after >= before:
                out.append((metric, (after - before) / dt))
        return out
