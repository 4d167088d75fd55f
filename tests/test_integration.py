"""The whole backbone over real HTTP: demo fleet -> collectors -> store -> API and SSE."""

from __future__ import annotations

import json
import zlib

import requests

from tests.conftest import Live, wait_for

DEMO_SERVICES = {
    "orchestrator",
    "worker-1",
    "worker-2",
    "worker-3",
    "api",
    "dashboard",
    "database",
    "openai",
    "anthropic",
    "github",
    "gitlab",
}


def _health(live: Live) -> dict:
    resp = requests.get(f"{live.url}/api/health", timeout=10)
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    return resp.json()


def _all_fresh(live: Live) -> dict | None:
    doc = _health(live)
    statuses = {n: s["status"] for n, s in doc["services"].items()}
    return doc if all(v != "unknown" for v in statuses.values()) else None


def test_api_health_reports_every_demo_service_with_live_values(live: Live) -> None:
    doc = wait_for(lambda: _all_fresh(live), timeout=60)
    assert set(doc["services"]) >= DEMO_SERVICES
    assert doc["demo"] is True and doc["version"]
    api = doc["services"]["api"]
    assert api["kind"] == "api" and api["cpu"] is not None and api["responseTime"] is not None
    system = doc["system"]
    assert system["activeWorkers"] is not None and 0 <= system["activeWorkers"] <= 3
    assert system["queueDepth"] is not None and system["dbPool"]["max"] is not None
    assert set(system["externalApis"]) == {"openai", "anthropic", "github", "gitlab"}
    assert system["externalApis"]["github"]["rateLimitRemaining"] is not None


def test_series_and_history_over_http(live: Live) -> None:
    wait_for(lambda: _all_fresh(live), timeout=60)
    series = requests.get(f"{live.url}/api/series", timeout=10).json()
    assert "api/response_time_p95_ms" in series and "orchestrator/queue_depth" in series
    now = live.rt.clock()
    resp = requests.get(
        f"{live.url}/api/history",
        params={"series": "orchestrator/queue_depth", "start": now - 300, "end": now},
        timeout=10,
    )
    body = resp.json()
    assert body["series"] == "orchestrator/queue_depth" and len(body["points"]) > 100
    ts = [p[0] for p in body["points"]]
    assert ts == sorted(ts) and now - 300 <= ts[0] and ts[-1] <= now
    small = requests.get(
        f"{live.url}/api/history",
        params={
            "series": "orchestrator/queue_depth",
            "start": now - 300,
            "end": now,
            "max_points": 50,
        },
        timeout=10,
    ).json()
    assert len(small["points"]) <= 50
    csv_resp = requests.get(
        f"{live.url}/api/history",
        params={
            "series": "orchestrator/queue_depth",
            "start": now - 60,
            "end": now,
            "format": "csv",
        },
        timeout=10,
    )
    lines = csv_resp.text.strip().splitlines()
    assert csv_resp.headers["content-type"].startswith("text/csv")
    assert lines[0] == "timestamp,value" and len(lines) > 10
    assert "orchestrator_queue_depth_" in csv_resp.headers["content-disposition"]


def test_history_errors_name_the_problem_and_the_fix(live: Live) -> None:
    missing = requests.get(f"{live.url}/api/history", timeout=10)
    assert missing.status_code == 400 and "series" in missing.json()["fix"]
    unknown = requests.get(f"{live.url}/api/history", params={"series": "nope/x"}, timeout=10)
    assert unknown.status_code == 404 and "/api/series" in unknown.json()["fix"]
    bad = requests.get(
        f"{live.url}/api/history", params={"series": "api/up", "start": "yesterday"}, timeout=10
    )
    assert bad.status_code == 400 and "epoch seconds" in bad.json()["fix"]


def test_health_stream_pushes_one_event_per_tick_gzipped(live: Live) -> None:
    with requests.get(
        f"{live.url}/health-stream", stream=True, timeout=30, headers={"Accept-Encoding": "gzip"}
    ) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert resp.headers["content-encoding"] == "gzip"
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        text = ""
        for chunk in resp.raw.stream(1024, decode_content=False):
            text += decoder.decompress(chunk).decode()
            if text.count("event: health") >= 3:
                break
    assert text.startswith("retry: ")
    events = [
        json.loads(block.split("data: ", 1)[1])
        for block in text.split("\n\n")
        if block.startswith("id: ")
    ]
    assert len(events) >= 3
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert set(events[-1]["services"]) >= DEMO_SERVICES


def test_injected_fault_turns_the_service_down_and_recovers(live: Live) -> None:
    wait_for(lambda: _all_fresh(live), timeout=60)
    resp = requests.post(
        f"{live.url}/api/demo/faults",
        timeout=10,
        json={"service": "worker-2", "kind": "down", "duration_s": 3},
    )
    assert resp.status_code == 201, resp.text
    listed = requests.get(f"{live.url}/api/demo/faults", timeout=10).json()
    assert [f["service"] for f in listed["faults"]] == ["worker-2"]
    down = wait_for(
        lambda: (d := _health(live))["services"]["worker-2"]["status"] == "down" and d, timeout=30
    )
    assert "not answering" in " ".join(down["services"]["worker-2"]["reasons"])
    wait_for(lambda: _health(live)["services"]["worker-2"]["status"] != "down", timeout=30)


def test_bad_fault_requests_are_rejected_clearly(live: Live) -> None:
    bad_kind = requests.post(
        f"{live.url}/api/demo/faults",
        timeout=10,
        json={"service": "api", "kind": "meteor", "duration_s": 5},
    )
    assert bad_kind.status_code == 400 and "meteor" in bad_kind.json()["error"]
    not_json = requests.post(f"{live.url}/api/demo/faults", data="kind=down", timeout=10)
    assert not_json.status_code == 400 and "JSON" in not_json.json()["error"]


def test_own_metrics_and_healthz(live: Live) -> None:
    wait_for(lambda: _all_fresh(live), timeout=60)
    text = requests.get(f"{live.url}/metrics", timeout=10).text
    assert "tamma_dash_tick_duration_seconds_bucket" in text
    assert "tamma_dash_samples_stored_total" in text and "tamma_dash_store_series" in text
    health = requests.get(f"{live.url}/healthz", timeout=10)
    assert health.headers["content-type"] == "application/health+json"
    assert health.json()["status"] == "pass"


def test_status_page_renders(live: Live) -> None:
    page = requests.get(f"{live.url}/", timeout=10)
    assert page.status_code == 200 and "tamma-dash" in page.text


def test_unknown_api_paths_answer_json_not_the_dashboard_page(live: Live) -> None:
    typo = requests.get(f"{live.url}/api/helth", timeout=10)
    assert typo.status_code == 404 and typo.headers["content-type"] == "application/json"
    doc = typo.json()
    assert doc["error"] == "no API endpoint GET /api/helth"
    assert "GET /api/health" in doc["fix"] and "POST /api/alerts/<alert_id>/ack" in doc["fix"]
    wrong_method = requests.post(f"{live.url}/api/health", timeout=10)
    assert wrong_method.status_code == 405 and wrong_method.json()["fix"] == "use GET"
    assert requests.get(f"{live.url}/api/", timeout=10).status_code == 404
    assert requests.get(f"{live.url}/api/health", timeout=10).status_code == 200
    page = requests.get(f"{live.url}/service/api", timeout=10)  # pages still reach the router
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
