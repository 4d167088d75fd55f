"""The demo fleet over real HTTP on 127.0.0.1: health+json, Prometheus text, rate limits, faults."""

from __future__ import annotations

import email.utils
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest
import requests
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from tamma_dash.demo.context import quantiles_ms
from tamma_dash.demo.servers import DemoFleet
from tamma_dash.models import ServiceKind

HOUR = datetime(2026, 5, 20, 14, tzinfo=UTC).timestamp()  # Wednesday 14:00 UTC, busy
FLEET = ("orchestrator", "worker-1", "worker-2", "worker-3", "api", "dashboard", "database")


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(HOUR + 2.0)


@pytest.fixture
def waits() -> list[float]:
    """Delays the fleet asked for (recorded instead of slept)."""
    return []


@pytest.fixture
def fleet(clock: FakeClock, waits: list[float]) -> Iterator[DemoFleet]:
    with DemoFleet(seed=7, interval_s=5.0, clock=clock, sleep=waits.append) as f:
        yield f


def url(fleet: DemoFleet, service: str, path: str) -> str:
    return f"http://127.0.0.1:{fleet.port(service)}{path}"


def get(fleet: DemoFleet, service: str, path: str) -> requests.Response:
    return requests.get(url(fleet, service, path), timeout=5)


def families(fleet: DemoFleet, service: str) -> dict[str, Metric]:
    resp = get(fleet, service, "/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain; version=")
    return {f.name: f for f in text_string_to_metric_families(resp.text)}


