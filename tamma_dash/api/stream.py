"""Server-Sent Events: one HealthMetrics event per tick, keep-alives, optional gzip."""

from __future__ import annotations

import json
import threading
import zlib
from collections.abc import Callable, Iterator
from typing import Any

KEEPALIVE_S = 15.0


class TickSignal:
    """A counter that waiters can block on; bumped once per stored tick."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.seq = 0

    def notify(self, *_: object) -> None:
        with self._cond:
            self.seq += 1
            self._cond.notify_all()

    def wait(self, after: int, timeout: float) -> int:
        """Block until ``seq`` passes ``after`` or ``timeout`` elapses; return ``seq``."""
        with self._cond:
            self._cond.wait_for(lambda: self.seq > after, timeout=timeout)
            return self.seq


def sse_events(
    signal: TickSignal,
    build: Callable[[], dict[str, Any]],
    *,
    retry_ms: int,
    keepalive_s: float = KEEPALIVE_S,
    max_events: int | None = None,
) -> Iterator[str]:
    """Yield SSE frames: a ``retry:`` hint, the current state, then one event per tick."""
    yield f"retry: {retry_ms}\n\n"
    seq = signal.seq
    sent = 0
    yield _event(seq, build())
    sent += 1
    while max_events is None or sent < max_events:
        new = signal.wait(seq, keepalive_s)
        if new == seq:
            yield ": keep-alive\n\n"
            continue
        seq = new
        yield _event(seq, build())
        sent += 1


def _event(seq: int, doc: dict[str, Any]) -> str:
    data = json.dumps(doc, separators=(",", ":"), allow_nan=False)
    return f"id: {seq}\nevent: health\ndata: {data}\n\n"


def gzip_stream(chunks: Iterator[str]) -> Iterator[bytes]:
    """Gzip a stream frame by frame, flushing each so the browser gets every event at once."""
    comp = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    for chunk in chunks:
        yield comp.compress(chunk.encode()) + comp.flush(zlib.Z_SYNC_FLUSH)
    yield comp.flush(zlib.Z_FINISH)
