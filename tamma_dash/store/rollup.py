"""Rollup math (min, max, mean, count per series per step) and the blob codec of SQLite rows.

A tick row stores the ids (int32) and values (float64) of the series present that tick; a rollup
row stores ids (int32) with mins, maxs, means (float32) and counts (int32). Decoding joins many
rows' blobs and scatters them with one vectorized assignment, which keeps reloads fast.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

STATS = ("min", "max", "mean", "count")
ID_DTYPE = np.dtype("<i4")
VALUE_DTYPE = np.dtype("<f8")
ROLLUP_DTYPE = np.dtype("<f4")
COUNT_DTYPE = np.dtype("<i4")

TickRow = tuple[float, bytes, bytes]
RollupRow = tuple[float, bytes, bytes, bytes, bytes, bytes]


class Rollup(NamedTuple):
    """Per-step aggregates: ``steps[i]`` is a step start, the matrices are ``[steps x series]``."""

    steps: np.ndarray
    mins: np.ndarray
    maxs: np.ndarray
    means: np.ndarray
    counts: np.ndarray


def step_start(ts: float, step_s: float) -> float:
    """The start of the rollup step that contains ``ts``."""
    return math.floor(ts / step_s) * step_s


def rollup(ts: np.ndarray, block: np.ndarray, step_s: float) -> Rollup:
    """Aggregate ascending ticks into steps of ``step_s``, ignoring NaN (count says how many)."""
    if ts.shape[0] == 0:
        empty = np.empty((0, block.shape[1]))
        return Rollup(np.empty(0), empty, empty, empty, empty.astype(np.int64))
    sid = np.floor(ts / step_s)
    bounds = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]])
    valid = ~np.isnan(block)
    counts = np.add.reduceat(valid, bounds, axis=0, dtype=np.int64)
    sums = np.add.reduceat(np.where(valid, block, 0.0), bounds, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
        mins = np.fmin.reduceat(block, bounds, axis=0)
        maxs = np.fmax.reduceat(block, bounds, axis=0)
    return Rollup(sid[bounds] * step_s, mins, maxs, means, counts)


def encode_tick(ts: float, row: np.ndarray) -> TickRow:
    """One tick as a ``ticks`` row: the ids and values of the series present."""
    ids = np.flatnonzero(~np.isnan(row))
    return (float(ts), ids.astype(ID_DTYPE).tobytes(), row[ids].astype(VALUE_DTYPE).tobytes())


def encode_rollups(r: Rollup, cols: np.ndarray) -> list[RollupRow]:
    """One ``rollups`` row per step, holding the series (``cols[j]``) with a count above zero."""
    stats = [np.ascontiguousarray(m, dtype=d) for m, d in (
        (r.mins, ROLLUP_DTYPE), (r.maxs, ROLLUP_DTYPE), (r.means, ROLLUP_DTYPE),
        (r.counts, COUNT_DTYPE))]
    ids = cols.astype(ID_DTYPE)
    all_ids = ids.tobytes()
    present: np.ndarray = np.asarray(r.counts > 0)
    full = np.asarray(present.all(axis=1)).tolist()
    out: list[RollupRow] = []
    for i in range(r.steps.shape[0]):
        if full[i]:  # the common case: every series reported in this step
            blobs = [m[i].tobytes() for m in stats]
            out.append((float(r.steps[i]), all_ids, *blobs))  # type: ignore[arg-type]
        else:
            keep = present[i]
            blobs = [m[i, keep].tobytes() for m in stats]
            out.append((float(r.steps[i]), ids[keep].tobytes(), *blobs))  # type: ignore[arg-type]
    return out


def scatter(
    id_blobs: Sequence[bytes], value_blobs: Sequence[Sequence[bytes]], dtypes: Sequence[np.dtype],
    lookup: np.ndarray, width: int,
) -> list[np.ndarray]:
    """Decode rows of ``(ids, values...)`` blobs into ``[rows x width]`` float matrices (NaN gaps).

    ``lookup[series_id]`` is the output column of a series, or -1 to skip it.
    """
    n = len(id_blobs)
    ids = np.frombuffer(b"".join(id_blobs), dtype=ID_DTYPE).astype(np.int64)
    lengths = np.fromiter((len(b) // ID_DTYPE.itemsize for b in id_blobs), dtype=np.int64, count=n)
    row_of = np.repeat(np.arange(n), lengths)
    known = ids < lookup.shape[0]
    col = np.full(ids.shape[0], -1, dtype=np.int64)
    col[known] = lookup[ids[known]]
    keep = col >= 0
    rows, cols = row_of[keep], col[keep]
    out: list[np.ndarray] = []
    for blobs, dtype in zip(value_blobs, dtypes, strict=True):
        values = np.frombuffer(b"".join(blobs), dtype=dtype)
        if values.shape[0] != ids.shape[0]:
            raise ValueError("corrupt history row: ids and values have different lengths")
        matrix = np.full((n, width), np.nan)
        matrix[rows, cols] = values[keep]
        out.append(matrix)
    return out


def lookup_for(ids: np.ndarray, size: int) -> np.ndarray:
    """A series-id -> output-column table for the requested ``ids`` (-1 entries are skipped)."""
    lookup = np.full(max(size, int(ids.max(initial=-1)) + 1), -1, dtype=np.int64)
    wanted = np.flatnonzero(ids >= 0)
    lookup[ids[wanted]] = wanted
    return lookup
