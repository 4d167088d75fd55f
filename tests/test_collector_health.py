"""Health checks: fixture bodies through parse_health, and real HTTP on 127.0.0.1."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tamma_dash.collectors.health import (
    INVALID_VALUES,
    HealthCheckCollector,
    parse_health,
    redact,
    target,
)
from tamma_dash.collectors.http import FetchResult
from tamma_dash.config import ServiceConfig
from tamma_dash.models import M, Sample, ServiceKind, Status

FIXTURES = Path(__file__).parent / "fixtures" / "health"
TS = 1_700_000_000.0
HEALTH_JSON = "application/health+json"


# --- a real HTTP server on loopback (also used by test_collector_providers) ----------------------


@dataclass
class Route:
    """What one path answers; ``hold`` makes it wait, ``trickle`` makes it send a byte at a time."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None
    trickle: bool = False
    send_length: bool = True


class LoopbackServer:
    """A ThreadingHTTPServer on 127.0.0.1:<ephemeral> answering from ``routes``."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.release = threading.Event()  # set at close: every held or trickling answer ends
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    def close(self) -> None:
        self.release.set()
        for route in self.routes.values():
            if route.hold is not None:
                route.hold.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append((self.path, dict(self.headers.items())))
                route = server.routes.get(self.path.split("?")[0], Route(404, b"not found"))
                # the client may have given up (a timeout test): expected, not an error
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    server._answer(self, route)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def _answer(self, h: BaseHTTPRequestHandler, route: Route) -> None:
        if route.hold is not None:
            route.hold.wait(30)
        h.send_response(route.status)
        for name, value in route.headers.items():
            h.send_header(name, value)
        if route.send_length and not route.trickle:
            h.send_header("Content-Length", str(len(route.body)))
        h.end_headers()
        if not route.trickle:
            h.wfile.write(route.body)
            return
        while not self.release.wait(0.05):
            h.wfile.write(b" ")
            h.wfile.flush()


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    srv = LoopbackServer()
    yield srv
    srv.close()


def closed_port() -> int:
    """A loopback port nobody listens on: bound, then released."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def by_metric(samples: list[Sample], service: str | None = None) -> dict[str, Sample]:
    return {s.metric: s for s in samples if service is None or s.service == service}


# --- parse_health on fixture bodies ---------------------------------------------------------------


def answer(fixture: str | None, code: int = 200, ctype: str = HEALTH_JSON,
           body: bytes | None = None) -> FetchResult:
    raw = body if body is not None else (FIXTURES / fixture).read_bytes() if fixture else b""
    return FetchResult("http://svc.internal:8080/health", 12.5, code, {"content-type": ctype}, raw)


@pytest.mark.parametrize(("fixture", "code", "ctype", "up", "status", "reason"), [
    ("pass_checks.json", 200, HEALTH_JSON, 1, Status.HEALTHY, ""),
    ("warn_checks.json", 200, HEALTH_JSON, 1, Status.DEGRADED, "reported"),
    ("fail_checks.json", 503, HEALTH_JSON, 1, Status.DOWN, "reported"),
    ("fail_checks.json", 200, HEALTH_JSON, 1, Status.DOWN, "reported"),
    ("warn_checks.json", 503, HEALTH_JSON, 1, Status.DOWN, "http_5xx"),
    ("pass_checks.json", 500, HEALTH_JSON, 1, Status.DOWN, "http_5xx"),
    ("spring_up.json", 200, "application/vnd.spring-boot.actuator.v3+json", 1, Status.HEALTHY, ""),
    ("spring_down.json", 503, "application/vnd.spring-boot.actuator.v3+json", 1, Status.DOWN,
     "reported"),
    ("plain_ok.json", 200, "application/json", 1, Status.HEALTHY, ""),
    ("plain_ok.json", 200, "text/plain", 1, Status.HEALTHY, ""),
    ("plain_degraded.json", 200, "application/json", 1, Status.DEGRADED, "reported"),
    ("unknown_status.json", 200, "application/json", 1, Status.HEALTHY, ""),
    ("unknown_status.json", 503, "application/json", 0, Status.DOWN, "http_5xx"),
    ("no_status.json", 200, "application/json", 1, Status.HEALTHY, ""),
    ("json_array.json", 200, "application/json", 1, Status.HEALTHY, ""),
    ("malformed.json", 200, HEALTH_JSON, 0, Status.DOWN, "bad_json"),
    ("malformed.json", 200, "text/plain", 0, Status.DOWN, "bad_json"),
    ("malformed.json", 500, HEALTH_JSON, 0, Status.DOWN, "http_5xx"),
    ("html_200.html", 200, "text/html", 1, Status.HEALTHY, ""),
    ("html_500.html", 500, "text/html", 0, Status.DOWN, "http_5xx"),
    (None, 204, "", 1, Status.HEALTHY, ""),
    (None, 200, HEALTH_JSON, 1, Status.HEALTHY, ""),
    (None, 503, "", 0, Status.DOWN, "http_5xx"),
    (None, 404, "text/html", 0, Status.DOWN, "http_4xx"),
    ("nan_values.json", 200, HEALTH_JSON, 1, Status.HEALTHY, ""),
])
def test_up_status_and_reason(
    fixture: str | None, code: int, ctype: str, up: int, status: Status, reason: str
) -> None:
    got = by_metric(parse_health("svc", TS, answer(fixture, code, ctype)))
    assert (got[M.UP].value, got[M.STATUS].value) == (up, float(status))
    assert got[M.STATUS].label("reason") == reason
    assert got[M.UP].label("reason") == ("" if up else reason)  # up says why only when down
    assert got[M.STATUS].label("code") == str(code)
    assert got[M.RESPONSE_TIME_MS].value == 12.5  # the round trip, whatever came back
    assert all(s.ts == TS and s.service == "svc" for s in got.values())


