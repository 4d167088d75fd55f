"""Score a single series from a CSV with the dashboard's streaming detector, causally.

Usage: ``python -m tamma_dash.analytics.score_csv IN.csv OUT.csv``. IN has ``timestamp`` and
``value`` columns; OUT repeats them and adds ``anomaly_score`` (0..1). A row's score depends
only on the rows up to it, so appending rows never changes earlier scores.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from tamma_dash.analytics.detector import DetectorConfig, score_values


def score_frame(frame: pd.DataFrame, cfg: DetectorConfig | None = None) -> pd.DataFrame:
    """``frame`` (timestamp, value) with an ``anomaly_score`` column added, rows in file order."""
    missing = {"timestamp", "value"} - set(frame.columns)
    if missing:
        raise ValueError(f"the CSV needs columns timestamp and value; missing {sorted(missing)}")
    out = frame[["timestamp", "value"]].copy()
    values = pd.to_numeric(out["value"], errors="coerce").to_numpy(dtype=float)
    out["anomaly_score"] = score_values(values, cfg)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Read IN.csv, write OUT.csv; a clear message and exit code 2 on unusable input."""
    parser = argparse.ArgumentParser(
        prog="python -m tamma_dash.analytics.score_csv", description=__doc__.splitlines()[0]
    )
    parser.add_argument("input", type=Path, help="CSV with timestamp,value columns")
    parser.add_argument("output", type=Path, help="where to write timestamp,value,anomaly_score")
    args = parser.parse_args(argv)
    try:
        frame = pd.read_csv(args.input)
        scored = score_frame(frame)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        print(f"score_csv: cannot score {args.input}: {exc}", file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    scored.to_csv(args.output, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
