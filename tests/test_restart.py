"""A collector killed with SIGKILL and started again loses at most the tick it was writing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tamma_dash.store import Store
from tests.conftest import wait_for

KEY = "orchestrator/queue_depth"


def _start_collector(data_dir: Path) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "tamma_dash.cli",
        "collect",
        "--data-dir",
        str(data_dir),
        "--interval",
        "0.2",
        "--seed",
        "3",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def _reader(data_dir: Path) -> Store:
    return Store.open(data_dir, interval_s=0.2, retention_s=86400, readonly=True)


def _newest(reader: Store, after: float) -> float | None:
    reader.refresh()
    newest = reader.stats().newest_ts
    return newest if newest is not None and newest > after else None


def test_sigkill_then_restart_keeps_every_committed_tick(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    proc = _start_collector(data_dir)
    try:
        wait_for(lambda: (data_dir / "tamma.sqlite3").exists(), timeout=60)
        reader = _reader(data_dir)
        first = wait_for(lambda: _newest(reader, 0.0), timeout=60)
        seen = wait_for(lambda: _newest(reader, float(first) + 1.0), timeout=60)
        since = float(first) - 60.0  # full-resolution history: backfill tail plus live ticks
        before_ts, before_vals = reader.points(KEY, since, float(seen))
        reader.close()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert len(before_ts) > 5

    after = Store.open(data_dir, interval_s=0.2, retention_s=86400)
    ts, vals = after.points(KEY, since, float(seen))
    last_before_restart = after.stats().newest_ts or float(seen)
    after.close()
    assert ts == before_ts and vals == before_vals  # everything committed before the kill

    proc = _start_collector(data_dir)
    try:
        reader = _reader(data_dir)
        wait_for(lambda: _newest(reader, last_before_restart + 0.5), timeout=60)
        ts2, _ = reader.points(KEY, since, float(seen))
        assert ts2 == before_ts  # the restart neither lost nor re-backfilled history
        reader.close()
    finally:
        proc.terminate()
        proc.wait(10)
    assert proc.returncode == 0, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