def test_pass_document_maps_checks_to_metrics() -> None:
    got = by_metric(parse_health("orchestrator", TS, answer("pass_checks.json")))
    assert got[M.CPU].value == 42.5
    assert got[M.MEMORY].value == 61.25
    assert got[M.DISK].value == 70.0
    assert got["check:uptime"].value == 1209600.0
    conns = got["check:database:connections"]
    assert conns.value == 12.0
    assert dict(conns.labels) == {"component_id": "postgres", "component_type": "datastore",
                                  "status": "pass", "time": "2023-11-14T22:13:20Z",
                                  "unit": "connections"}
    assert got["check:database:responseTime"].value == 3.4
    assert got["check:database:responseTime"].label("unit") == "ms"
    assert got[INVALID_VALUES].value == 0.0
    assert got[M.STATUS].labels == (("code", "200"),)


def test_warn_and_fail_say_why_in_the_service_words() -> None:
    warn = by_metric(parse_health("api", TS, answer("warn_checks.json")))
    assert warn[M.STATUS].label("detail") == (
        "service reports 'warn'; database response time high; checks: database:responseTime (warn)")
    fail = by_metric(parse_health("worker", TS, answer("fail_checks.json", 503)))
    assert fail[M.STATUS].label("detail") == (
        "service reports 'fail'; connection pool exhausted (20/20 active, 7 waiting); "
        "checks: database:connections (fail), database:responseTime (warn)")
    assert fail["check:database:connections"].label("status") == "fail"


def test_top_level_status_is_authoritative_over_checks() -> None:
    body = (b'{"status": "pass", "checks": {"database:responseTime": '
            b'[{"observedValue": 9000, "status": "fail"}]}}')
    got = by_metric(parse_health("svc", TS, answer(None, body=body)))
    assert got[M.STATUS].value == float(Status.HEALTHY)
    assert got["check:database:responseTime"].label("status") == "fail"


def test_several_components_get_one_series_each_and_canonical_max() -> None:
    got = by_metric(parse_health("svc", TS, answer("multi_component.json")))
    assert got["check:cpu:utilization:node-a"].value == 40.0
    assert got["check:cpu:utilization:node-b"].value == 75.0
    assert got[M.CPU].value == 75.0
    assert dict(got[M.CPU].labels) == {"aggregate": "max", "components": "2"}
    assert got["check:database:connections:primary"].value == 10.0
    assert got["check:database:connections:replica"].value == 4.0
    assert "check:database:connections" not in got
    assert got["check:disk:utilization:0"].value == 10.0  # no componentId: the position
    assert got["check:disk:utilization:1"].value == 20.0
    assert got[M.DISK].value == 20.0


def test_invalid_values_are_dropped_and_counted() -> None:
    got = by_metric(parse_health("svc", TS, answer("nan_values.json")))
    assert M.CPU not in got and M.MEMORY not in got and M.DISK not in got
    assert "check:events:total" not in got and "check:bytes:total" not in got
    assert "check:cache:mode" not in got and "check:database:connectivity" not in got
    assert got["check:queue:depth"].value == -3.0  # negative values are data
    assert got["check:cache:enabled"].value == 1.0  # booleans count as 1
    invalid = got[INVALID_VALUES]
    assert invalid.value == 6.0  # NaN, inf, -inf, a string, 1e999, a 401-digit integer
    assert invalid.label("detail") == ("cpu:utilization: nan is not finite; memory:utilization: "
                                       "inf is not finite; disk:utilization: -inf is not finite; "
                                       "and 3 more")


