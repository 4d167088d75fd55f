"""Optional HTTP basic auth or a bearer token in front of every page, asset and API route.

Off unless configured: the default bind address is 127.0.0.1. Secrets come only from
environment variables (the config names them) and are compared in constant time; they are
never logged, echoed or kept in a repr. ``/healthz`` stays open for liveness probes.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, g, request

from tamma_dash.config import ConfigError
from tamma_dash.suggest import did_you_mean

if TYPE_CHECKING:
    from tamma_dash.config import Settings

log = logging.getLogger(__name__)

AUTH_KEYS = ("mode", "user", "password_env", "token_env")
MODES = ("basic", "bearer")
OPEN_PATHS = frozenset({"/healthz"})
REALM = "tamma-dash"
TOKEN_USER = "token"  # the actor recorded for requests that used the bearer token
ENV_TOKEN, ENV_USER, ENV_PASSWORD = "TAMMA_AUTH_TOKEN", "TAMMA_AUTH_USER", "TAMMA_AUTH_PASSWORD"


@dataclass(frozen=True)
class Credentials:
    """What a request must present; the secrets are bytes and never part of the repr."""

    user: str | None = None
    password: bytes | None = field(default=None, repr=False)
    token: bytes | None = field(default=None, repr=False)

    @property
    def enabled(self) -> bool:
        return self.password is not None or self.token is not None

    def describe(self) -> str:
        """Which schemes are on, without any secret (for the start-up log)."""
        parts = [f"basic (user {self.user})"] if self.password is not None else []
        return " or ".join([*parts, *(["bearer token"] if self.token is not None else [])])

    def identify(self, header: str) -> str | None:
        """The user an ``Authorization`` header proves, or None."""
        scheme, _, value = header.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "basic" and self.password is not None and self.user is not None:
            return _basic_user(value.strip(), self.user, self.password)
        if scheme == "bearer" and self.token is not None:
            return TOKEN_USER if hmac.compare_digest(value.strip().encode(), self.token) else None
        return None

    def challenge(self) -> str:
        """``WWW-Authenticate``: Basic first, so a browser shows its sign-in prompt."""
        schemes = ["Basic"] if self.password is not None else []
        schemes += ["Bearer"] if self.token is not None else []
        return ", ".join(f'{s} realm="{REALM}"' for s in schemes)


def _basic_user(value: str, user: str, password: bytes) -> str | None:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    given_user, sep, given_password = decoded.partition(":")
    if not sep:
        return None
    user_ok = hmac.compare_digest(given_user.encode(), user.encode())
    password_ok = hmac.compare_digest(given_password.encode(), password)
    return given_user if user_ok and password_ok else None


def parse_auth(raw: Any, problems: list[str]) -> dict[str, Any]:
    """Validate the ``[auth]`` table; problems name the key and the fix. Holds no secret."""
    if not isinstance(raw, Mapping):
        problems.append('auth: expected a table like [auth] mode = "basic"')
        return {}
    if not raw:
        return {}
    for key in sorted(set(raw) - set(AUTH_KEYS)):
        problems.append(f"auth: unknown key '{key}'{did_you_mean(key, AUTH_KEYS)}; "
                        f"known keys are {', '.join(AUTH_KEYS)}")
    mode = raw.get("mode")
    if mode not in MODES:
        problems.append(f"auth.mode: {mode!r} is not one of {', '.join(MODES)}"
                        f"{did_you_mean(mode, MODES)}")
        return {}
    needed = ("user", "password_env") if mode == "basic" else ("token_env",)
    for key in needed:
        if key not in raw:
            problems.append(f"auth.{key}: required when mode = \"{mode}\"")
    user = raw.get("user")
    if "user" in raw and (not isinstance(user, str) or not user or ":" in user):
        problems.append("auth.user: a non-empty user name without ':'")
    for key in ("password_env", "token_env"):
        name = raw.get(key)
        if key in raw and (not isinstance(name, str) or not name.isidentifier()):
            problems.append(
                f"auth.{key}: the NAME of an environment variable, e.g. TAMMA_DASH_PASSWORD; "
                "never put the secret itself in the file"
            )
    return {k: raw[k] for k in AUTH_KEYS if k in raw}


def credentials(auth: Mapping[str, Any], environ: Mapping[str, str]) -> Credentials:
    """Resolve ``[auth]`` (or, without it, TAMMA_AUTH_*) against the environment.

    A half-configured auth raises ConfigError instead of serving without it (fail closed).
    """
    if auth:
        return _from_config(auth, environ)
    problems: list[str] = []
    token = _env_secret(environ, ENV_TOKEN, problems, required=False)
    user = environ.get(ENV_USER)
    password = _env_secret(environ, ENV_PASSWORD, problems, required=user is not None)
    if password is not None and not user:
        problems.append(f"{ENV_USER} is not set (or empty) but {ENV_PASSWORD} is: set both")
    if user is not None and ":" in user:
        problems.append(f"{ENV_USER} must not contain ':'")
    if problems:
        raise ConfigError("environment", problems)
    return Credentials(user=user, password=password, token=token)


def _from_config(auth: Mapping[str, Any], environ: Mapping[str, str]) -> Credentials:
    problems: list[str] = []
    if auth.get("mode") == "basic":
        password = _env_secret(environ, str(auth["password_env"]), problems, required=True)
        creds = Credentials(user=str(auth["user"]), password=password)
    else:
        creds = Credentials(token=_env_secret(environ, str(auth["token_env"]), problems,
                                              required=True))
    if problems:
        raise ConfigError("[auth]", problems)
    return creds


def _env_secret(
    environ: Mapping[str, str], name: str, problems: list[str], *, required: bool
) -> bytes | None:
    value = environ.get(name)
    if value is None and not required:
        return None
    if not value:
        problems.append(
            f"the environment variable {name} is {'empty' if value == '' else 'not set'}; "
            "export the secret in it before starting, or turn auth off"
        )
        return None
    return value.encode()


def install(server: Flask, settings: Settings, environ: Mapping[str, str] | None = None) -> None:
    """Guard every route of ``server`` except /healthz when auth is configured."""
    creds = credentials(settings.auth, os.environ if environ is None else environ)
    if not creds.enabled:
        return
    log.info("auth: every route except /healthz needs %s", creds.describe())

    @server.before_request
    def _require_auth() -> Response | None:
        if request.path in OPEN_PATHS:
            return None
        user = creds.identify(request.headers.get("Authorization", ""))
        if user is None:
            log.info("auth: refused %s %r from %s", request.method, request.path,
                     request.remote_addr)
            return _refusal(creds)
        g.tamma_user = user
        return None


def _refusal(creds: Credentials) -> Response:
    how = "HTTP basic auth" if creds.password is not None else "an Authorization: Bearer token"
    body = {"error": "authentication required", "fix": f"send {how}"}
    return Response(json.dumps(body), status=401, mimetype="application/json",
                    headers={"WWW-Authenticate": creds.challenge(), "Cache-Control": "no-store"})
