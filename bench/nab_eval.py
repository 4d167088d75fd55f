"""NAB score of the streaming detector over several forest seeds, on all files and on each half.

Run from the repo root: ``python bench/nab_eval.py [--seeds 0,1,2] [--set field=value ...]``.
Scores every labelled file of ``--nab`` (default ``../shared/nab``, realAWSCloudwatch) with
:func:`score_values` (the maths of ``score_csv``), two files at a time, then scores the result
exactly as ``nabscore.py`` does (its functions are imported from the NAB folder). Prints the
three profiles per seed, the standard score on each half of the files (sorted by name, odd and
even positions, each normalised on its own windows), then the mean and minimum over seeds. A
change worth keeping raises the mean on both halves, not one. ``--set`` overrides a
:class:`DetectorConfig` field for an experiment (the same value for every file).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Sequence
from multiprocessing import Pool
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tamma_dash.analytics.detector import DetectorConfig, score_values

PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
CATEGORY = "realAWSCloudwatch"


def load_nabscore(nab: Path) -> ModuleType:
    """The NAB folder's ``nabscore.py`` as a module (its scoring functions, not its CLI)."""
    path = nab / "nabscore.py"
    spec = importlib.util.spec_from_file_location("nabscore", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"nab_eval: no nabscore.py at {path}; pass --nab NAB_DIR")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """``field=value`` pairs typed like the DetectorConfig field they set."""
    fields = {f.name: f for f in dataclasses.fields(DetectorConfig)}
    out: dict[str, Any] = {}
    for pair in pairs:
        name, _, text = pair.partition("=")
        if name not in fields or not text:
            raise SystemExit(f"nab_eval: --set {pair!r}: use field=value, fields {sorted(fields)}")
        default = getattr(DetectorConfig(), name)
        out[name] = type(default)(float(text)) if not isinstance(default, str) else text
    return out


def score_file(job: tuple[str, dict[str, Any]]) -> tuple[str, np.ndarray, float]:
    """Anomaly scores of one data file under one configuration, and the seconds it took."""
    path, overrides = job
    values = pd.to_numeric(pd.read_csv(path)["value"], errors="coerce").to_numpy(dtype=float)
    start = time.process_time()
    scores = score_values(values, DetectorConfig(**overrides))
    return path, scores, time.process_time() - start


def nab_score(
    nabscore: ModuleType,
    files: list[tuple[str, np.ndarray, np.ndarray]],
    windows: dict[str, list[Any]],
    cost: dict[str, float],
) -> tuple[float, int, int]:
    """Normalised NAB score, windows found and false-positive rows (nabscore.py's maths)."""
    parts, offset, n_windows = [], 0, 0
    for rel, ts, scores in files:
        s, w, keep = nabscore.sweep_rows(ts, windows[rel], cost)
        w = np.where(w >= 0, w + offset, -1)
        offset += len(windows[rel])
        n_windows += len(windows[rel])
        parts.append((scores[keep], s[keep], w[keep]))
    anomaly, sweep, win = (np.concatenate(x) for x in zip(*parts, strict=True))
    thr, raw, _, fp, found, _ = nabscore.sweep_thresholds(anomaly, sweep, win, cost)
    k = nabscore.best_row(thr, raw)
    nthr, nraw = nabscore.sweep_thresholds(np.full_like(anomaly, 0.5), sweep, win, cost)[:2]
    null = nraw[nabscore.best_row(nthr, nraw)]
    perfect = cost["tpWeight"] * n_windows
    return 100.0 * (raw[k] - null) / (perfect - null), int(found[k]), int(fp[k])


def main(argv: Sequence[str] | None = None) -> int:
    """Score the seeds, print per-seed lines and the mean/min summary."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nab", type=Path, default=Path("../shared/nab"))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--procs", type=int, default=2)
    args = ap.parse_args(argv)
    nabscore = load_nabscore(args.nab)
    overrides = parse_overrides(args.overrides)
    windows = nabscore.load_windows(str(args.nab))
    rels = sorted(r for r in windows if r.startswith(CATEGORY + "/"))
    stamps = {
        r: pd.read_csv(args.nab / "data" / r, usecols=[0], parse_dates=[0]).iloc[:, 0].to_numpy()
        for r in rels
    }
    seeds = [int(s) for s in args.seeds.split(",")]
    jobs = [(str(args.nab / "data" / r), {**overrides, "seed": s}) for s in seeds for r in rels]
    start = time.perf_counter()
    with Pool(min(args.procs, os.cpu_count() or 1)) as pool:
        done = pool.map(score_file, jobs, chunksize=1)
    wall = time.perf_counter() - start
    rows = sum(len(stamps[r]) for r in rels) * len(seeds)
    cpu = sum(t for _, _, t in done)
    print(
        f"overrides {overrides or 'none'}; {len(rels)} files x {len(seeds)} seeds in {wall:.0f} s"
        f" ({1000 * cpu / rows:.2f} ms CPU per row, batch)"
    )
    profiles = {p: nabscore.DEFAULT_PROFILES[p] for p in PROFILES}
    table: dict[str, list[float]] = {}
    for i, seed in enumerate(seeds):
        scored = [(r, stamps[r], done[i * len(rels) + j][1]) for j, r in enumerate(rels)]
        halves = {"odd": scored[0::2], "even": scored[1::2]}
        line = [f"seed {seed}:"]
        for name, cost in profiles.items():
            value, found, fp = nab_score(nabscore, scored, windows, cost)
            table.setdefault(name, []).append(value)
            line.append(f"{name[:13]} {value:.2f} ({found}/30, fp {fp})")
        for half, part in halves.items():
            value = nab_score(nabscore, part, windows, profiles["standard"])[0]
            table.setdefault(f"standard {half} half", []).append(value)
            line.append(f"{half} {value:.2f}")
        print("  ".join(line))
    for name, values in table.items():
        print(f"{name:24s} mean {statistics.fmean(values):6.2f}  min {min(values):6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
