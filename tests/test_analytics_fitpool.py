"""Fits in a worker process: same models as in-thread, and a fallback when the worker is gone."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from tamma_dash.analytics.fitpool import FitPool
from tamma_dash.analytics.servicemodel import SERVICE_SETTINGS, fit_service, score_rows


def _frame(n: int = 3000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = 1_700_000_000.0 + 5.0 * np.arange(n)
    return pd.DataFrame({"api/cpu_percent": 20 + rng.normal(0, 2, n),
                         "api/response_time_ms": 80 + rng.gamma(2.0, 5.0, n)},
                        index=pd.Index(ts, name="ts"))


def test_fits_run_in_another_process_and_give_the_same_model() -> None:
    pool = FitPool()
    try:
        assert pool.run(os.getpid) != os.getpid()
        frame = _frame()
        there = pool.run(fit_service, frame, SERVICE_SETTINGS)
        here = fit_service(frame, SERVICE_SETTINGS)
    finally:
        pool.close()
    a: Any = score_rows(there, frame, first=len(frame) - 400)
    b: Any = score_rows(here, frame, first=len(frame) - 400)
    assert np.allclose(a.service, b.service) and np.allclose(a.per_series, b.per_series)
    assert float(np.std(a.service)) > 0  # real scores, not a constant
    assert pool.fallbacks == 0


def _dies_in_a_child(parent: int) -> int:
    if os.getpid() != parent:
        os._exit(3)  # the worker process dies mid-call
    return parent


def test_a_dead_worker_falls_back_to_this_thread() -> None:
    pool = FitPool()
    try:
        assert pool.run(_dies_in_a_child, os.getpid()) == os.getpid()  # redone here
        assert pool.fallbacks == 1
        assert pool.run(os.getpid) == os.getpid()  # and from now on, here
    finally:
        pool.close()
