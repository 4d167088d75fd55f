"""The tick: collectors run under one budget; a raising or hanging one never stops the others."""

import threading
from collections.abc import Sequence

from tamma_dash.models import Sample
from tamma_dash.pipeline import SELF, Pipeline


class ListSink:
    def __init__(self) -> None:
        self.ticks: list[tuple[float, list[Sample]]] = []

    def append(self, ts: float, samples: Sequence[Sample]) -> None:
        self.ticks.append((ts, list(samples)))


class Fixed:
    def __init__(self, name: str, values: list[float]) -> None:
        self.name = name
        self.values = values

    def collect(self) -> list[Sample]:
        return [Sample(0.0, self.name, f"m{i}", v) for i, v in enumerate(self.values)]


class Raising:
    name = "broken"

    def collect(self) -> list[Sample]:
        raise RuntimeError("boom")


class Hanging:
    name = "hanging"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def collect(self) -> list[Sample]:
        self.calls += 1
        self.release.wait(30)
        return [Sample(0.0, "hanging", "late", 1.0)]


def _by_key(samples: list[Sample]) -> dict[str, Sample]:
    return {s.key: s for s in samples}


def test_tick_stores_every_collectors_samples_at_the_tick_time() -> None:
    sink = ListSink()
    pipe = Pipeline(
        [Fixed("a", [1.0, 2.0]), Fixed("b", [3.0])], sink, interval_s=1, clock=lambda: 1000.0
    )
    report = pipe.tick()
    assert sink.ticks[0][0] == 1000.0
    got = _by_key(sink.ticks[0][1])
    assert got["a/m0"].value == 1.0 and got["a/m1"].value == 2.0 and got["b/m0"].value == 3.0
    assert got[f"{SELF}/collector_ok:a"].value == 1.0
    assert report.errors == [] and report.seq == 1


def test_raising_collector_is_recorded_and_others_still_stored() -> None:
    sink = ListSink()
    pipe = Pipeline([Raising(), Fixed("a", [5.0])], sink, interval_s=1, clock=lambda: 1.0)
    report = pipe.tick()
    got = _by_key(sink.ticks[0][1])
    assert got["a/m0"].value == 5.0
    broken = got[f"{SELF}/collector_ok:broken"]
    assert broken.value == 0.0 and "RuntimeError: boom" in broken.label("detail")
    assert [o.name for o in report.errors] == ["broken"]


def test_hanging_collector_times_out_and_is_not_started_twice() -> None:
    sink = ListSink()
    hang = Hanging()
    pipe = Pipeline(
        [hang, Fixed("a", [1.0])], sink, interval_s=0.2, budget_s=0.1, clock=lambda: 1.0
    )
    try:
        first = pipe.tick()
        second = pipe.tick()
        assert hang.calls == 1  # still running: not launched again
        assert "timed out" in first.errors[0].error
        assert "still running" in second.errors[0].error
        assert _by_key(sink.ticks[1][1])["a/m0"].value == 1.0
    finally:
        hang.release.set()
        pipe.stop()


def test_nan_and_inf_are_dropped_and_counted() -> None:
    sink = ListSink()
    pipe = Pipeline(
        [Fixed("a", [1.0, float("nan"), float("inf"), -3.0])], sink, interval_s=1, clock=lambda: 1.0
    )
    report = pipe.tick()
    keys = _by_key(sink.ticks[0][1])
    assert "a/m1" not in keys and "a/m2" not in keys
    assert keys["a/m3"].value == -3.0  # negative values are data
    assert report.dropped == 2


def test_background_loop_ticks_and_notifies_listeners() -> None:
    sink = ListSink()
    pipe = Pipeline([Fixed("a", [1.0])], sink, interval_s=0.1, clock=lambda: 1.0)
    seen = threading.Event()
    reports: list[int] = []

    def listener(report: object) -> None:
        reports.append(report.seq)
        if len(reports) >= 3:
            seen.set()

    pipe.subscribe(listener)
    pipe.start()
    try:
        assert seen.wait(20), "three ticks did not happen"
    finally:
        pipe.stop()
    assert reports[:3] == [1, 2, 3]
    assert not pipe.running
