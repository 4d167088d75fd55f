"""Process-level guards: one writer per data directory, a bounded window for fast ticks."""

from pathlib import Path

import pytest

from tamma_dash import cli
from tamma_dash.config import Settings
from tamma_dash.runtime import WriterLocked, build


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
