"""error_rate over a trailing window of counter increases, as PromQL's rate()[1m] ratio."""

from __future__ import annotations

import pytest

from tamma_dash.collectors.promrates import MetricsInterpreter
from tamma_dash.collectors.promwindow import Increase, TrailingRatio

TICK = 5.0


def requests_text(ok: float, failed: float) -> str:
    return (
        "# TYPE tamma_http_requests_total counter\n"
        f'tamma_http_requests_total{{code="200"}} {ok}\n'
        f'tamma_http_requests_total{{code="500"}} {failed}\n'
    )


def error_rates(
    interp: MetricsInterpreter, ticks: list[tuple[int, int]], start: float = 0.0
) -> list[float]:
    """Scrape every TICK seconds; each tick adds (requests, of them 5xx); error_rate per scrape."""
    ok = failed = 0
    interp.interpret(start, requests_text(ok, failed))
    out = []
    for i, (n, errors) in enumerate(ticks, start=1):
        ok, failed = ok + n - errors, failed + errors
        got = interp.interpret(start + i * TICK, requests_text(ok, failed))
        out.append(next(s.value for s in got if s.metric == "error_rate"))
    return out


def test_one_error_among_a_quiet_targets_requests_stays_far_below_two_percent() -> None:
    ticks = [(36, 0)] * 5 + [(36, 1)] + [(36, 0)] * 14
    rates = error_rates(MetricsInterpreter("orchestrator"), ticks)
    assert 100.0 * 1 / 36 > 2.0  # what one tick's ratio said: a ServiceDegraded
    assert rates[:5] == [0.0] * 5
    assert rates[5] == pytest.approx(100.0 / (6 * 36))  # 6 scrapes seen so far
    assert rates[11:17] == pytest.approx([100.0 / (12 * 36)] * 6)  # a full 60 s window
    assert rates[17:] == [0.0, 0.0, 0.0]  # 60 s after it, the error left the window
    assert max(rates) < 2.0


def test_a_sustained_error_fault_crosses_2_at_once_and_10_within_the_window() -> None:
    ticks = [(40, 0)] * 12 + [(40, 12)] * 12  # 30 % of requests fail from tick 13
    rates = error_rates(MetricsInterpreter("api"), ticks)[12:]
    assert rates[0] == pytest.approx(2.5) and rates[0] > 2.0  # the first scrape that sees it
    assert [r > 10.0 for r in rates[:5]] == [False] * 4 + [True]  # 12.5 after 25 s
    assert rates[-1] == pytest.approx(30.0)  # the window holds only faulty ticks


def test_a_counter_reset_inside_the_window_counts_the_new_values_from_zero() -> None:
    interp = MetricsInterpreter("api")
    interp.interpret(0.0, requests_text(100, 0))
    interp.interpret(5.0, requests_text(190, 10))  # +90 ok, +10 failed
    got = {s.metric: s.value for s in interp.interpret(10.0, requests_text(30, 2))}  # restarted
    assert got["error_rate"] == pytest.approx(100.0 * (10 + 2) / (100 + 32))
    assert got["request_rate"] == pytest.approx(32 / TICK)  # still per scrape


def test_without_requests_in_the_window_the_error_rate_is_zero() -> None:
    assert error_rates(MetricsInterpreter("api"), [(0, 0)] * 3) == [0.0] * 3


def test_the_window_holds_the_same_increases_however_scrape_times_jitter() -> None:
    window = TrailingRatio(60.0)
    jitter = [0.4, -0.4, 0.3, -0.2, 0.1, -0.3, 0.4, -0.1, 0.2, -0.4, 0.3, -0.3, 0.2, 0.4, -0.4]
    ends = [k * TICK + j for k, j in enumerate(jitter, start=1)]
    for start, end in zip([0.0, *ends], ends, strict=False):
        window.add(Increase(start, end, 0.0, 1.0))
        assert len(window) == min(12, round(end / TICK))


def test_a_clock_stepping_back_drops_the_increases_it_would_count_twice() -> None:
    window = TrailingRatio(60.0)
    window.add(Increase(0.0, 5.0, 1.0, 10.0))
    window.add(Increase(5.0, 10.0, 1.0, 10.0))
    assert window.add(Increase(7.0, 12.0, 0.0, 10.0)) == pytest.approx(100.0 * 1 / 20)
    assert len(window) == 2


@pytest.mark.parametrize("bad", [0.0, -5.0, float("nan"), float("inf")])
def test_a_window_that_is_not_a_positive_duration_is_refused_naming_the_fix(bad: float) -> None:
    with pytest.raises(ValueError, match="window_s must be a positive number of seconds"):
        MetricsInterpreter("api", window_s=bad)
