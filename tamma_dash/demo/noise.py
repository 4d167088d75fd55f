"""Deterministic, vectorised randomness and the daily load curve of the demo fleet.

Every draw is a pure function of (seed, service, metric, index), computed with a counter-based
hash (splitmix64), so the live servers and the backfill agree about any instant without sharing
state or replaying a random stream.
"""

from __future__ import annotations

import functools
import zlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)
_MASK = (1 << 64) - 1
_DAY = 86400.0
_WEEKEND_FACTOR = 0.6


def _mix(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser on a uint64 array (wrapping arithmetic is intended)."""
    x = (x ^ (x >> np.uint64(30))) * _C1
    x = (x ^ (x >> np.uint64(27))) * _C2
    return x ^ (x >> np.uint64(31))


@functools.lru_cache(maxsize=4096)
def _stream(seed: int, service: str, metric: str) -> np.uint64:
    """A well-mixed 64-bit key for one (seed, service, metric) stream."""
    crc = zlib.crc32(f"{service}/{metric}".encode())
    raw = ((seed & 0xFFFFFFFF) << 32 | crc) & _MASK
    return np.uint64(_mix(np.array([raw], dtype=np.uint64))[0])


def _hash(seed: int, service: str, metric: str, index: np.ndarray) -> np.ndarray:
    k = np.atleast_1d(np.asarray(index, dtype=np.int64)).astype(np.uint64)
    return _mix(_stream(seed, service, metric) + k * _GOLDEN)


def uniform(seed: int, service: str, metric: str, index: np.ndarray) -> np.ndarray:
    """Uniform [0, 1) draws, one per index."""
    h = _hash(seed, service, metric, index)
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def normal(seed: int, service: str, metric: str, index: np.ndarray) -> np.ndarray:
    """Standard normal draws, one per index (Box-Muller on two hashed uniforms)."""
    u1 = 1.0 - uniform(seed, service, metric, index)
    u2 = uniform(seed, service, metric + "#2", index)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def smooth(seed: int, service: str, metric: str, t: np.ndarray, period_s: float) -> np.ndarray:
    """Slowly wandering noise (about N(0, 0.6)): normal knots every period_s, eased between."""
    x = np.asarray(t, dtype=np.float64) / period_s
    j = np.floor(x)
    w = x - j
    w = w * w * (3.0 - 2.0 * w)
    g0 = normal(seed, service, metric + "~", j)
    g1 = normal(seed, service, metric + "~", j + 1)
    return g0 * (1.0 - w) + g1 * w


def daily_curve(t: np.ndarray) -> np.ndarray:
    """0..1 by UTC hour: trough at 03:00, peak at 14:00, smooth at both."""
    hours = (np.asarray(t, dtype=np.float64) % _DAY) / 3600.0
    h = (hours - 3.0) % 24.0
    phase = np.where(h < 11.0, h / 11.0 * np.pi, np.pi + (h - 11.0) / 13.0 * np.pi)
    return 0.5 - 0.5 * np.cos(phase)


def weekday(t: np.ndarray) -> np.ndarray:
    """Day of week for epoch seconds, Monday = 0 (1970-01-01 was a Thursday)."""
    return ((np.floor(np.asarray(t, dtype=np.float64) / _DAY) + 3) % 7).astype(np.int64)


def load(seed: int, t: np.ndarray) -> np.ndarray:
    """Fleet load, about 0.12 at a weekend night to about 1.0 at a weekday 14:00."""
    t = np.asarray(t, dtype=np.float64)
    week = np.where(weekday(t) >= 5, _WEEKEND_FACTOR, 1.0)
    wander = 1.0 + 0.06 * smooth(seed, "fleet", "load", t, 900.0)
    return np.clip((0.12 + 0.88 * daily_curve(t) * week) * wander, 0.05, 1.2)
