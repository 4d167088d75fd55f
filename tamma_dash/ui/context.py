"""The UI's only door to data: the running Runtime, set once by create_app."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from tamma_dash.api.routes import snapshot as _snapshot
from tamma_dash.store.base import Latest

if TYPE_CHECKING:
    from tamma_dash.runtime import Runtime

_runtime: Runtime | None = None


def set_runtime(rt: Runtime) -> None:
    global _runtime
    _runtime = rt


def runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError("the UI has no runtime: build the app with tamma_dash.ui.app.create_app")
    return _runtime


def now() -> float:
    return runtime().clock()


def snapshot() -> dict[str, Any]:
    """The HealthMetrics document for this instant (see api/snapshot.py)."""
    return _snapshot(runtime())


def frame(keys: Sequence[str], start: float, end: float) -> pd.DataFrame:
    return runtime().store.frame(list(keys), start, end)


def series() -> list[str]:
    return runtime().store.series()


def latest() -> dict[str, Latest]:
    return runtime().store.latest()
