"""Auth: with it on, nothing but /healthz is readable or writable without credentials."""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g

from tamma_dash import auth, cli, config
from tamma_dash.config import ConfigError, Settings

USER, PASSWORD, TOKEN = "ops", "s3cret-Pa55word", "tok-9f8e7d6c5b4a"
ENV = {"TAMMA_AUTH_USER": USER, "TAMMA_AUTH_PASSWORD": PASSWORD, "TAMMA_AUTH_TOKEN": TOKEN}
SECRETS = (PASSWORD, TOKEN, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())


def basic(user: str = USER, password: str = PASSWORD) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The real Dash app and API on a real runtime, auth on through the environment."""
    from tamma_dash.runtime import build
    from tamma_dash.ui.app import create_app

    data = tmp_path_factory.mktemp("auth") / "data"
    settings = Settings(data_dir=data, demo=False, host_metrics=False, interval_s=0.5,
                        retention_s=600.0)
    rt = build(settings, "run").start()
    with pytest.MonkeyPatch.context() as mp:
        for name, value in ENV.items():
            mp.setenv(name, value)
        dash_app = create_app(rt)
    try:
        yield dash_app.server.test_client()
    finally:
        rt.stop()


def _asset_paths(client: Any) -> list[str]:
    page = client.get("/", headers=basic()).get_data(as_text=True)
    scripts = re.findall(r'src="(/_dash-component-suites/[^"]+)"', page)
    assets = re.findall(r'(?:src|href)="(/assets/[^"?]+)', page)
    assert scripts and assets
    return [scripts[0], assets[0]]


ROUTES = [
    ("GET", "/"), ("GET", "/service/api"), ("GET", "/trends"), ("GET", "/_dash-layout"),
    ("GET", "/_dash-dependencies"), ("POST", "/_dash-update-component"),
    ("GET", "/_favicon.ico"), ("GET", "/api/health"), ("GET", "/api/series"),
    ("GET", "/api/history?series=host/cpu_percent"), ("POST", "/api/demo/faults"),
    ("GET", "/api/alerts"), ("POST", "/api/alerts/1/ack"), ("GET", "/health-stream"),
    ("GET", "/metrics"), ("GET", "/no/such/page"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_kind_of_route_is_refused_without_credentials(app: Any, method: str,
                                                              path: str) -> None:
    r = app.open(path, method=method, json={} if method == "POST" else None)
    assert r.status_code == 401
    challenge = r.headers["WWW-Authenticate"]
    assert challenge.startswith('Basic realm="tamma-dash"')  # a browser shows its prompt
    assert 'Bearer realm="tamma-dash"' in challenge
    assert r.get_json()["error"] == "authentication required"


def test_assets_and_component_code_are_guarded_too(app: Any) -> None:
    for path in _asset_paths(app):
        assert app.get(path).status_code == 401
        assert app.get(path, headers=basic()).status_code == 200


def test_healthz_stays_open_for_liveness_probes(app: Any) -> None:
    r = app.get("/healthz")
    assert r.status_code in (200, 503)
    assert r.get_json()["serviceId"] == "tamma-dash"


@pytest.mark.parametrize("headers", [
    basic(password="wrong"), basic(user="root"), basic(password=PASSWORD + "x"),
    {"Authorization": "Basic not-base64!"}, {"Authorization": f"Basic {TOKEN}"},
    bearer("tok-wrong"), bearer(PASSWORD), {"Authorization": TOKEN}, {"Authorization": ""},
])
def test_wrong_credentials_are_refused(app: Any, headers: dict[str, str]) -> None:
    assert app.get("/api/health", headers=headers).status_code == 401


@pytest.mark.parametrize("headers", [basic(), bearer()], ids=["basic", "bearer"])
def test_right_credentials_open_pages_api_metrics_and_stream(app: Any,
                                                             headers: dict[str, str]) -> None:
    for path in ("/", "/_dash-layout", "/api/health", "/api/series", "/metrics"):
        r = app.get(path, headers=headers)
        assert r.status_code == 200, path
    stream = app.get("/health-stream", headers=headers, buffered=False)
    assert stream.status_code == 200
    assert next(stream.response).startswith(b"retry:")
    stream.close()


def test_the_secret_is_never_logged_nor_answered(app: Any,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bodies = [app.get("/api/health", headers=h).get_data(as_text=True)
              for h in (basic(), bearer(), basic(password="wrong"), bearer("x"), {})]
    bodies += [app.get(p, headers=basic()).get_data(as_text=True) for p in ("/", "/_dash-layout")]
    assert "refused" in caplog.text  # the refusals were logged ...
    for secret in SECRETS:  # ... without what was (or should have been) sent
        assert secret not in caplog.text
        assert not any(secret in body for body in bodies)
    assert PASSWORD not in repr(auth.credentials({}, ENV))


def _echo_app(settings: Settings, environ: dict[str, str]) -> Any:
    server = Flask("echo")

    @server.post("/api/alerts/1/ack")
    def who() -> str:
        return str(g.get("tamma_user"))

    auth.install(server, settings, environ=environ)
    return server.test_client()


def test_the_signed_in_user_is_the_actor() -> None:
    client = _echo_app(Settings(), ENV)
    assert client.post("/api/alerts/1/ack", headers=basic()).get_data(as_text=True) == USER
    assert client.post("/api/alerts/1/ack", headers=bearer()).get_data(as_text=True) == "token"


def test_off_by_default() -> None:
    client = _echo_app(Settings(), {})
    r = client.post("/api/alerts/1/ack")
    assert r.status_code == 200 and r.get_data(as_text=True) == "None"


def test_config_file_basic_mode_reads_the_password_from_the_named_variable(tmp_path: Path) -> None:
    path = tmp_path / "tamma.toml"
    path.write_text('[auth]\nmode = "basic"\nuser = "alice"\npassword_env = "DASH_PW"\n')
    settings = config.load(path, environ={})
    assert dict(settings.auth) == {"mode": "basic", "user": "alice", "password_env": "DASH_PW"}
    client = _echo_app(settings, {"DASH_PW": PASSWORD, **ENV})  # the file wins over TAMMA_AUTH_*
    assert client.post("/api/alerts/1/ack", headers=basic("alice")).get_data(as_text=True) == \
        "alice"
    assert client.post("/api/alerts/1/ack", headers=basic()).status_code == 401
    assert client.post("/api/alerts/1/ack", headers=bearer()).status_code == 401


def test_config_file_bearer_mode() -> None:
    settings = config.parse({"auth": {"mode": "bearer", "token_env": "DASH_TOKEN"}})
    client = _echo_app(settings, {"DASH_TOKEN": TOKEN})
    assert client.post("/api/alerts/1/ack", headers=bearer()).get_data(as_text=True) == "token"
    r = client.post("/api/alerts/1/ack", headers=basic())
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Bearer realm="tamma-dash"'


def test_bad_auth_config_is_reported_with_the_rest() -> None:
    with pytest.raises(ConfigError) as err:
        config.parse({"port": "x", "auth": {"mode": "basic", "user": "a", "password": "hunter2"}})
    text = str(err.value)
    assert "auth: unknown key 'password'" in text
    assert "auth.password_env: required" in text
    assert "port: expected a number" in text
    assert "hunter2" not in text
    for table, problem in (
        ({"mode": "digest"}, "auth.mode: 'digest' is not one of basic, bearer"),
        ({"mode": "bearer", "token_env": "abc def"}, "auth.token_env: the NAME of an environment"),
        ({"mode": "basic", "user": "a:b", "password_env": "PW"}, "auth.user: a non-empty user"),
    ):
        with pytest.raises(ConfigError, match=re.escape(problem)):
            config.parse({"auth": table})


@pytest.mark.parametrize(("auth_table", "environ", "names"), [
    ({"mode": "basic", "user": "a", "password_env": "DASH_PW"}, {}, "DASH_PW is not set"),
    ({"mode": "bearer", "token_env": "DASH_TOKEN"}, {"DASH_TOKEN": ""}, "DASH_TOKEN is empty"),
    ({}, {"TAMMA_AUTH_USER": USER}, "TAMMA_AUTH_PASSWORD is not set"),
    ({}, {"TAMMA_AUTH_PASSWORD": PASSWORD}, "TAMMA_AUTH_USER is not set"),
    ({}, {"TAMMA_AUTH_TOKEN": ""}, "TAMMA_AUTH_TOKEN is empty"),
])
def test_half_configured_auth_refuses_to_start_instead_of_serving_open(
        auth_table: dict[str, str], environ: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names) as err:
        auth.install(Flask("x"), Settings(auth=auth_table), environ=environ)
    assert PASSWORD not in str(err.value)


def test_cli_serve_without_the_password_stops_with_the_variable_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TAMMA_AUTH_USER", USER)
    monkeypatch.delenv("TAMMA_AUTH_PASSWORD", raising=False)
    assert cli.main(["serve", "--data-dir", str(tmp_path), "--port", "0"]) == 2
    assert "TAMMA_AUTH_PASSWORD is not set" in capsys.readouterr().err


def test_a_web_worker_without_the_password_refuses_to_boot(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from tamma_dash import wsgi

    env = {"TAMMA_DATA_DIR": str(tmp_path), "TAMMA_AUTH_TOKEN": TOKEN, "TAMMA_AUTH_USER": USER}
    with pytest.raises(ConfigError, match="TAMMA_AUTH_PASSWORD is not set"):
        wsgi.create_server(env)
    assert "TAMMA_AUTH_PASSWORD is not set" in caplog.text and TOKEN not in caplog.text
    assert not list(tmp_path.iterdir())  # nothing was started or written
