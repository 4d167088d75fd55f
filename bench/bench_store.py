"""Store benchmarks: tick ingest, memory of a full 24 h window, reload from SQLite on start.

Run: ``python bench/bench_store.py`` (about a minute). Prints medians; targets from the issue:
memory at most 1.5x the raw 27.6 MB (17,280 ticks x 200 series x 8 B); reload under 2 s.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tamma_dash.models import Sample
from tamma_dash.store import Store

SERIES = 200
INTERVAL_S = 5.0
RETENTION_S = 86400.0
TICKS = int(RETENTION_S / INTERVAL_S)  # 17,280
RAW_BYTES = TICKS * SERIES * 8
T0 = 1_700_000_000.0


def tick(i: int, rng: np.random.Generator) -> list[Sample]:
    """One tick of SERIES samples over 20 services, a few with labels."""
    ts = T0 + i * INTERVAL_S
    values = rng.normal(50.0, 10.0, SERIES)
    return [Sample(ts, f"svc{j % 20}", f"metric{j // 20}", float(values[j]),
                   (("reason", "ok"),) if j % 50 == 0 else ()) for j in range(SERIES)]


def bench_ingest(data_dir: Path | None, n: int = 2000) -> float:
    """Median microseconds of one ``append`` of 200 samples (after 500 warm-up ticks)."""
    rng = np.random.default_rng(1)
    ticks = [tick(i, rng) for i in range(n + 500)]
    store = Store.open(data_dir, interval_s=INTERVAL_S, retention_s=RETENTION_S,
                       clock=lambda: T0)
    times = []
    for i, samples in enumerate(ticks):
        started = time.perf_counter()
        store.append(T0 + i * INTERVAL_S, samples)
        if i >= 500:
            times.append(time.perf_counter() - started)
    store.close()
    return statistics.median(times) * 1e6


def full_window(rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    ts = T0 + np.arange(TICKS) * INTERVAL_S
    return ts, {f"svc{j % 20}/metric{j // 20}": rng.normal(50.0, 10.0, TICKS)
                for j in range(SERIES)}


def bench_memory() -> tuple[int, int]:
    """Bytes allocated (tracemalloc) and held in arrays by a memory-only full 24 h window."""
    ts, columns = full_window(np.random.default_rng(2))
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    store = Store.open(None, interval_s=INTERVAL_S, retention_s=RETENTION_S, clock=lambda: T0)
    for i in range(0, TICKS, 1000):  # append in slices, like a day of ticks arriving
        store.bulk_load(ts[i : i + 1000], {k: v[i : i + 1000] for k, v in columns.items()})
    allocated = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    held = store.stats().memory_bytes
    store.close()
    return allocated, held


def bench_reload(data_dir: Path, repeats: int = 5) -> tuple[float, float]:
    """Seconds to write a full window with bulk_load, and median seconds to reopen it."""
    ts, columns = full_window(np.random.default_rng(3))
    clock = lambda: float(ts[-1])  # noqa: E731
    started = time.perf_counter()
    store = Store.open(data_dir, interval_s=INTERVAL_S, retention_s=RETENTION_S, clock=clock)
    store.bulk_load(ts, columns)
    store.close()
    load_s = time.perf_counter() - started
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        store = Store.open(data_dir, interval_s=INTERVAL_S, retention_s=RETENTION_S, clock=clock)
        times.append(time.perf_counter() - started)
        if store.stats().points_in_memory != TICKS * SERIES:
            raise SystemExit(f"reload lost data: {store.stats()}")
        store.close()
    return load_s, statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"ingest, 1 tick x {SERIES} series, memory only: "
              f"{bench_ingest(None):8.1f} us (median)")
        print(f"ingest, 1 tick x {SERIES} series, with SQLite: "
              f"{bench_ingest(root / 'ingest'):8.1f} us (median)")
        allocated, held = bench_memory()
        print(f"memory, 24 h window ({TICKS} ticks x {SERIES} series): allocated "
              f"{allocated / 1e6:.1f} MB, arrays {held / 1e6:.1f} MB, raw {RAW_BYTES / 1e6:.1f} MB "
              f"-> {allocated / RAW_BYTES:.2f}x (target <= 1.5x)")
        load_s, reload_s = bench_reload(root / "reload")
        print(f"bulk_load of the 24 h window into memory + SQLite: {load_s:.2f} s")
        print(f"reload of the 24 h window from SQLite on start: {reload_s:.3f} s (median, "
              "target < 2 s)")


if __name__ == "__main__":
    main()
