"""How fast a rate-limit quota is being spent, from successive ``remaining`` readings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Reading:
    ts: float
    remaining: float
    pace: float | None = None


class PaceTracker:
    """Keeps the previous reading per series; the pace is units spent per second between them.

    A reading with the same timestamp as the previous one (no new sample) keeps the last pace; a
    rise in ``remaining`` (the window was reset) forgets the pace until the next drop.
    """

    def __init__(self) -> None:
        self._last: dict[str, _Reading] = {}

    def observe(self, key: str, ts: float, remaining: float) -> float | None:
        """Record a reading and return the current pace (units per second), if known."""
        prev = self._last.get(key)
        if prev is None:
            self._last[key] = _Reading(ts, remaining)
            return None
        if ts <= prev.ts:
            return prev.pace
        pace: float | None = (prev.remaining - remaining) / (ts - prev.ts)
        if pace is not None and pace < 0:
            pace = None
        self._last[key] = _Reading(ts, remaining, pace)
        return pace

    def forget(self, key: str) -> None:
        self._last.pop(key, None)


def exhausted_before_reset(remaining: float, pace: float, reset_s: float) -> float | None:
    """Seconds until ``remaining`` runs out at ``pace`` when that is before the reset, else None."""
    if pace <= 0:
        return None
    eta = max(0.0, remaining) / pace
    return eta if eta < reset_s else None
