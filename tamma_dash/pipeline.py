"""The tick: run every collector under one time budget, then hand the samples to the store.

A collector that raises becomes a recorded error; one that hangs past the budget is recorded as
timed out and is not started again until its previous run has returned, so it never piles up
threads nor delays a tick beyond the budget.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Protocol

from tamma_dash.models import Clock, Collector, Sample, is_finite, make_labels

log = logging.getLogger(__name__)

SELF = "tamma-dash"  # the service name under which the pipeline reports on itself


class TickSink(Protocol):
    """Where a tick's samples go (the Store satisfies this)."""

    def append(self, ts: float, samples: Sequence[Sample]) -> None: ...


@dataclass
class CollectorOutcome:
    name: str
    ok: bool
    samples: int = 0
    seconds: float = 0.0
    error: str | None = None


@dataclass
class TickReport:
    seq: int
    ts: float
    seconds: float
    samples: int
    dropped: int
    outcomes: list[CollectorOutcome] = field(default_factory=list)

    @property
    def errors(self) -> list[CollectorOutcome]:
        return [o for o in self.outcomes if not o.ok]


class Pipeline:
    """Runs ticks on a schedule in a background thread; never at import time."""

    def __init__(
        self,
        collectors: Sequence[Collector],
        sink: TickSink,
        *,
        interval_s: float = 5.0,
        budget_s: float | None = None,
        clock: Clock = time.time,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.collectors = list(collectors)
        self.sink = sink
        self.interval_s = interval_s
        self.budget_s = budget_s if budget_s is not None else max(0.05, interval_s * 0.8)
        self.clock = clock
        self.timer = timer
        self._pool = ThreadPoolExecutor(
            max_workers=max(2, len(self.collectors) * 2), thread_name_prefix="collector"
        )
        self._running: dict[str, Future[list[Sample]]] = {}
        self._listeners: list[Callable[[TickReport], None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seq = 0
        self.last_report: TickReport | None = None

    def subscribe(self, listener: Callable[[TickReport], None]) -> None:
        """Call ``listener(report)`` after every tick (from the pipeline thread)."""
        self._listeners.append(listener)

    def tick(self) -> TickReport:
        """Collect from every collector within the budget and store what arrived."""
        started = self.timer()
        ts = self.clock()
        futures = self._launch()
        wait(list(futures.values()), timeout=self.budget_s)
        samples: list[Sample] = []
        outcomes = [self._harvest(name, fut, samples, started) for name, fut in futures.items()]
        outcomes += [
            CollectorOutcome(name, False, error="still running from an earlier tick")
            for name in self._busy_names(futures)
        ]
        clean, dropped = _clean(samples)
        clean += _self_samples(ts, outcomes)
        self.sink.append(ts, clean)
        self._seq += 1
        report = TickReport(self._seq, ts, self.timer() - started, len(clean), dropped, outcomes)
        self.last_report = report
        for listener in self._listeners:
            try:
                listener(report)
            except Exception:  # a listener's bug must not stop collection
                log.exception("tick listener failed")
        return report

    def _launch(self) -> dict[str, Future[list[Sample]]]:
        launched: dict[str, Future[list[Sample]]] = {}
        for collector in self.collectors:
            previous = self._running.get(collector.name)
            if previous is not None and not previous.done():
                continue
            fut = self._pool.submit(collector.collect)
            self._running[collector.name] = fut
            launched[collector.name] = fut
        return launched

    def _busy_names(self, launched: dict[str, Future[list[Sample]]]) -> list[str]:
        return [c.name for c in self.collectors if c.name not in launched]

    def _harvest(
        self, name: str, fut: Future[list[Sample]], into: list[Sample], started: float
    ) -> CollectorOutcome:
        elapsed = self.timer() - started
        if not fut.done():
            return CollectorOutcome(
                name, False, 0, elapsed, f"timed out after {self.budget_s:.2f} s (tick budget)"
            )
        exc = fut.exception()
        if exc is not None:
            log.warning("collector %s failed: %s", name, exc)
            return CollectorOutcome(name, False, 0, elapsed, f"{type(exc).__name__}: {exc}"[:200])
        got = fut.result()
        into.extend(got)
        return CollectorOutcome(name, True, len(got), elapsed)

    def start(self) -> None:
        """Start ticking in a daemon thread (first tick at once)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="pipeline", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the store or a listener bug: log, keep the loop alive
                log.exception("tick failed")
            next_at += self.interval_s
            now = time.monotonic()
            if next_at < now:  # overran: skip missed slots instead of bursting
                next_at = now + self.interval_s - ((now - next_at) % self.interval_s)
            self._stop.wait(max(0.0, next_at - now))

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._pool.shutdown(wait=False, cancel_futures=True)
        for collector in self.collectors:
            close = getattr(collector, "close", None)
            if callable(close):
                close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


def _clean(samples: list[Sample]) -> tuple[list[Sample], int]:
    """Drop NaN / inf values: they are not data and would poison every aggregate."""
    clean = [s for s in samples if is_finite(s.value)]
    return clean, len(samples) - len(clean)


def _self_samples(ts: float, outcomes: list[CollectorOutcome]) -> list[Sample]:
    out: list[Sample] = []
    for o in outcomes:
        labels = make_labels(reason="error" if o.error else "", detail=o.error or "")
        out.append(Sample(ts, SELF, f"collector_ok:{o.name}", 1.0 if o.ok else 0.0, labels))
        out.append(Sample(ts, SELF, f"collector_ms:{o.name}", round(o.seconds * 1000.0, 3)))
    return out
