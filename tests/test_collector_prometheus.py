"""The Prometheus collector: text parsing, rates, quantiles, the cap, and real HTTP scrapes."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tamma_dash.collectors.prometheus import PrometheusCollector
from tamma_dash.collectors.promparse import ParseError, RawFamily, SeriesParser
from tamma_dash.collectors.promrates import (
    MetricsInterpreter,
    bucket_increase,
    histogram_quantile,
)
from tamma_dash.config import ServiceConfig
from tamma_dash.models import Sample, ServiceKind

FIXTURES = Path(__file__).parent / "fixtures" / "metrics"
SCRAPE1 = (FIXTURES / "tamma_scrape1.prom").read_text()
SCRAPE2 = (FIXTURES / "tamma_scrape2.prom").read_text()
MALFORMED = (FIXTURES / "malformed.prom").read_text()
INF = "+Inf"


def values(samples: list[Sample]) -> dict[str, float]:
    return {s.metric: s.value for s in samples}


def test_first_scrape_maps_tamma_gauges_and_keeps_other_gauges_by_folded_name() -> None:
    got = values(MetricsInterpreter("api").interpret(1000.0, SCRAPE1))
    assert got == {
        "scrape_ok": 1.0, "scrape_series_dropped": 0.0,
        "queue_depth": 9.0, "active_workers": 3.0, "workers_total": 4.0, "worker_busy": 3.0,
        "db_pool_active": 5.0, "db_pool_idle": 3.0, "db_pool_waiting": 1.0, "db_pool_max": 20.0,
        'tamma_task_duration_seconds{quantile="0.5"}': 1.5,
        'tamma_task_duration_seconds{quantile="0.9"}': 3.2,
        'tamma_build_info{commit="abc\\"def",path="C:\\\\tamma",version="1.2.3"}': 1.0,
        "tamma_clock_skew_seconds": -0.25,  # negative gauges are kept; NaN and +Inf are not
        "tamma_legacy_jobs": 42.0,
        "process_resident_memory_bytes": 52428800.0,
    }


def test_second_scrape_derives_rates_with_a_reset_and_quantiles_of_the_increase() -> None:
    interp = MetricsInterpreter("api")
    interp.interpret(1000.0, SCRAPE1)
    samples = interp.interpret(1010.0, SCRAPE2)
    assert {s.ts for s in samples} == {1010.0} and {s.service for s in samples} == {"api"}
    got = values(samples)
    derived = {
        "request_rate": 20.0,  # (180 + 0 + 20) requests in 10 s
        "error_rate": 10.0,  # 20 of them 5xx
        "response_time_p50_ms": 100.0 + 150.0 * 20 / 70,
        "response_time_p95_ms": 500.0,
        "response_time_p99_ms": 1000.0,
        'tamma_tasks_processed_rate{queue="default"}': 3.0,  # 500 -> 30: reset, 30 new in 10 s
        "process_cpu_seconds_rate": 0.05,
        'python_gc_objects_collected_rate{generation="0"}': 2.0,
        'tamma_llm_call_duration_p50_ms{provider="anthropic"}': 1750.0,
        'tamma_llm_call_duration_p95_ms{provider="anthropic"}': 4625.0,
        'tamma_llm_call_duration_p99_ms{provider="anthropic"}': 4925.0,
        "tamma_payload_bytes_p50": 1024.0,
        "tamma_payload_bytes_p95": 1024.0 + 3072.0 * 3.6 / 4,
        "tamma_payload_bytes_p99": 1024.0 + 3072.0 * 3.92 / 4,
    }
    assert {k: got[k] for k in derived} == pytest.approx(derived)
    assert not any(k.startswith("db_query_") for k in got)  # nothing observed in between
    assert got["scrape_ok"] == 1.0  # the junk line after "# EOF" was not read
    assert got["queue_depth"] == 13.0 and got["tamma_clock_skew_seconds"] == -0.5
    assert len(got) == 16 + len(derived)


def test_malformed_text_yields_only_scrape_ok_0_naming_the_line_and_keeps_the_baseline() -> None:
    interp = MetricsInterpreter("api")
    interp.interpret(1000.0, SCRAPE1)
    [bad] = interp.interpret(1005.0, MALFORMED)
    assert (bad.metric, bad.value, bad.label("reason")) == ("scrape_ok", 0.0, "parse_error")
    assert bad.label("detail").startswith("line 6: labels without a closing '}'")
    got = values(interp.interpret(1010.0, SCRAPE2))  # rates still span the last good scrape
    assert got["request_rate"] == 20.0 and got["scrape_ok"] == 1.0


@pytest.mark.parametrize("line", [
    'tamma_queue_depth{queue="a"} 1_000',  # Go-style digit separators are not numbers here
    "tamma_queue_depth twelve",
    "tamma_queue_depth",
    "tamma_queue_depth 1 2 3",
    'tamma_queue_depth{queue=a} 1',
    'tamma_queue_depth{queue="a",queue="b"} 1',
    "9lives 1",
    "# TYPE tamma_queue_depth",
])
def test_malformed_lines_are_parse_errors(line: str) -> None:
    [bad] = MetricsInterpreter("api").interpret(1.0, f"tamma_workers_active 1\n{line}\n")
    assert bad.value == 0.0 and bad.label("detail").startswith("line 2: ")


def test_timestamps_are_ignored_and_escapes_unfolded_once_per_series() -> None:
    parser = SeriesParser()
    series, value = parser.parse_line('m{b="x\\\\y",a="q\\"r"} -2.5e3 1712345678000')
    assert (series.name, series.labels, value) == ("m", (("a", 'q"r'), ("b", "x\\y")), -2500.0)
    assert series.text == '{a="q\\"r",b="x\\\\y"}'
    again, _ = parser.parse_line('m{b="x\\\\y",a="q\\"r"} 7')
    assert again is series  # cached: the library parses each series text once
    with pytest.raises(ParseError, match="line 1"):
        parser.parse(RawFamily("m", "gauge", [(1, "m", "m{a=1} 2")]))


def test_clock_stepping_back_gives_no_rates_and_becomes_the_new_baseline() -> None:
    interp = MetricsInterpreter("api")
    interp.interpret(1000.0, SCRAPE1)
    back = values(interp.interpret(990.0, SCRAPE2))
    assert "request_rate" not in back and "response_time_p50_ms" not in back
    assert back["queue_depth"] == 13.0
    resumed = values(interp.interpret(1000.0, SCRAPE2))  # 10 s after the baseline, no change
    assert resumed["request_rate"] == 0.0 and resumed["error_rate"] == 0.0
    assert resumed['tamma_tasks_processed_rate{queue="default"}'] == 0.0
    assert "response_time_p50_ms" not in resumed  # nothing observed in between


def test_zero_elapsed_time_gives_no_rates() -> None:
    interp = MetricsInterpreter("api")
    interp.interpret(1000.0, SCRAPE1)
    got = values(interp.interpret(1000.0, SCRAPE2))
    assert not any(k.endswith("_rate") or "_p50" in k for k in got)


REQUESTS_EMPTY = "# HELP tamma_http_requests_total x\n# TYPE tamma_http_requests_total counter\n"


def test_labelled_counter_that_appears_counts_from_zero() -> None:
    interp = MetricsInterpreter("api")
    assert "request_rate" not in values(interp.interpret(0.0, REQUESTS_EMPTY))
    later = REQUESTS_EMPTY + (
        'tamma_http_requests_total{code="200"} 6\ntamma_http_requests_total{code="500"} 4\n'
    )
    got = values(interp.interpret(10.0, later))
    assert (got["request_rate"], got["error_rate"]) == (1.0, 40.0)


def test_no_requests_in_between_gives_zero_error_rate_and_families_absent_before_no_rate() -> None:
    interp = MetricsInterpreter("api")
    interp.interpret(0.0, REQUESTS_EMPTY)
    got = values(interp.interpret(5.0, REQUESTS_EMPTY + "other_total 5\n"))
    assert (got["request_rate"], got["error_rate"]) == (0.0, 0.0)
    assert "other_total" in got  # untyped: a gauge by its own name, never a rate


def test_invalid_counter_and_bucket_values_are_dropped() -> None:
    text = ("# TYPE c_total counter\nc_total{k=\"neg\"} -1\nc_total{k=\"nan\"} NaN\n"
            "# TYPE h histogram\n"
            'h_bucket{le="1",g="ok"} {a}\nh_bucket{le="+Inf",g="ok"} {a}\nh_count{g="ok"} {a}\n'
            'h_bucket{le="1",g="bad"} NaN\nh_bucket{le="+Inf",g="bad"} {a}\nh_count{g="bad"} 1\n')
    interp = MetricsInterpreter("svc")
    interp.interpret(0.0, text.replace("{a}", "0"))
    got = values(interp.interpret(1.0, text.replace("{a}", "2")))
    assert sorted(k for k in got if "{" in k) == ['h_p50{g="ok"}', 'h_p95{g="ok"}', 'h_p99{g="ok"}']
    assert got['h_p50{g="ok"}'] == 0.5


def test_an_unusable_counter_reading_keeps_the_last_good_one_as_baseline() -> None:
    interp = MetricsInterpreter("svc")
    text = "# TYPE jobs_total counter\njobs_total {v}\n"
    interp.interpret(0.0, text.format(v=100))
    assert "jobs_rate" not in values(interp.interpret(5.0, text.format(v="NaN")))
    assert values(interp.interpret(10.0, text.format(v=110)))["jobs_rate"] == 2.0


def test_cap_admits_whole_families_in_order_and_counts_the_rest() -> None:
    text = ("# TYPE a gauge\na{i=\"1\"} 1\na{i=\"2\"} 2\n"
            "# TYPE big gauge\nbig{i=\"1\"} 1\nbig{i=\"2\"} 1\nbig{i=\"3\"} 1\n"
            "# TYPE h_seconds histogram\nh_seconds_bucket{le=\"+Inf\"} 1\nh_seconds_count 1\n"
            "# TYPE tamma_queue_depth gauge\ntamma_queue_depth 4\n"
            "# TYPE one gauge\none 1\n")
    got = values(MetricsInterpreter("svc", max_series=3).interpret(0.0, text))
    assert got == {"scrape_ok": 1.0, "scrape_series_dropped": 6.0, 'a{i="1"}': 1.0,
                   'a{i="2"}': 2.0, "queue_depth": 4.0, "one": 1.0}


@pytest.mark.parametrize(("q", "buckets", "expected"), [
    (0.5, {"1": 2.0, "2": 6.0, INF: 10.0}, 1.75),
    (0.99, {"0.5": 1.0, "1": 2.0, INF: 10.0}, 1.0),  # rank in +Inf: the highest finite bound
    (0.5, {"1": 2.0, "2": 6.0}, None),  # no +Inf bucket
    (0.5, {INF: 10.0}, None),  # no finite bucket
    (0.5, {"1": 0.0, INF: 0.0}, None),  # nothing observed
    (0.5, {"-1": 5.0, "1": 10.0, INF: 10.0}, -1.0),  # first bucket at or below zero
    (0.5, {"1": 6.0, "2": 4.0, INF: 10.0}, 1.0 * 5 / 6),  # non-monotonic counts are evened out
    (0.5, {"abc": 1.0, INF: 1.0}, None),
])
def test_histogram_quantile_matches_prometheus(
    q: float, buckets: dict[str, float], expected: float | None
) -> None:
    assert histogram_quantile(q, buckets) == (None if expected is None else pytest.approx(expected))


def test_bucket_increase_resets_the_whole_histogram_when_one_bucket_drops() -> None:
    assert bucket_increase({"1": 5.0, INF: 9.0}, {"1": 7.0, INF: 12.0}) == {"1": 2.0, INF: 3.0}
    assert bucket_increase({"1": 5.0, INF: 9.0}, {"1": 1.0, INF: 12.0}) == {"1": 1.0, INF: 12.0}
    assert bucket_increase({"1": 5.0, INF: 9.0}, {"2": 6.0, INF: 12.0}) == {"2": 6.0, INF: 12.0}


# ---- the collector against real HTTP endpoints on 127.0.0.1 ------------------------------


class Target:
    """A /metrics endpoint whose status, body and delay the test sets."""

    def __init__(self) -> None:
        self.status, self.body, self.accept = 200, SCRAPE1.encode(), ""
        self.hold = threading.Event()  # set() releases a handler told to stall
        self.stall = False
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                target.accept = self.headers.get("Accept", "")
                if target.stall:
                    target.hold.wait(10)
                try:
                    self.send_response(target.status)
                    self.send_header("Content-Length", str(len(target.body)))
                    self.end_headers()
                    self.wfile.write(target.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the collector gave up first (a timeout or size-limit test)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def service(self, name: str = "api", **kw: object) -> ServiceConfig:
        url = f"http://127.0.0.1:{self.server.server_address[1]}/metrics"
        return ServiceConfig(name, ServiceKind.API, metrics_url=url, **kw)  # type: ignore[arg-type]

    def close(self) -> None:
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def target() -> Iterator[Target]:
    t = Target()
    yield t
    t.close()


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def scrape_ok(samples: list[Sample], service: str = "api") -> Sample:
    return next(s for s in samples if s.service == service and s.metric == "scrape_ok")


def test_collector_scrapes_a_real_endpoint_and_rates_between_ticks(target: Target) -> None:
    clock = FakeClock(1000.0)
    collector = PrometheusCollector([target.service()], clock=clock)
    try:
        first = collector.collect()
        target.body, clock.now = SCRAPE2.encode(), 1010.0
        got = values(collector.collect())
    finally:
        collector.close()
    assert values(first)["scrape_ok"] == 1.0 and "request_rate" not in values(first)
    assert (got["request_rate"], got["error_rate"], got["queue_depth"]) == (20.0, 10.0, 13.0)
    assert got["scrape_duration_ms"] > 0.0
    assert target.accept.startswith("text/plain;version=0.0.4")


def test_failures_are_samples_with_reasons(target: Target) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    dead = ServiceConfig("dead", ServiceKind.API, metrics_url=f"http://127.0.0.1:{closed}/m")
    small = target.service("small", max_body_bytes=1024)
    collector = PrometheusCollector([dead, small, ServiceConfig("nothing", ServiceKind.API)])
    try:
        samples = collector.collect()
        target.status, target.body = 503, b"overloaded"
        failed = scrape_ok(collector.collect(), "small")
        target.status, target.body = 200, b"queue \xff\xfe 1\n"
        undecodable = scrape_ok(collector.collect(), "small")
    finally:
        collector.close()
    assert {s.service for s in samples} == {"dead", "small"}
    assert scrape_ok(samples, "dead").label("reason") == "refused"
    assert scrape_ok(samples, "small").label("reason") == "too_large"
    assert failed.labels == (("detail", "HTTP 503 from /metrics"), ("reason", "http_status"))
    assert undecodable.label("reason") == "parse_error"
    assert all(any(s.metric == "scrape_duration_ms" and s.service == n for s in samples)
               for n in ("dead", "small"))


def test_a_stalled_target_times_out_without_holding_up_the_others(target: Target) -> None:
    other = Target()
    target.stall = True
    collector = PrometheusCollector([target.service("slow", timeout_s=0.3), other.service("fast")])
    try:
        samples = collector.collect()
    finally:
        target.hold.set()
        collector.close()
        other.close()
    assert scrape_ok(samples, "slow").label("reason") == "timeout"
    assert scrape_ok(samples, "fast").value == 1.0


def test_collector_passes_its_error_window_to_each_target(target: Target) -> None:
    clock = FakeClock(1000.0)
    collectors = [PrometheusCollector([target.service()], clock=clock, error_window_s=w)
                  for w in (10.0, 60.0)]
    got: list[float] = []
    try:
        for body, now in ((SCRAPE1, 1000.0), (SCRAPE2, 1010.0), (SCRAPE2, 1020.0)):
            target.body, clock.now = body.encode(), now
            got += [values(c.collect()).get("error_rate", -1.0) for c in collectors]
    finally:
        for c in collectors:
            c.close()
    # 10 s: the 10 % tick has left the window at 1020; 60 s: it is still in it
    assert got == [-1.0, -1.0, 10.0, 10.0, 0.0, 10.0]