def test_bad_json_names_the_problem_and_the_fix() -> None:
    got = by_metric(parse_health("svc", TS, answer("malformed.json")))
    detail = got[M.UP].label("detail")
    assert detail.startswith("body is not valid JSON (Expecting")
    assert detail.endswith("; the endpoint should return application/health+json")
    assert INVALID_VALUES not in got


def test_html_200_is_healthy_with_a_note() -> None:
    got = by_metric(parse_health("svc", TS, answer("html_200.html", ctype="text/html")))
    assert got[M.STATUS].label("note") == "body is text/html, not JSON; status from HTTP 200"
    assert got[M.STATUS].label("reason") == ""


def test_http_errors_without_a_document_give_hints() -> None:
    five = by_metric(parse_health("svc", TS, answer("html_500.html", 500, "text/html")))
    assert five[M.UP].label("detail") == (
        "HTTP 500 Internal Server Error with no health document; check the service's logs")
    four = by_metric(parse_health("svc", TS, answer(None, 404, "text/html")))
    assert four[M.UP].label("detail") == "HTTP 404 Not Found; no such path; check health_url"
    auth = by_metric(parse_health("svc", TS, answer(None, 401, "text/html")))
    assert "allow anonymous access" in auth[M.UP].label("detail")


def test_deeply_nested_json_is_bad_json_not_a_crash() -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    got = by_metric(parse_health("svc", TS, answer(None, body=body)))
    assert got[M.UP].label("reason") == "bad_json"


def test_no_answer_is_down_without_response_time() -> None:
    result = FetchResult("http://svc:1/health", 3.0, error="refused", detail="whatever")
    got = by_metric(parse_health("svc", TS, result))
    assert set(got) == {M.UP, M.STATUS}
    assert got[M.UP].value == 0.0 and got[M.STATUS].value == float(Status.DOWN)
    assert got[M.UP].label("detail") == (
        "connection refused by svc:1; is the service running and listening there?")


def test_labels_never_carry_userinfo_or_query_tokens() -> None:
    url = "http://monitor:hunter2@svc.internal:8080/health?token=abc123"
    for error, detail in [("connection", f"failed with url: {url} (Caused by X)"),
                          ("tls", "certificate verify failed for /health?token=abc123"),
                          ("timeout", "no answer within 2 s"), ("dns", "x")]:
        samples = parse_health("svc", TS, FetchResult(url, 1.0, error=error, detail=detail))
        text = repr(samples)
        assert "hunter2" not in text and "abc123" not in text and "monitor" not in text
    ok = parse_health("svc", TS, answer("pass_checks.json"))  # its links carry userinfo
    assert "hunter2" not in repr(ok) and "abc123" not in repr(ok)


def test_target_and_redact() -> None:
    assert target("https://u:p@example.internal:8443/h?x=1") == "example.internal:8443"
    assert target("http://example.internal/h") == "example.internal"
    assert redact("GET /h?token=s3cret (Caused by x)", ["nope"]) == "GET /h?… (Caused by x)"
    assert redact("http://u:pw@h/x and s3cret", ["s3cret"]) == "http://h/x and ***"


# --- real HTTP on loopback ------------------------------------------------------------------------


def svc(name: str, url: str | None, timeout_s: float = 2.0, cap: int = 65_536) -> ServiceConfig:
    return ServiceConfig(name, ServiceKind.API, health_url=url, timeout_s=timeout_s,
                         max_body_bytes=cap)


@pytest.fixture
def session() -> Iterator[requests.Session]:
    s = requests.Session()
    s.trust_env = False  # loopback only: no proxy from the environment
    yield s
    s.close()


def collect(services: list[ServiceConfig], session: requests.Session) -> list[Sample]:
    collector = HealthCheckCollector(services, session=session, clock=lambda: TS)
    try:
        return collector.collect()
    finally:
        collector.close()


def test_happy_path_over_http(server: LoopbackServer, session: requests.Session) -> None:
    body = (FIXTURES / "pass_checks.json").read_bytes()
    server.routes["/health"] = Route(200, body, {"Content-Type": HEALTH_JSON})
    samples = collect([svc("api", server.url("/health"))], session)
    got = by_metric(samples)
    assert got[M.UP].value == 1.0 and got[M.STATUS].value == float(Status.HEALTHY)
    assert got[M.CPU].value == 42.5
    assert 0.0 < got[M.RESPONSE_TIME_MS].value < 2000.0
    assert {s.ts for s in samples} == {TS}
    assert "health+json" in server.requests[0][1]["Accept"]


