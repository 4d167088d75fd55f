"""Does the demo's backfilled history look like what the collectors then measure live?

Run: ``python bench/check_backfill_match.py`` (about two minutes). Builds a real ``run``
runtime on a temporary data directory (demo fleet on loopback, backfill, collectors, analytics),
lets it tick ``--ticks`` live ticks, then compares per series the backfill's last hour (median,
p5, p95) with the live ticks' median, and prints the series whose live median falls outside the
backfill's p5-p95 band widened by ``--slack`` of its width (at least 1 % of the median). With
``--watch-s`` it keeps running that long after a fresh start and counts the anomaly events the
analytics opened. Bounded: it gives up after ``--timeout-s`` and always stops the runtime.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tamma_dash.config import Settings
from tamma_dash.pipeline import TickReport
from tamma_dash.runtime import Runtime, build

HOUR = 3600.0


@dataclass(frozen=True)
class Compared:
    """One series: the backfill's last-hour band and the live median."""

    key: str
    p5: float
    median: float
    p95: float
    live: float
    n_live: int

    @property
    def outside(self) -> bool:
        return not (self.low <= self.live <= self.high)

    @property
    def low(self) -> float:
        return self.p5 - self._pad

    @property
    def high(self) -> float:
        return self.p95 + self._pad

    @property
    def _pad(self) -> float:
        return max(SLACK * (self.p95 - self.p5), 0.01 * abs(self.median), 1e-9)


SLACK = 0.25


def compare(rt: Runtime, boundary: float, now: float) -> tuple[list[Compared], list[str]]:
    """Per series: backfill's last hour before ``boundary`` against live ticks after it."""
    keys = rt.store.series()
    back = rt.store.frame(keys, boundary - HOUR, boundary - 1e-6)
    live = rt.store.frame(keys, boundary, now)
    out, only = [], []
    for key in keys:
        b = back[key].dropna().to_numpy() if key in back else np.empty(0)
        v = live[key].dropna().to_numpy() if key in live else np.empty(0)
        if b.size == 0 or v.size == 0:
            if v.size and not b.size:
                only.append(f"{key}: live only ({v.size} ticks), no backfill")
            elif b.size and not v.size:
                only.append(f"{key}: backfill only, never measured live")
            continue
        p5, med, p95 = np.percentile(b, [5, 50, 95])
        out.append(Compared(key, float(p5), float(med), float(p95), float(np.median(v)),
                            int(v.size)))
    return out, only


def backfill_as_modelled() -> None:
    """Backfill the model's own values and only the keys it wrote before the fix (``--as-
    modelled``: the behaviour this script was written to find, kept for comparison)."""
    module = importlib.import_module("tamma_dash.demo.backfill")  # not the function of that name
    original = module.series_columns
    old_keys = module.expected_keys() - {
        k for k in module.expected_keys() if k.endswith((":tokens", "scrape_duration_ms",
                                                         "health_invalid_values",
                                                         "scrape_series_dropped"))}

    def modelled(state: Any, seen: Any = None) -> dict[str, Any]:
        return {k: v for k, v in original(state).items() if k in old_keys}

    setattr(module, "series_columns", modelled)  # noqa: B010 (a module, typed loosely)


def run(args: argparse.Namespace) -> int:
    if args.as_modelled:
        backfill_as_modelled()
    with tempfile.TemporaryDirectory(prefix="tamma-match-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", interval_s=args.interval,
                            seed=args.seed, retention_s=args.retention_s, host_metrics=False)
        started = time.perf_counter()
        rt = build(settings, "run")
        ticks: list[float] = []
        enough = threading.Event()

        def note(report: TickReport) -> None:
            ticks.append(report.ts)
            if len(ticks) >= args.ticks:
                enough.set()

        rt.start()
        assert rt.pipeline is not None
        rt.pipeline.subscribe(note)
        try:
            print(f"backfill + start: {time.perf_counter() - started:.1f} s "
                  f"({rt.backfill_summary})")
            if not enough.wait(args.timeout_s):
                print(f"only {len(ticks)} live ticks in {args.timeout_s:.0f} s", file=sys.stderr)
                return 2
            boundary = ticks[0] - 1e-6
            rows, only = compare(rt, boundary, ticks[-1] + 1e-6)
            report(rows, only, len(ticks))
            if args.watch_s > 0:
                watch(rt, boundary, args.watch_s)
        finally:
            rt.stop()
    return 0


def report(rows: list[Compared], only: list[str], n: int) -> None:
    bad = sorted((r for r in rows if r.outside), key=lambda r: r.key)
    print(f"{len(rows)} series compared over {n} live ticks; {len(bad)} outside the "
          f"backfill's last-hour p5-p95 band (+{SLACK:.0%} of its width):")
    print(f"  {'series':48} {'p5':>10} {'median':>10} {'p95':>10} {'live':>10}")
    for r in bad:
        print(f"  {r.key:48} {r.p5:10.3f} {r.median:10.3f} {r.p95:10.3f} {r.live:10.3f}")
    for line in only:
        print(f"  {line}")


def watch(rt: Runtime, boundary: float, seconds: float) -> None:
    """Keep running; count anomaly events opened after the start (the analytics' own)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(1.0)
    assert rt.analytics is not None
    events = [e for e in rt.analytics.results().events if e.start >= boundary]
    elapsed = time.time() - boundary
    print(f"anomaly events opened in the first {elapsed:.0f} s: {len(events)}")
    for e in events:
        drivers = ", ".join(f"{d.metric}={d.value:.3g} (usually {d.baseline:.3g})"
                            for d in e.drivers[:3])
        print(f"  {e.service:12} score {e.score:.2f} at +{e.start - boundary:.0f} s: {drivers}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ticks", type=int, default=60, help="live ticks to compare (60)")
    p.add_argument("--interval", type=float, default=1.0, help="tick interval s (1.0)")
    p.add_argument("--retention-s", type=float, default=4 * HOUR,
                   help="full-resolution window (14400: backfilled at the tick itself, as "
                        "`python app.py` does with its 5 s tick and 24 h; longer windows are "
                        "backfilled at retention/17280 s, a coarser cadence than the live one)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--watch-s", type=float, default=0.0,
                   help="then keep running this long and count anomaly events (0: don't)")
    p.add_argument("--as-modelled", action="store_true",
                   help="backfill the model's own values, as before the fix, to compare")
    p.add_argument("--timeout-s", type=float, default=300.0, help="give up after (300)")
    return run(p.parse_args())


if __name__ == "__main__":
    sys.exit(main())