def refused(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
    return False


def test_services_config_needs_a_started_fleet() -> None:
    with pytest.raises(RuntimeError, match="call start"):
        DemoFleet().services_config()


def test_services_config_has_real_urls_and_dependencies(fleet: DemoFleet) -> None:
    cfg = {c.name: c for c in fleet.services_config()}
    assert list(cfg) == [*FLEET, "openai", "anthropic", "github", "gitlab"]
    assert cfg["orchestrator"].depends_on == ("database", "openai", "anthropic", "github",
                                              "gitlab")
    assert cfg["worker-3"].depends_on == ("orchestrator", "openai", "anthropic", "github")
    assert cfg["api"].depends_on == ("orchestrator", "database")
    assert cfg["dashboard"].depends_on == ("api",)
    assert cfg["database"].kind is ServiceKind.DATABASE
    assert cfg["gitlab"].kind is ServiceKind.GIT and cfg["openai"].kind is ServiceKind.PROVIDER
    ports = {fleet.port(n) for n in cfg}
    assert len(ports) == 11
    for name in FLEET:
        assert cfg[name].health_url == url(fleet, name, "/health")
        assert cfg[name].metrics_url == url(fleet, name, "/metrics")
        assert cfg[name].probe_url is None
    assert cfg["openai"].probe_url == url(fleet, "openai", "/v1/models")
    assert cfg["anthropic"].probe_url == url(fleet, "anthropic", "/v1/models")
    assert cfg["github"].probe_url == url(fleet, "github", "/rate_limit")
    assert cfg["gitlab"].probe_url == url(fleet, "gitlab", "/api/v4/version")
    assert cfg["github"].health_url is None


def test_health_is_ietf_health_json(fleet: DemoFleet, clock: FakeClock) -> None:
    for name in FLEET:
        resp = get(fleet, name, "/health")
        assert resp.headers["content-type"] == "application/health+json"
        doc = resp.json()
        assert doc["status"] in ("pass", "warn", "fail")
        assert resp.status_code == (503 if doc["status"] == "fail" else 200)
        assert doc["serviceId"] == name and doc["version"] == "1"
        assert doc["description"] == f"Tamma {name} (demo)"
        with_db = name in ("api", "orchestrator", "database")
        expected = {"cpu:utilization", "memory:utilization", "disk:utilization", "uptime"}
        if with_db:
            expected |= {"database:connections", "database:responseTime"}
        assert set(doc["checks"]) == expected
        for key, (entry,) in doc["checks"].items():
            assert entry["status"] in ("pass", "warn", "fail")
            assert isinstance(entry["observedValue"], (int, float))
            when = datetime.fromisoformat(entry["time"].replace("Z", "+00:00"))
            assert when.timestamp() == pytest.approx(clock())
            unit = {"uptime": "s", "database:connections": "connections",
                    "database:responseTime": "ms"}.get(key, "percent")
            assert entry["observedUnit"] == unit
        if with_db:
            assert doc["checks"]["database:connections"][0]["componentId"] == "postgres"
            assert doc["checks"]["database:connections"][0]["componentType"] == "datastore"


def test_health_values_are_the_model_state(fleet: DemoFleet) -> None:
    doc = get(fleet, "api", "/health").json()
    st = fleet.state_now("api")
    cpu = doc["checks"]["cpu:utilization"][0]["observedValue"]
    assert cpu == round(float(st["cpu_percent"][0]), 2)
    assert doc["checks"]["database:connections"][0]["observedValue"] == st["db_connections"][0]


def test_metrics_parse_and_carry_the_collector_names(fleet: DemoFleet) -> None:
    http = {"tamma_http_request_duration_seconds": "histogram",
            "tamma_http_requests": "counter"}
    want = {
        "orchestrator": {"tamma_queue_depth": "gauge", "tamma_workers_active": "gauge",
                         "tamma_workers_total": "gauge", "tamma_tasks_completed": "counter",
                         "tamma_tasks_failed": "counter", **http},
        "api": http, "dashboard": http,
        "database": {"tamma_db_pool_connections": "gauge", "tamma_db_pool_max": "gauge",
                     "tamma_db_query_duration_seconds": "histogram"},
        **{w: {"tamma_worker_busy": "gauge", "tamma_worker_tasks": "counter",
               "tamma_task_duration_seconds": "histogram"} for w in FLEET[1:4]},
    }
    for name, expected in want.items():
        fams = families(fleet, name)
        assert {n: f.type for n, f in fams.items()} == expected, name
    api = families(fleet, "api")["tamma_http_requests"]
    assert {s.labels["code"] for s in api.samples} == {"200", "404", "500", "503"}
    pool = families(fleet, "database")["tamma_db_pool_connections"]
    assert {s.labels["state"] for s in pool.samples} == {"active", "idle", "waiting"}


def _histogram(fams: dict[str, Metric], name: str) -> tuple[list[float], np.ndarray]:
    samples = [s for s in fams[name].samples if s.name.endswith("_bucket")]
    bounds = [float(s.labels["le"]) for s in samples]
    return bounds, np.array([s.value for s in samples])


def histogram_quantile(q: float, bounds: list[float], cum: np.ndarray) -> float:
    """Prometheus' linear interpolation inside the bucket that holds the rank."""
    rank = q * cum[-1]
    i = int(np.searchsorted(cum, rank))
    lower = bounds[i - 1] if i > 0 else 0.0
    below = cum[i - 1] if i > 0 else 0.0
    return lower + (bounds[i] - lower) * (rank - below) / (cum[i] - below)


@pytest.mark.parametrize(("service", "metric", "median", "sigma"), [
    ("api", "tamma_http_request_duration_seconds", "lat_median_s", "lat_sigma"),
    ("database", "tamma_db_query_duration_seconds", "query_median_s", "query_sigma"),
])
def test_histogram_increase_gives_the_model_quantiles(
    fleet: DemoFleet, clock: FakeClock, service: str, metric: str, median: str, sigma: str
) -> None:
    bounds, before = _histogram(families(fleet, service), metric)
    clock.now += 5.0
    _, after = _histogram(families(fleet, service), metric)
    st = fleet.model.state(np.floor(clock() / 5.0) * 5.0)[service]
    model = [v[0] / 1000.0 for v in quantiles_ms(st[median], st[sigma])]
    assert after[-1] - before[-1] > 300  # enough requests in one tick
    for q, want in zip((0.5, 0.95, 0.99), model, strict=True):
        got = histogram_quantile(q, bounds, after - before)
        assert got == pytest.approx(want, rel=0.35), (q, got, want)


def test_counters_integrate_the_model_rate(fleet: DemoFleet, clock: FakeClock) -> None:
    def total() -> float:
        fam = families(fleet, "orchestrator")["tamma_http_requests"]
        return sum(s.value for s in fam.samples if s.name.endswith("_total"))

    first = total()
    assert total() == first  # same tick, same counters
    ticks = np.floor(clock() / 5.0) + np.arange(1, 13)
    clock.now += 60.0
    expected = (fleet.model.state(ticks * 5.0)["orchestrator"]["request_rate"] * 5.0).sum()
    assert total() - first == pytest.approx(expected, abs=5.0)


def _remaining(resp: requests.Response, service: str) -> int:
    header = {"openai": "x-ratelimit-remaining-requests",
              "anthropic": "anthropic-ratelimit-requests-remaining",
              "github": "x-ratelimit-remaining", "gitlab": "ratelimit-remaining"}[service]
    return int(resp.headers[header])


def test_rate_limit_headers_fall_and_reset(fleet: DemoFleet, clock: FakeClock) -> None:
    paths = {"openai": "/v1/models", "anthropic": "/v1/models", "github": "/rate_limit",
             "gitlab": "/api/v4/version"}
    early = {s: get(fleet, s, p) for s, p in paths.items()}  # 2 s into an hour
    clock.now += 50.0
    late = {s: get(fleet, s, p) for s, p in paths.items()}
    clock.now += 10.0  # a new minute: anthropic and gitlab windows reset
    fresh = {s: get(fleet, s, p) for s, p in paths.items()}
    for s in paths:
        assert early[s].status_code == late[s].status_code == 200, s
        assert _remaining(late[s], s) < _remaining(early[s], s), s
    for s, limit in (("gitlab", 2000), ("anthropic", 4000)):  # 2 s into the new window
        assert _remaining(late[s], s) < _remaining(fresh[s], s) <= limit
        assert _remaining(fresh[s], s) > 0.95 * limit
    assert _remaining(fresh["github"], "github") <= _remaining(late["github"], "github")
    o = late["openai"].headers
    assert o["x-ratelimit-limit-requests"] == "10000" and o["x-ratelimit-reset-requests"] == "9m8s"
    assert int(o["x-ratelimit-remaining-tokens"]) < int(o["x-ratelimit-limit-tokens"])
    assert o["x-ratelimit-reset-tokens"] == "8s"
    a = late["anthropic"].headers
    assert a["anthropic-ratelimit-requests-reset"] == datetime.fromtimestamp(
        HOUR + 60, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    g = late["github"]
    assert g.headers["x-ratelimit-reset"] == str(int(HOUR + 3600))
    used = int(g.headers["x-ratelimit-used"])
    assert used == 5000 - _remaining(g, "github") == g.json()["resources"]["core"]["used"]
    gl = late["gitlab"].headers
    assert gl["ratelimit-reset"] == str(int(HOUR + 60))
    assert email.utils.parsedate_to_datetime(gl["ratelimit-resettime"]).timestamp() == HOUR + 60
    left = _remaining(late["gitlab"], "gitlab")
    assert gl["ratelimit"] == f"limit=2000, remaining={left}, reset=8"


def test_rate_limit_fault_answers_429(fleet: DemoFleet, clock: FakeClock) -> None:
    fleet.inject("github", "rate_limit", 600)
    clock.now += 30.0
    resp = get(fleet, "github", "/rate_limit")
    assert resp.status_code == 429
    assert resp.headers["x-ratelimit-remaining"] == "0"
    assert resp.headers["retry-after"] == str(3600 - 32)
    assert get(fleet, "gitlab", "/api/v4/version").status_code == 200
    clock.now += 600.0
    assert get(fleet, "github", "/rate_limit").status_code == 200


def test_provider_errors_fault_fails_a_share_of_probes(fleet: DemoFleet, clock: FakeClock) -> None:
    fleet.inject("openai", "errors", 3600)
    codes = []
    for _ in range(80):
        clock.now += 5.0
        codes.append(get(fleet, "openai", "/v1/models").status_code)
    share = sum(c >= 500 for c in codes) / len(codes)
    assert set(codes) <= {200, 500, 503}
    assert 0.1 <= share <= 0.55


def test_down_refuses_connections_and_recovers_on_the_same_port(
    fleet: DemoFleet, clock: FakeClock
) -> None:
    port = fleet.port("worker-2")
    fault = fleet.inject("worker-2", "down", 30)
    assert fault["kind"] == "down" and fault["remaining_s"] == 30.0
    assert refused(port)
    assert get(fleet, "worker-1", "/health").status_code == 200
    assert [f["id"] for f in fleet.faults()] == [fault["id"]]
    clock.now += 29.0
    fleet.sync()
    assert refused(port)
    clock.now += 1.0
    fleet.sync()
    assert fleet.faults() == []
    assert fleet.port("worker-2") == port
    assert get(fleet, "worker-2", "/health").status_code == 200


def test_clear_ends_faults_now(fleet: DemoFleet) -> None:
    port = fleet.port("api")
    fleet.inject("api", "down", 3600)
    fleet.inject("database", "db_pool_exhaustion", 3600)
    assert refused(port)
    assert fleet.clear() == 2
    assert fleet.faults() == []
    assert get(fleet, "api", "/health").json()["status"] == "pass"


def test_latency_fault_delays_health_and_warns(fleet: DemoFleet, waits: list[float]) -> None:
    get(fleet, "dashboard", "/health")
    modelled_s = float(fleet.state_now("dashboard")["response_time_ms"][0]) / 1000.0
    assert modelled_s < 0.1
    assert sum(waits) <= modelled_s  # a healthy answer waits out its modelled round trip
    waits.clear()
    fleet.inject("dashboard", "latency", 120)
    doc = get(fleet, "dashboard", "/health").json()
    assert doc["status"] == "warn"
    assert len(waits) == 1 and 0.25 <= waits[0] <= 0.8


def test_db_pool_exhaustion_over_http(fleet: DemoFleet, clock: FakeClock) -> None:
    fleet.inject("database", "db_pool_exhaustion", 600)
    clock.now += 10.0
    db = get(fleet, "database", "/health")
    assert db.status_code == 503 and db.json()["status"] == "fail"
    assert "connection pool exhausted" in db.json()["output"]
    assert get(fleet, "api", "/health").json()["status"] == "warn"
    pool = families(fleet, "database")["tamma_db_pool_connections"]
    values = {s.labels["state"]: s.value for s in pool.samples}
    assert values["active"] == 20.0 and values["idle"] == 0.0 and values["waiting"] > 0


def test_inject_rejects_bad_requests(fleet: DemoFleet) -> None:
    with pytest.raises(ValueError, match="unknown kind 'melt'; one of down, latency"):
        fleet.inject("api", "melt", 10)
    with pytest.raises(ValueError, match="for github use one of down, latency, errors, rate_limit"):
        fleet.inject("github", "memory_leak", 10)
    with pytest.raises(ValueError, match="duration_s must be between 1 and 86400"):
        fleet.inject("api", "errors", 90000)
    assert fleet.faults() == []


def test_unknown_paths_are_404(fleet: DemoFleet) -> None:
    assert get(fleet, "api", "/nope").status_code == 404
    assert get(fleet, "github", "/user").status_code == 404


def test_stop_is_idempotent_and_frees_every_port(clock: FakeClock) -> None:
    fleet = DemoFleet(seed=1, clock=clock).start()
    ports = [fleet.port(n) for n in (*FLEET, "openai", "anthropic", "github", "gitlab")]
    fleet.stop()
    fleet.stop()
    for port in ports:
        assert refused(port)
    with socket.socket() as s:  # the port can be taken again
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", ports[0]))


def test_real_clock_fleet_answers() -> None:
    with DemoFleet(seed=3) as fleet:
        resp = get(fleet, "orchestrator", "/health")
        assert resp.status_code in (200, 503)
        assert json.loads(resp.content)["serviceId"] == "orchestrator"
        assert "tamma_queue_depth" in get(fleet, "orchestrator", "/metrics").text


def test_a_service_down_before_start_still_has_a_port(clock: FakeClock) -> None:
    fleet = DemoFleet(seed=2, clock=clock)
    fleet.inject("api", "down", 60)
    with fleet:
        port = fleet.port("api")
        assert port > 0 and refused(port)
        assert fleet.services_config()[4].health_url == f"http://127.0.0.1:{port}/health"
        clock.now += 60.0
        fleet.sync()
        assert get(fleet, "api", "/health").status_code == 200
