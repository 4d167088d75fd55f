"""What analytics publish, and the queries pages and rules ask of it, in one JSON-able snapshot.

:class:`AnalyticsResults` is immutable; the service swaps in a new one after each scored tick
and writes it to ``data_dir/analytics.json`` (atomically) for web-only processes, which read it
back with :meth:`AnalyticsResults.load`. :class:`ResultQueries` answers the UI's questions from
the newest snapshot plus on-demand baselines from the store (cached briefly).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tamma_dash.analytics.baseline import COLUMNS, baseline
from tamma_dash.analytics.capacity import CapacityForecast, etas
from tamma_dash.analytics.events import AnomalyEvent, select
from tamma_dash.analytics.hints import RootCauseHint
from tamma_dash.models import series_key

log = logging.getLogger(__name__)

RESULTS_FILE = "analytics.json"
SERVICE_METRIC = "anomaly"  # ``service/anomaly`` is the per-service score for alert rules
BASELINE_WINDOW_S = 3600.0
CACHE_SIZE = 64
CACHE_ROUND_S = 30.0
FrameFn = Callable[[Sequence[str], float, float], pd.DataFrame]


@dataclass(frozen=True)
class AnalyticsResults:
    """One published state of analytics."""

    generated_at: float = 0.0
    service_scores: dict[str, float] = field(default_factory=dict)
    series_scores: dict[str, float] = field(default_factory=dict)
    events: tuple[AnomalyEvent, ...] = ()
    forecasts: tuple[CapacityForecast, ...] = ()
    hint: RootCauseHint | None = None
    fitted: dict[str, float] = field(default_factory=dict)  # service -> when its model was fitted
    problems: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at, "service_scores": self.service_scores,
            "series_scores": self.series_scores, "events": [e.as_dict() for e in self.events],
            "forecasts": [f.as_dict() for f in self.forecasts],
            "hint": None if self.hint is None else self.hint.as_dict(),
            "fitted": self.fitted, "problems": list(self.problems),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> AnalyticsResults:
        hint = raw.get("hint")
        return cls(
            float(raw.get("generated_at", 0.0)),
            {str(k): float(v) for k, v in raw.get("service_scores", {}).items()},
            {str(k): float(v) for k, v in raw.get("series_scores", {}).items()},
            tuple(AnomalyEvent.from_dict(e) for e in raw.get("events", ())),
            tuple(CapacityForecast.from_dict(f) for f in raw.get("forecasts", ())),
            None if not hint else RootCauseHint.from_dict(hint),
            {str(k): float(v) for k, v in raw.get("fitted", {}).items()},
            tuple(str(p) for p in raw.get("problems", ())),
        )

    def save(self, data_dir: Path) -> None:
        """Write ``data_dir/analytics.json`` atomically (temp file, then rename)."""
        path = Path(data_dir) / RESULTS_FILE
        tmp = path.with_name(f".{RESULTS_FILE}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(self.as_dict(), allow_nan=False, separators=(",", ":")))
        os.replace(tmp, path)

    @classmethod
    def load(cls, data_dir: Path) -> AnalyticsResults:
        """What the collector last wrote; empty results (with the problem named) otherwise."""
        path = Path(data_dir) / RESULTS_FILE
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except FileNotFoundError:
            return cls(problems=(f"no analytics yet: {path} is written by the collector "
                                 "(`tamma-dash run` or `collect`) once its models are fitted",))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return cls(problems=(f"{path} is unreadable ({type(exc).__name__}); it is rewritten "
                                 "by the collector every few seconds",))


class ResultQueries:
    """The questions pages and alert rules ask; subclasses say where results come from."""

    def __init__(self, frame_fn: FrameFn | None) -> None:
        self._frame_fn = frame_fn
        self._cache: OrderedDict[tuple[Any, ...], pd.DataFrame] = OrderedDict()
        self._cache_lock = threading.Lock()

    def results(self) -> AnalyticsResults:
        raise NotImplementedError

    def anomaly_scores(self) -> dict[str, float]:
        """``{series_key: 0..1}`` plus ``{service/anomaly: 0..1}`` for every scored service."""
        r = self.results()
        out = dict(r.series_scores)
        out.update({series_key(s, SERVICE_METRIC): v for s, v in r.service_scores.items()})
        return out

    def service_scores(self) -> dict[str, float]:
        return dict(self.results().service_scores)

    def forecast_etas(self) -> dict[str, float]:
        """``{series_key: seconds until it reaches its limit}`` for the ``forecast`` rule kind."""
        return etas(self.results().forecasts)

    def forecasts(self) -> list[CapacityForecast]:
        return list(self.results().forecasts)

    def events(self, start: float = float("-inf"), end: float = float("inf"),
               services: Sequence[str] = ()) -> list[AnomalyEvent]:
        """Anomaly events overlapping [start, end], oldest first."""
        return select(self.results().events, start, end, services)

    def root_cause(self) -> RootCauseHint | None:
        return self.results().hint

    def markers(self, keys: Sequence[str], start: float, end: float) -> pd.DataFrame:
        """Anomaly markers (ts, key, score) for chart series: each event at its detection, on
        the series that drove it."""
        rows = [(e.detected, series_key(e.service, d.metric), d.score or e.score)
                for e in self.events(start, end) for d in e.drivers
                if series_key(e.service, d.metric) in keys and start <= e.detected <= end]
        return pd.DataFrame(rows, columns=["ts", "key", "score"])

    def baselines(self, keys: Sequence[str], start: float, end: float) -> pd.DataFrame | None:
        """Normal bands over [start, end]: columns (key, lower|median|upper); None without data."""
        if self._frame_fn is None or not keys:
            return None
        slot = (tuple(keys), round(start / CACHE_ROUND_S), round(end / CACHE_ROUND_S))
        with self._cache_lock:
            if slot in self._cache:
                self._cache.move_to_end(slot)
                return self._cache[slot]
        frame = self._frame_fn(list(keys), start - BASELINE_WINDOW_S, end)
        bands = {k: baseline(frame[k], now=end, window_s=BASELINE_WINDOW_S)
                 for k in keys if k in frame and frame[k].notna().any()}
        bands = {k: b[b.index >= start] for k, b in bands.items()}
        out = pd.concat(bands, axis=1) if bands else pd.DataFrame(
            columns=pd.MultiIndex.from_product([[], COLUMNS]))
        with self._cache_lock:
            self._cache[slot] = out
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return out


class AnalyticsView(ResultQueries):
    """Read-only analytics for web-only processes: the collector's newest ``analytics.json``."""

    def __init__(self, data_dir: Path, frame_fn: FrameFn | None = None) -> None:
        super().__init__(frame_fn)
        self.data_dir = Path(data_dir)
        self._loaded: tuple[float, AnalyticsResults] | None = None

    @classmethod
    def load(cls, data_dir: Path, frame_fn: FrameFn | None = None) -> AnalyticsView:
        return cls(data_dir, frame_fn)

    def results(self) -> AnalyticsResults:
        """Re-read only when the file changed (its mtime)."""
        path = self.data_dir / RESULTS_FILE
        try:
            mtime = path.stat().st_mtime
        except OSError:
            mtime = -1.0
        if self._loaded is None or self._loaded[0] != mtime:
            self._loaded = (mtime, AnalyticsResults.load(self.data_dir))
        return self._loaded[1]
