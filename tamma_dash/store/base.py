"""The read side of history, kept behind an interface so another backend can serve it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from tamma_dash.models import Labels


@dataclass(frozen=True)
class Latest:
    """The newest point of a series, with the labels it came with (reason, unit, status)."""

    ts: float
    value: float
    labels: Labels = ()


@dataclass(frozen=True)
class StoreStats:
    series: int
    points_in_memory: int
    memory_bytes: int
    disk_bytes: int
    persist_ok: bool
    persist_error: str | None
    pending_ticks: int
    oldest_ts: float | None
    newest_ts: float | None


class HistoryReader(Protocol):
    """What the API and the UI may ask of history. Frames are copies, safe to keep."""

    def series(self) -> list[str]:
        """All series keys (``service/metric``), sorted."""
        ...

    def latest(self) -> dict[str, Latest]:
        """The newest point of every series."""
        ...

    def frame(self, keys: Sequence[str], start: float, end: float) -> pd.DataFrame:
        """Wide frame: a float ``ts`` index (epoch s), one float column per key, NaN for gaps.

        Ranges inside the full-resolution window come from it; older ranges from rollups
        (the mean of each step).
        """
        ...

    def points(self, key: str, start: float, end: float) -> tuple[list[float], list[float]]:
        """One series as (timestamps, values) with no NaN, oldest first."""
        ...

    def stats(self) -> StoreStats: ...
