"""Config: valid files load, every problem is reported with where it is and how to fix it."""

from pathlib import Path

import pytest

from tamma_dash import cli, config
from tamma_dash.config import ConfigError
from tamma_dash.models import ServiceKind

EXAMPLE = Path(__file__).parent.parent / "data" / "tamma.example.toml"


def test_example_config_is_valid_and_complete() -> None:
    settings = config.load(EXAMPLE)
    names = [s.name for s in settings.services]
    assert names == ["database", "orchestrator", "workers", "api", "github", "openai"]
    assert settings.demo is False
    assert settings.service("api").depends_on == ("orchestrator", "database")
    assert settings.service("workers").process.cmdline == "tamma-worker"
    assert settings.service("github").kind is ServiceKind.GIT
    assert settings.rollup_step_s == 60 and settings.rollup_retention_s == 30 * 86400


def test_no_config_means_the_demo_on_loopback() -> None:
    settings = config.load(None, environ={})
    assert settings.demo is True
    assert settings.host == "127.0.0.1" and settings.port == 8050
    assert settings.interval_s == 5.0 and settings.retention_s == 86400


def test_data_dir_from_environment() -> None:
    settings = config.load(None, environ={"TAMMA_DATA_DIR": "/tmp/x"})
    assert settings.data_dir == Path("/tmp/x")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        'interval_s = 0.01\nport = "x"\ncolour = 1\n'
        '[[services]]\nname = "api"\nkind = "apu"\nhealth_url = "ftp://x"\n'
        'depends_on = ["nope"]\ntoken_env = "ghp_123 secret"\n'
        '[[services]]\nname = "api"\nkind = "api"\n'
    )
    with pytest.raises(ConfigError) as err:
        config.load(path)
    text = str(err.value)
    assert "interval_s: 0.01 is below the minimum 0.1" in text
    assert "port: expected a number" in text
    assert "unknown key 'colour'" in text
    assert "services[0] (api).kind: 'apu' is not one of orchestrator" in text
    assert "health_url: 'ftp://x' is not an http(s) URL" in text
    assert "token_env: the NAME of an environment variable" in text
    assert "ghp_123" not in text  # a pasted token is never echoed back
    assert len(err.value.problems) >= 6


def test_unknown_dependency_and_duplicate_and_cycle() -> None:
    raw = {
        "services": [
            {"name": "a", "kind": "api", "depends_on": ["b"]},
            {"name": "b", "kind": "api", "depends_on": ["a"]},
            {"name": "c", "kind": "api", "depends_on": ["zzz"]},
            {"name": "c", "kind": "worker"},
        ]
    }
    with pytest.raises(ConfigError) as err:
        config.parse(raw)
    problems = err.value.problems
    assert any("'c' is used twice" in p for p in problems)
    assert any("unknown service 'zzz'" in p for p in problems)
    assert any("cycle a -> b -> a" in p for p in problems)


def test_broken_toml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('interval_s = 5\n[[services]\nname = "x"\n')
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert "not valid TOML" in str(err.value) and "line 2" in str(err.value)


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="file not found"):
        config.load("/nonexistent/tamma.toml")


def test_thresholds_validated() -> None:
    with pytest.raises(ConfigError) as err:
        config.parse({"thresholds": {"cpu_percent": [99, 90], "disk_percent": "high"}})
    assert any("must not exceed critical" in p for p in err.value.problems)
    assert any(
        "thresholds.disk_percent: expected [degraded, critical]" in p for p in err.value.problems
    )
    ok = config.parse({"thresholds": {"cpu_percent": [50, 60]}})
    assert ok.thresholds["cpu_percent"] == (50.0, 60.0)
    assert ok.thresholds["disk_percent"] == config.DEFAULT_THRESHOLDS["disk_percent"]


def test_token_read_from_environment_only() -> None:
    settings = config.parse(
        {
            "services": [
                {
                    "name": "gh",
                    "kind": "git",
                    "probe_url": "https://api.github.com/rate_limit",
                    "token_env": "GH_TOKEN",
                }
            ]
        }
    )
    svc = settings.services[0]
    assert svc.token({"GH_TOKEN": "s3cret"}) == "s3cret"
    assert svc.token({}) is None
    assert "s3cret" not in repr(settings)


def test_check_config_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check-config", str(EXAMPLE)]) == 0
    assert "OK" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text('[[services]]\nname = "x"\nkind = "nope"\n')
    assert cli.main(["check-config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "services[0] (x).kind: 'nope' is not one of" in err
