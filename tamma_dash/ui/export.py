"""What a user takes away from a chart: the data as CSV, a meaningful file name, the modebar."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from tamma_dash.ui.downsample import iso

MAX_PART_CHARS = 60  # per name part, so a file name stays well under filesystem limits


def figure_csv(frame: pd.DataFrame, keys: Sequence[str], start: float, end: float) -> str:
    """Rows with ``start <= ts <= end`` at full resolution: timestamp, epoch, a column per key.

    Timestamps are ISO 8601 UTC (``...Z``), epochs have millisecond precision, values are written
    exactly (shortest round-trip form) and gaps are empty cells.
    """
    ts = frame.index.to_numpy(dtype=np.float64)
    mask = (ts >= start) & (ts <= end)
    ts = ts[mask]
    columns = [frame[k].to_numpy(dtype=np.float64)[mask] if k in frame.columns
               else np.full(ts.shape[0], np.nan) for k in keys]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["timestamp", "epoch", *keys])
    for i, stamp in enumerate(iso(ts)):
        cells = [_cell(float(col[i])) for col in columns]
        writer.writerow([f"{stamp}Z", f"{ts[i]:.3f}", *cells])
    return buf.getvalue()


def _cell(value: float) -> str:
    return repr(value) if math.isfinite(value) else ""


def _stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y%m%dT%H%M%SZ")


def _safe(part: str) -> str:
    """Letters, digits, dot and dash survive; every other run becomes one underscore."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", part).strip("._-")[:MAX_PART_CHARS] or "x"


def figure_filename(service: str, metric: str, start: float, end: float, ext: str = "png") -> str:
    """``api_response_time_p95_ms_20240501T120000Z-20240501T130000Z.png``; no ext if ext is ''."""
    base = "_".join([_safe(service), _safe(metric), f"{_stamp(start)}-{_stamp(end)}"])
    suffix = re.sub(r"[^A-Za-z0-9]", "", ext)
    return f"{base}.{suffix}" if suffix else base


def graph_config(filename: str) -> dict[str, Any]:
    """``dcc.Graph(config=...)``: PNG download named ``filename`` (no extension), no logo."""
    return {
        "displaylogo": False,
        "responsive": True,
        "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2},
        "modeBarButtonsToRemove": ["lasso2d", "select2d"],
    }
