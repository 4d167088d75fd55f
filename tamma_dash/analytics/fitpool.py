"""Model fits in a separate process, so a refit never holds this process's GIL.

A refit trains one IsolationForest per service (about 1.4 s for the demo fleet). In a thread it
competes for the GIL with the collector: measured round trips of the demo's health checks jumped
from ~80 ms to 100–600 ms during refits, and the anomaly detector flagged those jumps. Here each
fit runs in one long-lived worker process (``forkserver``: a clean child, safe beside our
threads); the frame goes in and the fitted model comes back pickled (a few MB, milliseconds).
If the worker cannot start or dies, fits fall back to the calling thread and the reason is
logged once.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
FIT_TIMEOUT_S = 300.0
# Imported once by the fork server, so each worker starts with scikit-learn already loaded.
PRELOAD = ["tamma_dash.analytics.servicemodel"]


class FitPool:
    """One worker process for fits; ``run(fn, *args)`` returns ``fn(*args)`` computed there."""

    def __init__(self, timeout_s: float = FIT_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self.fallbacks = 0
        self._executor: ProcessPoolExecutor | None = None
        self._broken: str | None = None
        self._lock = threading.Lock()

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the worker (``fn`` must be importable: a module-level function)."""
        future = self._submit(fn, *args)
        if future is None:
            self.fallbacks += 1
            return fn(*args)
        try:
            return future.result(timeout=self.timeout_s)
        except BrokenProcessPool as err:
            self._give_up(f"the fit worker died ({err})")
            self.fallbacks += 1
            return fn(*args)

    def _submit(self, fn: Callable[..., T], *args: Any) -> Future[T] | None:
        with self._lock:
            if self._broken is not None:
                return None
            try:
                if self._executor is None:
                    ctx = multiprocessing.get_context("forkserver")
                    ctx.set_forkserver_preload(PRELOAD)
                    self._executor = ProcessPoolExecutor(max_workers=1, mp_context=ctx)
                return self._executor.submit(fn, *args)
            except (OSError, RuntimeError, BrokenProcessPool) as err:
                self._broken = f"cannot start the fit worker ({err})"
        log.warning("analytics fits run in-process from now on: %s", self._broken)
        return None

    def _give_up(self, reason: str) -> None:
        with self._lock:
            self._broken = reason
            executor, self._executor = self._executor, None
        log.warning("analytics fits run in-process from now on: %s", reason)
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
