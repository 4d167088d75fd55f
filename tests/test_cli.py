"""Process-level guards: one writer per data directory, a bounded window for fast ticks, a
clean stop on SIGTERM."""

import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import requests

from tamma_dash import cli
from tamma_dash.config import Settings
from tamma_dash.runtime import WriterLocked, build
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[1]


def test_second_collector_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, demo=False, host_metrics=False, interval_s=0.5)
    first = build(settings, "collect").start()
    try:
        second = build(settings, "collect")
        with pytest.raises(WriterLocked, match="already writing"):
            second.start()
        second.store.close()
    finally:
        first.stop()
    again = build(settings, "collect").start()  # the lock is released on stop
    again.stop()


def test_fast_tick_keeps_the_window_bounded() -> None:
    capped = cli.cap_window(Settings(interval_s=0.1, retention_s=86400))
    assert capped.retention_s == pytest.approx(cli.MAX_WINDOW_TICKS * 0.1)
    default = Settings()
    assert cli.cap_window(default) is default


def test_bad_interval_flag_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["collect", "--interval", "0.01"]) == 2
    assert "0.01 is below 0.1 s" in capsys.readouterr().err


def test_access_log_is_off_unless_asked_for() -> None:
    """Each open tab makes several requests a tick: one log line each buries what matters."""
    werkzeug = cli.logging.getLogger("werkzeug")
    before = werkzeug.level
    try:
        args = cli._parser().parse_args(["run"])
        cli.quiet_access_log(args.access_log)
        assert not werkzeug.isEnabledFor(cli.logging.INFO)
        assert werkzeug.isEnabledFor(cli.logging.WARNING)
        cli.quiet_access_log(cli._parser().parse_args(["serve", "--access-log"]).access_log)
        assert werkzeug.isEnabledFor(cli.logging.INFO)
    finally:
        werkzeug.setLevel(before)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fit_worker_started(proc: psutil.Process) -> bool:
    return any("multiprocessing" in " ".join(c.cmdline()) for c in proc.children(recursive=True))


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_sigterm_stops_run_with_its_fit_worker(tmp_path: Path) -> None:
    """`kill PID` used to end `python app.py` at once, leaving the forkserver and the fit worker
    running (~300 MB) and the pending ticks unwritten. Now it unwinds like Ctrl-C."""
    port = _free_port()
    log = (tmp_path / "app.log").open("wb")
    app = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--data-dir",
                            str(tmp_path / "data"), "--port", str(port), "--interval", "0.5"],
                           cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                           start_new_session=True)
    try:
        proc = psutil.Process(app.pid)

        def healthy() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok
            except requests.RequestException:
                return False

        wait_for(healthy, timeout=180)
        wait_for(lambda: _fit_worker_started(proc), timeout=180)
        family = proc.children(recursive=True)
        app.send_signal(signal.SIGTERM)
        assert app.wait(timeout=60) == 0
        wait_for(lambda: not any(_alive(p) for p in family), timeout=60)
        assert "SIGTERM: stopping" in (tmp_path / "app.log").read_text()
    finally:
        if app.poll() is None:
            app.kill()
        log.close()
