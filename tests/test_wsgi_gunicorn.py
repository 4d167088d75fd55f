"""Split processes for real: one `tamma-dash collect`, a 3-worker gunicorn reading its store."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from tests.conftest import wait_for

pytest.importorskip("gunicorn")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # boots 4 processes: slow when busy

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 3
AUTH = ("ops", "gunicorn-Pa55")
SERIES = "api/response_time_ms"
T = TypeVar("T")


@dataclass
class Split:
    collector: subprocess.Popen[bytes]
    web: subprocess.Popen[bytes]
    url: str
    env: dict[str, str]
    collector_log: Path
    web_log: Path  # the workers' stderr: a 500's traceback lands here


def _env(data_dir: Path, config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAMMA_")}
    env.update(TAMMA_DATA_DIR=str(data_dir), TAMMA_CONFIG=str(config),
               PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def gunicorn_command(bind: str, log_file: Path, workers: int = WORKERS) -> list[str]:
    """gunicorn as the README documents it, plus test-only quiet and isolation flags."""
    from gunicorn.config import KNOWN_SETTINGS

    cmd = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "gthread",
           "--threads", "8", "-b", bind, "--graceful-timeout", "5",
           "--error-logfile", str(log_file), "tamma_dash.wsgi:server"]
    if any("--no-control-socket" in (s.cli or ()) for s in KNOWN_SETTINGS):
        cmd.insert(-1, "--no-control-socket")  # gunicorn >= 25: one shared socket per user
    return cmd


def stop(proc: subprocess.Popen[bytes], how: int = signal.SIGTERM) -> None:
    """Signal the process group, SIGKILL it if it is still there after 10 s."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, how)
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass


def _listening_url(log_file: Path) -> str | None:
    text = log_file.read_text() if log_file.exists() else ""
    found = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", text)
    return found.group(1) if found else None


def _ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/api/health", timeout=2, auth=AUTH).ok
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Split]:
    tmp = tmp_path_factory.mktemp("split")
    config = tmp / "tamma.toml"
    config.write_text("interval_s = 0.5\nretention_s = 600\nhost_metrics = false\n")
    env = _env(tmp / "data", config)
    web_env = {**env, "TAMMA_AUTH_USER": AUTH[0], "TAMMA_AUTH_PASSWORD": AUTH[1]}
    log_file = tmp / "gunicorn.log"
    collector_log = tmp / "collector.log"
    with collector_log.open("wb") as out:
        collector = subprocess.Popen(
            [sys.executable, "-m", "tamma_dash.cli", "collect", "--metrics-port", "0"], env=env,
            cwd=ROOT, start_new_session=True, stdout=out, stderr=subprocess.STDOUT)
    web = None
    try:
        t0 = time.monotonic()
        wait_for(lambda: (tmp / "data" / "runtime.json").exists() or collector.poll() is not None,
                 timeout=120)
        print(f"collector ready after {time.monotonic() - t0:.1f} s")
        assert collector.poll() is None, "the collector exited at start"
        web_log = tmp / "web.stderr"
        with web_log.open("wb") as err:
            web = subprocess.Popen(gunicorn_command("127.0.0.1:0", log_file), env=web_env,
                                   cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                                   stderr=err)
        url = str(wait_for(lambda: _listening_url(log_file) or web.poll() is not None, 60))
        assert web.poll() is None, log_file.read_text()
        wait_for(lambda: _ready(url), timeout=150)
        print(f"web ready after {time.monotonic() - t0:.1f} s")
        yield Split(collector, web, url, env, collector_log, web_log)
    finally:
        if web is not None:
            stop(web, signal.SIGINT)  # gunicorn's quick shutdown
        stop(collector)


def _health(url: str, web_log: Path | None = None) -> tuple[int, dict[str, Any]]:
    r = requests.get(f"{url}/api/health", timeout=10, headers={"Connection": "close"},
                     auth=AUTH)
    assert r.status_code == 200, (r.status_code, web_log.read_text()[-3000:] if web_log else "")
    return int(r.headers["X-Tamma-Worker"]), r.json()


def _recent(url: str, since: float | None = None) -> tuple[int, list[list[float]]]:
    """One series since ``since`` (default: 60 s ago) as the worker's store holds it."""
    start = time.time() - 60 if since is None else since
    r = requests.get(f"{url}/api/history", timeout=10, headers={"Connection": "close"},
                     params={"series": SERIES, "start": start}, auth=AUTH)
    r.raise_for_status()
    return int(r.headers["X-Tamma-Worker"]), r.json()["points"]


