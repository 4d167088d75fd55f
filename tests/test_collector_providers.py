"""Provider / git-platform probes over real HTTP on 127.0.0.1: rate limits, success rate, tokens."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from email.utils import formatdate

import pytest
import requests

from tamma_dash.collectors.http import FetchResult
from tamma_dash.collectors.providers import ProviderCollector, probe_samples
from tamma_dash.config import ServiceConfig
from tamma_dash.models import M, Sample, ServiceKind, Status
from tests.test_collector_health import LoopbackServer, Route, by_metric, closed_port

NOW = 1_700_000_000.0
TOKEN = "tok-5f3a9c1e-DO-NOT-LEAK"
ENV = {"PROBE_TOKEN": TOKEN}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    srv = LoopbackServer()
    yield srv
    srv.close()


@pytest.fixture
def session() -> Iterator[requests.Session]:
    s = requests.Session()
    s.trust_env = False  # loopback only: no proxy or .netrc from the environment
    yield s
    s.close()


def provider(url: str | None, *, name: str = "openai", kind: ServiceKind = ServiceKind.PROVIDER,
             token_env: str | None = "PROBE_TOKEN") -> ServiceConfig:
    return ServiceConfig(name, kind, probe_url=url, token_env=token_env, timeout_s=2.0)


def collector(services: list[ServiceConfig], session: requests.Session, *, window: int = 60,
              environ: dict[str, str] | None = None) -> ProviderCollector:
    return ProviderCollector(services, session=session, clock=lambda: NOW, window=window,
                             environ=ENV if environ is None else environ)


def probe_once(server: LoopbackServer, session: requests.Session, route: Route,
               kind: ServiceKind = ServiceKind.PROVIDER) -> dict[str, Sample]:
    server.routes["/probe"] = route
    c = collector([provider(server.url("/probe"), kind=kind)], session)
    try:
        return by_metric(c.collect())
    finally:
        c.close()


OPENAI = {"x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-requests": "499",
          "x-ratelimit-reset-requests": "6m0s", "x-ratelimit-limit-tokens": "30000",
          "x-ratelimit-remaining-tokens": "29000", "x-ratelimit-reset-tokens": "20ms"}
FLAVOURS = [
    pytest.param({"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4987",
                  "x-ratelimit-used": "13", "x-ratelimit-reset": str(int(NOW) + 1800),
                  "x-ratelimit-resource": "core"}, (4987, 5000, 1800, "github:core"), id="github"),
    pytest.param({"RateLimit-Limit": "2000", "RateLimit-Observed": "13",
                  "RateLimit-Remaining": "1987", "RateLimit-Reset": str(int(NOW) + 45),
                  "RateLimit-ResetTime": formatdate(NOW + 45, usegmt=True)},
                 (1987, 2000, 45, "gitlab"), id="gitlab"),
    pytest.param({"RateLimit": "limit=100, remaining=50, reset=5"}, (50, 100, 5, "ietf"),
                 id="ietf-dictionary"),
    pytest.param({"RateLimit": '"default";r=50;t=30', "RateLimit-Policy": '"default";q=100;w=60'},
                 (50, 100, 30, "ietf:default"), id="ietf-list"),
    pytest.param({"RateLimit-Limit": "100", "RateLimit-Remaining": "60", "RateLimit-Reset": "9"},
                 (60, 100, 9, "ietf-draft"), id="ietf-draft-fields"),
    pytest.param(OPENAI, (499, 500, 360, "openai:requests"), id="openai"),
    pytest.param({"anthropic-ratelimit-requests-limit": "50",
                  "anthropic-ratelimit-requests-remaining": "49",
                  "anthropic-ratelimit-requests-reset": "2023-11-14T22:14:20Z"},
                 (49, 50, 60, "anthropic:requests"), id="anthropic"),
]


@pytest.mark.parametrize(("headers", "want"), FLAVOURS)
def test_rate_limit_headers_of_each_flavour(
    server: LoopbackServer, session: requests.Session, headers: dict[str, str],
    want: tuple[float, float, float, str],
) -> None:
    got = probe_once(server, session, Route(200, b'{"data": []}', {**JSON, **headers}))
    remaining, limit, reset, policy = want
    assert got[M.RL_REMAINING].value == remaining
    assert got[M.RL_LIMIT].value == limit
    assert got[M.RL_RESET_S].value == pytest.approx(reset)
    assert got[M.RL_REMAINING].label("policy") == policy
    assert (got[M.UP].value, got[M.STATUS].value) == (1.0, float(Status.HEALTHY))
    assert got[M.SUCCESS_RATE].value == 100.0
    assert got[M.RESPONSE_TIME_MS].value > 0.0


def test_other_windows_get_suffixed_metrics(server: LoopbackServer,
                                            session: requests.Session) -> None:
    got = probe_once(server, session, Route(200, b"{}", {**JSON, **OPENAI}))
    assert got["ratelimit_remaining:openai:tokens"].value == 29000.0
    assert got["ratelimit_limit:openai:tokens"].value == 30000.0
    assert got["ratelimit_reset_s:openai:tokens"].value == pytest.approx(0.02)
    assert got["ratelimit_remaining:openai:tokens"].label("resource") == "tokens"


def test_the_same_window_told_twice_is_reported_once(server: LoopbackServer,
                                                     session: requests.Session) -> None:
    headers = {"RateLimit-Limit": "2000", "RateLimit-Observed": "10", "RateLimit-Remaining": "1990",
               "RateLimit-Reset": str(int(NOW) + 50), "RateLimit": "limit=2000, remaining=1990"}
    got = probe_once(server, session, Route(200, b"{}", {**JSON, **headers}))
    assert not [m for m in got if m.startswith("ratelimit_") and ":" in m]
    assert got[M.RL_REMAINING].value == 1990.0


def test_no_rate_limit_headers_means_no_rate_limit_samples(server: LoopbackServer,
                                                           session: requests.Session) -> None:
    got = probe_once(server, session, Route(200, b"{}", JSON))
    assert not [m for m in got if m.startswith("ratelimit")]
    assert set(got) == {M.UP, M.STATUS, M.RESPONSE_TIME_MS, M.SUCCESS_RATE}


def test_success_rate_over_a_sliding_window(server: LoopbackServer,
                                            session: requests.Session) -> None:
    server.routes["/probe"] = route = Route(200, b"{}", JSON)
    c = collector([provider(server.url("/probe"))], session, window=4)
    rates, statuses, reasons = [], [], []
    try:
        for code in (200, 200, 500, 429, 200):
            route.status = code
            got = by_metric(c.collect())
            rates.append(round(got[M.SUCCESS_RATE].value, 3))
            statuses.append(Status(int(got[M.STATUS].value)))
            reasons.append(got[M.STATUS].label("reason"))
    finally:
        c.close()
    assert rates == [100.0, 100.0, 66.667, 50.0, 50.0]  # window 4: the first 200 has left
    assert statuses == [Status.HEALTHY, Status.HEALTHY, Status.DOWN, Status.DEGRADED,
                        Status.DEGRADED]
    assert reasons == ["", "", "http_5xx", "rate_limited", "low_success_rate"]


def test_one_failure_among_the_first_probes_is_not_a_low_success_rate(
        server: LoopbackServer, session: requests.Session) -> None:
    """Right after a start one 5xx among ten probes read 'only 90 %' and kept a provider
    degraded until twenty probes had passed; now three failures are needed (window 60)."""
    server.routes["/probe"] = route = Route(200, b"{}", JSON)
    c = collector([provider(server.url("/probe"))], session, window=60)
    reasons = []
    try:
        for code in (200, 500, 200, 200, 200, 500, 200, 500, 200):
            route.status = code
            got = by_metric(c.collect())
            reasons.append((round(got[M.SUCCESS_RATE].value), got[M.STATUS].label("reason")))
    finally:
        c.close()
    assert reasons[2:5] == [(67, ""), (75, ""), (80, "")]  # one failure: healthy
    assert reasons[6] == (71, "")  # two
    assert reasons[8] == (67, "low_success_rate")  # three failures in the window


def test_429_with_retry_after_only_is_degraded_with_a_reset(
    server: LoopbackServer, session: requests.Session
) -> None:
    got = probe_once(server, session, Route(429, b'{"error": "slow down"}',
                                            {**JSON, "Retry-After": "30"}))
    assert (got[M.UP].value, got[M.STATUS].value) == (1.0, float(Status.DEGRADED))
    assert got[M.STATUS].label("reason") == "rate_limited"
    assert got[M.RL_RESET_S].value == 30.0
    assert got[M.RL_RESET_S].label("policy") == "retry-after"
    assert M.RL_REMAINING not in got
    assert got[M.SUCCESS_RATE].value == 0.0  # a 429 is not a success


def test_429_with_the_limit_at_zero_is_down(server: LoopbackServer,
                                            session: requests.Session) -> None:
    headers = {"x-ratelimit-limit": "60", "x-ratelimit-remaining": "0",
               "x-ratelimit-reset": str(int(NOW) + 42), "Retry-After": "10"}
    got = probe_once(server, session, Route(429, b"{}", {**JSON, **headers}))
    assert (got[M.UP].value, got[M.STATUS].value) == (1.0, float(Status.DOWN))
    assert got[M.STATUS].label("reason") == "rate_limited"
    assert got[M.STATUS].label("detail").startswith(
        "github limit used up (0 of 60 left, resets in 42 s)")
    assert got[M.RL_RESET_S].value == 42.0  # reset later than Retry-After: the later wins


def test_github_403_at_zero_is_rate_limited_not_refused(server: LoopbackServer,
                                                        session: requests.Session) -> None:
    headers = {"x-ratelimit-limit": "60", "x-ratelimit-remaining": "0",
               "x-ratelimit-reset": str(int(NOW) + 600)}
    got = probe_once(server, session, Route(403, b"{}", {**JSON, **headers}), kind=ServiceKind.GIT)
    assert (got[M.UP].value, got[M.STATUS].label("reason")) == (1.0, "rate_limited")
    assert got[M.STATUS].value == float(Status.DOWN)


@pytest.mark.parametrize(("remaining", "status", "reason"), [
    ("9", Status.DEGRADED, "ratelimit_low"), ("10", Status.HEALTHY, ""),
    ("0", Status.DOWN, "rate_limited"),
])
def test_a_limit_running_low_degrades(
    server: LoopbackServer, session: requests.Session, remaining: str, status: Status, reason: str
) -> None:
    headers = {"x-ratelimit-limit-requests": "100", "x-ratelimit-remaining-requests": remaining}
    got = probe_once(server, session, Route(200, b"{}", {**JSON, **headers}))
    assert (got[M.STATUS].value, got[M.STATUS].label("reason")) == (float(status), reason)


def test_5xx_is_down(server: LoopbackServer, session: requests.Session) -> None:
    got = probe_once(server, session, Route(503, b'{"error": "overloaded"}', JSON))
    assert (got[M.UP].value, got[M.UP].label("reason")) == (0.0, "http_5xx")
    assert got[M.STATUS].value == float(Status.DOWN)
    assert got[M.SUCCESS_RATE].value == 0.0


def test_a_refused_token_names_the_variable_not_the_value(
    server: LoopbackServer, session: requests.Session
) -> None:
    got = probe_once(server, session, Route(401, b'{"error": "invalid api key"}', JSON))
    assert (got[M.UP].value, got[M.UP].label("reason")) == (0.0, "http_4xx")
    assert got[M.UP].label("detail") == (
        "HTTP 401: credentials refused or missing; check the token in $PROBE_TOKEN")


def test_token_is_sent_as_bearer(server: LoopbackServer, session: requests.Session) -> None:
    probe_once(server, session, Route(200, b"{}", JSON))
    assert server.requests[0][1]["Authorization"] == f"Bearer {TOKEN}"


def test_a_trailing_newline_in_the_token_is_dropped(server: LoopbackServer,
                                                    session: requests.Session) -> None:
    server.routes["/probe"] = Route(200, b"{}", JSON)
    c = collector([provider(server.url("/probe"))], session, environ={"PROBE_TOKEN": "abc\n"})
    try:
        c.collect()
    finally:
        c.close()
    assert server.requests[0][1]["Authorization"] == "Bearer abc"


def test_no_token_no_authorization(server: LoopbackServer, session: requests.Session) -> None:
    server.routes["/probe"] = Route(200, b"{}", JSON)
    c = collector([provider(server.url("/probe"))], session, environ={})
    try:
        c.collect()
    finally:
        c.close()
    assert "Authorization" not in server.requests[0][1]


def test_the_token_never_leaks(server: LoopbackServer, session: requests.Session,
                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server.routes["/ok"] = Route(200, b"{}", {**JSON, "x-ratelimit-remaining": "5"})
    server.routes["/denied"] = Route(401, TOKEN.encode(), JSON)  # even an echoing server
    services = [provider(server.url("/ok"), name="ok"),
                provider(server.url("/denied"), name="denied"),
                provider(f"http://127.0.0.1:{closed_port()}/v1", name="refused"),
                provider("http://tamma-nowhere.invalid/v1", name="dns", kind=ServiceKind.GIT)]
    c = collector(services, session)
    try:
        samples = c.collect() + c.collect()
        text = repr(samples) + repr(c) + caplog.text
    finally:
        c.close()
    assert {s.service for s in samples} == {"ok", "denied", "refused", "dns"}
    assert TOKEN not in text
    assert "DO-NOT-LEAK" not in text


def test_a_token_with_control_characters_is_not_sent(server: LoopbackServer,
                                                     session: requests.Session) -> None:
    server.routes["/probe"] = Route(200, b"{}", JSON)
    bad = "abc\ndef-secret"
    c = collector([provider(server.url("/probe"))], session, environ={"PROBE_TOKEN": bad})
    try:
        got = by_metric(c.collect())
    finally:
        c.close()
    assert server.requests == []
    assert (got[M.UP].value, got[M.UP].label("reason")) == (0.0, "bad_token")
    assert got[M.UP].label("detail") == (
        "the token in $PROBE_TOKEN has spaces or control characters; store it without them")
    assert "def-secret" not in repr(got)


def test_failure_text_is_scrubbed_of_the_token() -> None:
    result = FetchResult("http://h/v1", 1.0, error="connection",
                         detail=f"Invalid header value b'Bearer {TOKEN}' for /v1?key=q")
    samples = probe_samples(provider("http://h/v1"), NOW, result, 0.0, secrets=[TOKEN])
    assert TOKEN not in repr(samples)
    assert by_metric(samples)[M.UP].label("detail") == (
        "connection to h failed (Invalid header value b'Bearer ***' for /v1?…)")


def test_only_providers_and_git_with_a_probe_url_are_probed(session: requests.Session) -> None:
    services = [provider("http://127.0.0.1:1/x", name="api", kind=ServiceKind.API),
                provider(None, name="bare"), provider("http://127.0.0.1:1/x", name="gh",
                                                      kind=ServiceKind.GIT)]
    c = collector(services, session)
    try:
        assert [s.name for s in c.services] == ["gh"]
        assert c.name == "providers"
    finally:
        c.close()


def test_window_must_be_positive(session: requests.Session) -> None:
    with pytest.raises(ValueError, match="window must be at least 1"):
        ProviderCollector([], session=session, window=0)
