"""A ratio of counter increases over a trailing time window, as PromQL computes
``sum(rate(errors[1m])) / sum(rate(requests[1m]))``: one error among a few dozen requests in
one tick no longer reads as a percent-level error rate."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

ERROR_WINDOW_S = 60.0  # the error-rate window of the collector and of the demo backfill


@dataclass(frozen=True, slots=True)
class Increase:
    """What one scrape counted since the previous one: ``part`` of ``whole`` in (start, end]."""

    start: float
    end: float
    part: float
    whole: float


class TrailingRatio:
    """Percent ``part`` of ``whole`` over the increases whose span lies mostly in the window.

    An increase belongs to the window ending at ``t`` while its midpoint is after
    ``t - window_s``: at a 5 s tick a 60 s window holds 12 increases however the scrape times
    jitter, the same rows a rolling sum over ``window_s / tick`` rows holds.
    """

    def __init__(self, window_s: float) -> None:
        if not (isinstance(window_s, int | float) and 0 < window_s < math.inf):
            raise ValueError(
                f"window_s must be a positive number of seconds, got {window_s!r}; "
                "pass e.g. 60 for the last minute"
            )
        self.window_s = float(window_s)
        self._kept: deque[Increase] = deque()

    def add(self, inc: Increase) -> float:
        """Keep ``inc`` and return the window's percent (0 when it holds no ``whole``)."""
        while self._kept and self._kept[-1].end > inc.start:  # the clock stepped back
            self._kept.pop()
        self._kept.append(inc)
        cutoff = inc.end - self.window_s
        while self._kept and (self._kept[0].start + self._kept[0].end) / 2 <= cutoff:
            self._kept.popleft()
        return self.percent()

    def percent(self) -> float:
        """100 * sum(part) / sum(whole) over the kept increases; 0 without any ``whole``."""
        whole = math.fsum(i.whole for i in self._kept)
        return 100.0 * math.fsum(i.part for i in self._kept) / whole if whole > 0 else 0.0

    def __len__(self) -> int:
        return len(self._kept)