def _burst(fetch: Callable[[str], T], url: str, n: int = 24) -> list[T]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: fetch(url), range(n)))


def test_a_second_collector_on_the_same_data_dir_is_refused(split: Split) -> None:
    second = subprocess.run([sys.executable, "-m", "tamma_dash.cli", "collect"], env=split.env,
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert second.returncode == 2
    assert "already writing" in second.stderr
    assert split.collector.poll() is None  # the first one is untouched


def test_every_worker_serves_the_same_services_and_new_ticks(split: Split) -> None:
    names = {frozenset(doc["services"])
             for _, doc in _burst(lambda url: _health(url, split.web_log), split.url)}
    assert len(names) == 1 and "api" in next(iter(names))
    start = max(points[-1][0] for _, points in _burst(_recent, split.url))
    fresh: set[int] = set()

    def every_worker_moved_on() -> bool:
        fresh.update(pid for pid, points in _burst(_recent, split.url) if points[-1][0] > start)
        return len(fresh) == WORKERS

    wait_for(every_worker_moved_on, timeout=60)


def test_the_dash_shell_and_layout_answer_on_every_worker(split: Split) -> None:
    seen: set[int] = set()

    def layouts() -> bool:
        with ThreadPoolExecutor(6) as pool:
            for r in pool.map(lambda _: requests.get(f"{split.url}/_dash-layout", timeout=10,
                                                     headers={"Connection": "close"}, auth=AUTH),
                              range(12)):
                assert r.status_code == 200
                assert "conn-status" in r.text
                seen.add(int(r.headers["X-Tamma-Worker"]))
        return len(seen) == WORKERS

    wait_for(layouts, timeout=60)
    page = requests.get(split.url + "/", timeout=10, auth=AUTH)
    assert page.status_code == 200 and "<title>tamma-dash</title>" in page.text


def test_demo_faults_in_a_web_worker_are_a_conflict_naming_the_fix(split: Split) -> None:
    r = requests.post(f"{split.url}/api/demo/faults", timeout=10, auth=AUTH,
                      json={"service": "api", "kind": "latency", "duration_s": 5})
    assert r.status_code == 409
    assert "tamma-dash run" in r.json()["fix"]


def test_the_collector_serves_its_own_metrics_on_loopback(split: Split) -> None:
    found = re.search(r"collector metrics on (http://127\.0\.0\.1:\d+/metrics)",
                      split.collector_log.read_text())
    assert found, split.collector_log.read_text()[-2000:]

    def ticked() -> bool:
        text = requests.get(found.group(1), timeout=10).text
        count = re.search(r"^tamma_dash_tick_duration_seconds_count (\S+)$", text, re.M)
        return bool(count) and float(count.group(1)) > 0

    wait_for(ticked, timeout=30)


def test_auth_guards_every_worker_and_leaves_healthz_open(split: Split) -> None:
    with ThreadPoolExecutor(6) as pool:
        refused = list(pool.map(lambda path: requests.get(split.url + path, timeout=10,
                                                           headers={"Connection": "close"}),
                                ["/", "/_dash-layout", "/api/health", "/metrics"] * 3))
    assert {r.status_code for r in refused} == {401}
    assert all(r.headers["WWW-Authenticate"].startswith("Basic") for r in refused)
    wrong = requests.get(split.url + "/api/health", timeout=10, auth=(AUTH[0], "nope"))
    assert wrong.status_code == 401
    assert requests.get(split.url + "/healthz", timeout=10).status_code in (200, 503)


def test_after_the_collector_stops_all_workers_converge_on_its_last_tick(split: Split) -> None:
    """Run last: with the writer gone the data is still; every worker must show the same."""
    stop(split.collector)
    assert split.collector.returncode == 0
    since = time.time() - 20

    def converged() -> list[tuple[int, list[list[float]]]] | None:
        seen = _burst(lambda url: _recent(url, since), split.url)
        pids = {pid for pid, _ in seen}
        newest = {points[-1][0] for _, points in seen}
        return seen if len(pids) == WORKERS and len(newest) == 1 else None

    seen = wait_for(converged, timeout=60)
    assert isinstance(seen, list)
    assert len({json.dumps(points) for _, points in seen}) == 1  # the same ticks, same values
