"""Prometheus as the history backend, against a real Prometheus scraping the demo fleet and us.

Needs Debian's ``prometheus`` (apt package ``prometheus``, binary /usr/bin/prometheus), started
here on loopback with a 1 s scrape interval.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest
import requests
from flask import Flask

from tamma_dash.config import ConfigError, Settings, parse
from tamma_dash.models import M
from tamma_dash.store.promhistory import PromClient, PrometheusError, PromHistory

from .conftest import Live, wait_for

pytestmark = pytest.mark.slow
PROMETHEUS = "/usr/bin/prometheus"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape_config(ours: str, demo_metrics_url: str) -> str:
    demo = urlsplit(demo_metrics_url)
    return f"""
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: tamma-dash
    static_configs: [{{targets: ["{urlsplit(ours).netloc}"]}}]
  - job_name: demo-fleet
    metrics_path: "{demo.path}"
    static_configs: [{{targets: ["{demo.netloc}"]}}]
"""


def targets_up(url: str) -> bool:
    try:
        active = requests.get(f"{url}/api/v1/targets", timeout=2).json()["data"]["activeTargets"]
    except (requests.RequestException, ValueError, KeyError):
        return False
    return len(active) == 2 and all(t["health"] == "up" for t in active)


@dataclass
class Prom:
    url: str
    live: Live
    keys: list[str]


def chosen_keys(known: list[str]) -> list[str]:
    """Up of three services, a status, and keys with PromQL/regex metacharacters (- and :)."""
    names = sorted({k.split("/")[0] for k in known})
    keys = [f"{n}/{M.UP}" for n in names[:3]] + [f"{names[0]}/{M.STATUS}"]
    dashed = next(k for k in known if "-" in k.split("/")[0] and k.endswith(f"/{M.UP}"))
    coloned = next(k for k in known if ":" in k)
    return [*keys, dashed, coloned]


@pytest.fixture(scope="module")
def prom(live: Live, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prom]:
    if not Path(PROMETHEUS).exists():
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    work = tmp_path_factory.mktemp("prometheus")
    demo = next(s for s in live.rt.services if s.metrics_url)  # type: ignore[attr-defined]
    (work / "prometheus.yml").write_text(scrape_config(live.url, demo.metrics_url))
    port = free_port()
    log = (work / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={work / 'prometheus.yml'}",
         f"--storage.tsdb.path={work / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: proc.poll() is not None or targets_up(url), timeout=60, every=0.2)
        assert proc.poll() is None, (work / "prometheus.log").read_text()[-2000:]
        yield Prom(url, live, chosen_keys(live.rt.store.series()))  # type: ignore[attr-defined]
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def history(prom: Prom) -> PromHistory:
    """A reader that has seen a few seconds of scrapes of every key."""
    h = PromHistory(PromClient(prom.url), step_s=1.0)
    wait_for(lambda: set(prom.keys) <= set(h.series()), timeout=60, every=0.2)
    wait_for(lambda: h.frame(prom.keys, time.time() - 60, time.time()).notna().all(axis=1)
             .sum() >= 5, timeout=60, every=0.2)
    return h


def stored_values(live: Live, key: str) -> set[float]:
    now = time.time()
    return set(live.rt.store.frame([key], now - 300, now + 5)[key].dropna())  # type: ignore[attr-defined]


def test_demo_fleet_and_our_metrics_are_scraped(prom: Prom) -> None:
    jobs = requests.get(f"{prom.url}/api/v1/label/job/values", timeout=5).json()["data"]
    assert {"tamma-dash", "demo-fleet"} <= set(jobs)


def test_frames_hold_the_values_our_collector_stored(prom: Prom, history: PromHistory) -> None:
    now = time.time()
    frame = history.frame(prom.keys, now - 60, now)
    assert list(frame.columns) == prom.keys
    assert frame.index.name == "ts" and frame.index.dtype == np.float64
    assert len(frame.dropna(how="all")) >= 5
    assert frame.index.min() >= now - 60 and frame.index.max() <= now
    for key in prom.keys:
        seen = set(frame[key].dropna())
        assert seen and seen <= stored_values(prom.live, key), key
    assert set(frame[prom.keys[0]].dropna()) <= {0.0, 1.0}
    assert "-" in prom.keys[-2] and ":" in prom.keys[-1]  # escaped right, or they'd be empty


def test_latest_and_points_match_the_store(prom: Prom, history: PromHistory) -> None:
    latest = history.latest()
    key = prom.keys[3]
    assert set(prom.keys) <= set(latest)
    assert time.time() - 60 < latest[key].ts <= time.time() + 1
    assert latest[key].value in stored_values(prom.live, key)
    ts, values = history.points(key, time.time() - 30, time.time())
    assert len(ts) == len(values) >= 3 and ts == sorted(ts)


def test_a_zoom_asks_for_a_finer_step(prom: Prom, history: PromHistory) -> None:
    now = time.time()
    assert history.step_for(now - 86400, now) == pytest.approx(43.2)  # ~2,000 points a day

    def frames() -> tuple[pd.DataFrame, pd.DataFrame] | None:
        now = time.time()
        got = history.frame(prom.keys, now - 3600, now), history.frame(prom.keys, now - 60, now)
        return got if min(len(got[0]), len(got[1])) >= 3 else None

    wide, zoom = wait_for(frames, timeout=60, every=0.5)  # type: ignore[misc]
    for frame, step in ((wide, 1.8), (zoom, 1.0)):  # on the step's grid (a missed scrape may
        ts = frame.index.to_numpy()                   # leave a gap, never a finer point)
        assert len(ts) >= 3 and np.allclose(ts / step, np.round(ts / step))
        assert np.diff(ts).min() >= step - 1e-6
    assert history.step_for(now - 3600, now) == 1.8
    assert "avg_over_time" in history.range_expr(prom.keys, 1.8)
    key = prom.keys[3]
    values = stored_values(prom.live, key)
    assert wide[key].dropna().between(min(values), max(values)).all()


def test_refresh_follows_new_scrapes(history: PromHistory) -> None:
    history.refresh()
    seen = history.stats().newest_ts
    assert seen is not None and history.stats().persist_ok
    wait_for(history.refresh, timeout=30, every=0.2)
    assert history.stats().newest_ts > seen  # type: ignore[operator]


def test_serve_mode_reads_history_from_prometheus(prom: Prom, tmp_path: Path) -> None:
    from tamma_dash.api import routes
    from tamma_dash.runtime import build
    from tamma_dash.ui import context

    settings = parse({"history": {"backend": "prometheus", "url": prom.url, "step_s": 1},
                      "data_dir": str(tmp_path), "demo": False})
    rt = build(settings, "serve")
    try:
        assert isinstance(rt.store, PromHistory)
        server = Flask("serve-worker")
        routes.register(server, rt)
        client = server.test_client()
        wait_for(rt.store.refresh, timeout=30, every=0.2)
        assert set(prom.keys) <= set(client.get("/api/series").get_json())
        doc = client.get(f"/api/history?series={prom.keys[0]}&start={time.time() - 30}").get_json()
        assert len(doc["points"]) >= 3 and {v for _, v in doc["points"]} <= {0.0, 1.0}
        assert client.get("/healthz").get_json()["status"] == "pass"
        assert b"tamma_sample{" not in client.get("/metrics").data  # no scrape loop
        context.set_runtime(rt)  # pages read through the per-tick cache, keyed by the scrape
        assert set(prom.keys) <= set(context.series())
        shown = context.frame(prom.keys, time.time() - 30, time.time())
        assert list(shown.columns) == prom.keys and len(shown.dropna(how="all")) >= 3
    finally:
        rt.stop()


def unreachable() -> tuple[str, str]:
    port = free_port()  # nothing listens there any more
    return f"http://reader:hunter2@127.0.0.1:{port}", f"127.0.0.1:{port}"


def test_unreachable_prometheus_is_a_clear_error() -> None:
    url, where = unreachable()
    with pytest.raises(PrometheusError) as err:
        PromClient(url, timeout_s=2).query("up", time.time())
    text = str(err.value)
    assert where in text and "history.url" in text and "start it" in text
    assert "hunter2" not in text and "reader" not in text


def test_unreachable_prometheus_reads_as_empty_history_with_the_reason() -> None:
    url, where = unreachable()
    h = PromHistory(PromClient(url, timeout_s=2), step_s=1.0)
    frame = h.frame(["api/up"], time.time() - 60, time.time())
    assert list(frame.columns) == ["api/up"] and frame.empty
    assert h.latest() == {} and h.series() == [] and h.refresh() == 0
    stats = h.stats()
    assert not stats.persist_ok and where in (stats.persist_error or "")
    assert "hunter2" not in (stats.persist_error or "")


def test_a_refused_query_names_the_prometheus_error(prom: Prom) -> None:
    with pytest.raises(PrometheusError, match="bad_data"):
        PromClient(prom.url).query("tamma_sample{", time.time())


def test_a_url_that_is_not_prometheus_says_so(prom: Prom) -> None:
    with pytest.raises(PrometheusError, match="root"):
        PromClient(prom.live.url + "/healthz").query("up", time.time())


@pytest.mark.parametrize(("table", "fragment"), [
    ({"backend": "prometheus"}, "history.url: required"),
    ({"backend": "influx"}, "history.backend"),
    ({"backend": "prometheus", "url": "ftp://x"}, "not an http(s) URL"),
    ({"backend": "prometheus", "url": "http://p:9090", "step_s": 0}, "history.step_s"),
    ({"backend": "prometheus", "url": "http://p:9090", "timeout_s": "5"}, "history.timeout_s"),
    ({"backend": "sqlite", "uri": "x"}, "unknown key 'uri'"),
])
def test_history_config_problems(table: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        parse({"history": table})


def test_history_config_accepts_a_prometheus_backend() -> None:
    settings: Settings = parse({"history": {"backend": "prometheus", "url": "https://p:9090",
                                            "step_s": 15, "timeout_s": 3}})
    assert settings.history["url"] == "https://p:9090"
