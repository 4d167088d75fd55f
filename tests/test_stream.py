"""SSE framing, keep-alives and per-event gzip flushing, as plain functions."""

import json
import threading
import zlib

from tamma_dash.api.stream import TickSignal, gzip_stream, sse_events


def test_first_frames_are_retry_hint_and_current_state() -> None:
    signal = TickSignal()
    events = sse_events(signal, lambda: {"n": signal.seq}, retry_ms=5000, max_events=1)
    assert next(events) == "retry: 5000\n\n"
    frame = next(events)
    assert frame.startswith("id: 0\nevent: health\ndata: ")
    assert json.loads(frame.split("data: ", 1)[1]) == {"n": 0}


def test_one_event_per_tick_and_keepalive_when_idle() -> None:
    signal = TickSignal()
    events = sse_events(
        signal, lambda: {"n": signal.seq}, retry_ms=1000, keepalive_s=0.01, max_events=2
    )
    next(events), next(events)
    assert next(events) == ": keep-alive\n\n"  # nothing happened within keepalive_s
    signal.notify()
    frame = next(events)
    assert frame.startswith("id: 1\n") and '"n":1' in frame


def test_wait_wakes_on_notify_from_another_thread() -> None:
    signal = TickSignal()
    threading.Timer(0.05, signal.notify).start()
    assert signal.wait(0, timeout=10) == 1


def test_gzip_stream_flushes_every_event_so_each_is_decodable_at_once() -> None:
    chunks = gzip_stream(iter(["data: a\n\n", "data: b\n\n"]))
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert decoder.decompress(next(chunks)) == b"data: a\n\n"
    assert decoder.decompress(next(chunks)) == b"data: b\n\n"