def test_503_with_fail_document_is_up_but_down(server: LoopbackServer,
                                                 session: requests.Session) -> None:
    body = (FIXTURES / "fail_checks.json").read_bytes()
    server.routes["/health"] = Route(503, body, {"Content-Type": HEALTH_JSON})
    got = by_metric(collect([svc("worker", server.url("/health"))], session))
    assert (got[M.UP].value, got[M.STATUS].value) == (1.0, float(Status.DOWN))
    assert got[M.STATUS].label("reason") == "reported"
    assert got["check:database:connections"].value == 20.0


def test_500_with_html_is_http_5xx(server: LoopbackServer, session: requests.Session) -> None:
    body = (FIXTURES / "html_500.html").read_bytes()
    server.routes["/health"] = Route(500, body, {"Content-Type": "text/html"})
    got = by_metric(collect([svc("api", server.url("/health"))], session))
    assert (got[M.UP].value, got[M.UP].label("reason")) == (0.0, "http_5xx")
    assert M.RESPONSE_TIME_MS in got


def test_a_hanging_target_times_out_and_others_still_report(
    server: LoopbackServer, session: requests.Session
) -> None:
    server.routes["/ok"] = Route(200, b'{"status": "pass"}', {"Content-Type": HEALTH_JSON})
    server.routes["/hang"] = Route(hold=threading.Event())
    services = [svc("stuck", server.url("/hang"), timeout_s=0.3), svc("fine", server.url("/ok")),
                svc("gone", f"http://127.0.0.1:{closed_port()}/health")]
    started = time.monotonic()
    samples = collect(services, session)
    assert time.monotonic() - started < 0.3 + 5.0  # about the timeout, not the 30 s hold
    stuck, fine, gone = (by_metric(samples, n) for n in ("stuck", "fine", "gone"))
    assert (stuck[M.UP].value, stuck[M.UP].label("reason")) == (0.0, "timeout")
    assert stuck[M.UP].label("detail").startswith("no answer within 0.3 s from 127.0.0.1:")
    assert M.RESPONSE_TIME_MS not in stuck
    assert (fine[M.UP].value, fine[M.STATUS].value) == (1.0, float(Status.HEALTHY))
    assert (gone[M.UP].value, gone[M.UP].label("reason")) == (0.0, "refused")


def test_a_trickling_target_is_cut_off_and_not_queued_again(
    server: LoopbackServer, session: requests.Session
) -> None:
    server.routes["/drip"] = Route(200, trickle=True, headers={"Content-Type": "text/plain"})
    collector = HealthCheckCollector([svc("drip", server.url("/drip"), timeout_s=0.2)],
                                     session=session, clock=lambda: TS)
    try:
        first = by_metric(collector.collect())
        second = by_metric(collector.collect())
    finally:
        collector.close()
    assert first[M.UP].label("reason") == "timeout"
    assert first[M.UP].label("detail").startswith("no complete answer within 0.2 s")
    assert second[M.UP].label("reason") == "timeout"
    assert second[M.UP].label("detail").startswith("the previous check has not returned yet")
    assert len(server.requests) == 1  # the stuck fetch was not started a second time


@pytest.mark.parametrize("send_length", [True, False])
def test_a_body_over_the_cap_is_too_large(
    server: LoopbackServer, session: requests.Session, send_length: bool
) -> None:
    big = b'{"status": "pass", "pad": "' + b"x" * 200_000 + b'"}'
    server.routes["/big"] = Route(200, big, {"Content-Type": HEALTH_JSON}, send_length=send_length)
    got = by_metric(collect([svc("big", server.url("/big"), cap=4096)], session))
    assert (got[M.UP].value, got[M.UP].label("reason")) == (0.0, "too_large")
    assert "4096 byte cap" in got[M.UP].label("detail")
    assert got[M.STATUS].value == float(Status.DOWN)


def test_unreachable_port_is_refused(session: requests.Session) -> None:
    got = by_metric(collect([svc("gone", f"http://127.0.0.1:{closed_port()}/health")], session))
    assert (got[M.UP].value, got[M.UP].label("reason")) == (0.0, "refused")
    assert got[M.STATUS].label("reason") == "refused"


def test_unknown_host_is_dns(session: requests.Session) -> None:
    got = by_metric(collect([svc("nowhere", "http://tamma-nowhere.invalid:8080/health")], session))
    assert (got[M.UP].value, got[M.UP].label("reason")) == (0.0, "dns")
    assert got[M.UP].label("detail") == (
        "cannot resolve the host 'tamma-nowhere.invalid'; check the URL's host name")


def test_services_without_health_url_are_skipped(session: requests.Session) -> None:
    collector = HealthCheckCollector([svc("quiet", None)], session=session, clock=lambda: TS)
    try:
        assert collector.collect() == []
        assert collector.name == "health"
    finally:
        collector.close()
