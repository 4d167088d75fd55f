"""Settings from a TOML file plus the environment: validated, the only reader of either.

Every problem is reported with where it is (``services[2].health_url``) and how to fix it, and
all problems are reported at once so a broken config costs one round trip, not ten.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tamma_dash.models import ServiceKind
from tamma_dash.suggest import did_you_mean, unknown_keys

DEFAULT_THRESHOLDS: dict[str, tuple[float, float]] = {
    # metric: (degraded at or above, critical at or above); thresholds degrade, never mark down
    "cpu_percent": (85.0, 97.0),
    "memory_percent": (85.0, 95.0),
    "disk_percent": (85.0, 95.0),
    "response_time_ms": (500.0, 2000.0),
    "response_time_p95_ms": (500.0, 2000.0),
    "error_rate": (2.0, 10.0),
}

MIN_INTERVAL_S = 0.1


class ConfigError(ValueError):
    """Raised with every problem found; ``problems`` keeps them one per line."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the configuration:\n{lines}")


@dataclass(frozen=True)
class ProcessMatch:
    """How to find a service's process on this host: first of pid file, name, cmdline regex."""

    pid_file: str | None = None
    name: str | None = None
    cmdline: str | None = None


@dataclass(frozen=True)
class ServiceConfig:
    name: str
    kind: ServiceKind
    health_url: str | None = None
    metrics_url: str | None = None
    probe_url: str | None = None  # providers and git platforms: an endpoint that sends rate limits
    token_env: str | None = None  # name of the environment variable that holds the token
    process: ProcessMatch | None = None
    depends_on: tuple[str, ...] = ()
    timeout_s: float = 2.0
    max_body_bytes: int = 1_048_576

    def token(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The secret, read from the environment at use; never stored in the config object."""
        if not self.token_env:
            return None
        env = os.environ if environ is None else environ
        return env.get(self.token_env) or None


@dataclass(frozen=True)
class Settings:
    services: tuple[ServiceConfig, ...] = ()
    interval_s: float = 5.0
    retention_s: float = 24 * 3600.0
    rollup_step_s: float = 60.0
    rollup_retention_s: float = 30 * 24 * 3600.0
    data_dir: Path = Path("data")
    host: str = "127.0.0.1"
    port: int = 8050
    host_metrics: bool = True
    disk_mounts: tuple[str, ...] = ("/",)
    thresholds: Mapping[str, tuple[float, float]] = field(
        default_factory=lambda: dict(DEFAULT_THRESHOLDS)
    )
    demo: bool = True
    seed: int = 42
    source: str = "<defaults>"
    alerts: Mapping[str, Any] = field(default_factory=dict)
    auth: Mapping[str, Any] = field(default_factory=dict)
    history: Mapping[str, Any] = field(default_factory=dict)

    @property
    def tick_budget_s(self) -> float:
        """Time a tick may spend collecting before slow collectors are recorded as timed out."""
        return max(0.05, self.interval_s * 0.8)

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def service(self, name: str) -> ServiceConfig | None:
        return next((s for s in self.services if s.name == name), None)


_SERVICE_KEYS = {
    "name",
    "kind",
    "health_url",
    "metrics_url",
    "probe_url",
    "token_env",
    "process",
    "depends_on",
    "timeout_s",
    "max_body_bytes",
}
_ROLLUP_KEYS = frozenset({"step_s", "retention_s"})
_PROCESS_KEYS = frozenset({"pid_file", "name", "cmdline"})
_TOP_KEYS = {
    "interval_s",
    "retention_s",
    "data_dir",
    "host",
    "port",
    "demo",
    "seed",
    "services",
    "thresholds",
    "host_metrics",
    "disk_mounts",
    "rollup",
    "alerts",
    "auth",
    "history",
}


def load(path: str | Path | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate ``path`` (or nothing: the demo defaults). Raises ConfigError."""
    env = os.environ if environ is None else environ
    if path is None:
        settings = Settings()
    else:
        p = Path(path)
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                str(p), ["file not found: check the path given to --config"]
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                str(p), [f"not valid TOML ({exc}); fix the syntax at that line"]
            ) from None
        except UnicodeDecodeError:
            raise ConfigError(str(p), ["not UTF-8 text; save the file as UTF-8"]) from None
        settings = parse(raw, source=str(p))
    data_dir = env.get("TAMMA_DATA_DIR")
    return settings.with_overrides(data_dir=Path(data_dir) if data_dir else None)


def parse(raw: Mapping[str, Any], source: str = "<config>") -> Settings:
    """Validate a decoded TOML document into Settings, collecting every problem."""
    problems: list[str] = []
    problems += unknown_keys(raw, _TOP_KEYS)
    kw: dict[str, Any] = {"source": source}
    interval = _number(raw, "interval_s", problems, minimum=MIN_INTERVAL_S)
    retention = _number(raw, "retention_s", problems, minimum=60.0)
    if interval is not None:
        kw["interval_s"] = interval
    if retention is not None:
        kw["retention_s"] = retention
    rollup = raw.get("rollup", {})
    if isinstance(rollup, Mapping):
        problems += unknown_keys(rollup, _ROLLUP_KEYS, "rollup")
        step = _number(rollup, "step_s", problems, minimum=1.0, where="rollup.step_s")
        keep = _number(rollup, "retention_s", problems, minimum=60.0, where="rollup.retention_s")
        if step is not None:
            kw["rollup_step_s"] = step
        if keep is not None:
            kw["rollup_retention_s"] = keep
    else:
        problems.append("rollup: expected a table like [rollup] step_s = 60")
    if "data_dir" in raw:
        kw["data_dir"] = Path(str(raw["data_dir"]))
    if "host" in raw:
        kw["host"] = str(raw["host"])
    port = _number(raw, "port", problems, minimum=1, maximum=65535)
    if port is not None:
        kw["port"] = int(port)
    for flag in ("demo", "host_metrics"):
        if flag in raw:
            if isinstance(raw[flag], bool):
                kw[flag] = raw[flag]
            else:
                problems.append(f"{flag}: expected true or false, got {raw[flag]!r}")
    if "seed" in raw:
        if isinstance(raw["seed"], int):
            kw["seed"] = raw["seed"]
        else:
            problems.append(f"seed: expected an integer, got {raw['seed']!r}")
    if "disk_mounts" in raw:
        mounts = raw["disk_mounts"]
        if isinstance(mounts, list) and all(isinstance(m, str) for m in mounts):
            kw["disk_mounts"] = tuple(mounts)
        else:
            problems.append('disk_mounts: expected a list of paths, e.g. ["/", "/var"]')
    kw["thresholds"] = _thresholds(raw.get("thresholds", {}), problems)
    services = _services(raw.get("services", []), problems)
    kw["services"] = services
    if services and "demo" not in raw:
        kw["demo"] = False
    if "alerts" in raw:
        kw["alerts"] = raw["alerts"]
        problems += _alert_problems(raw["alerts"], services, kw.get("demo", True))
    if "auth" in raw:
        from tamma_dash.auth import parse_auth  # auth imports this module

        kw["auth"] = parse_auth(raw["auth"], problems)
    if "history" in raw:
        from tamma_dash.store.promhistory import check_history  # the store imports this module

        kw["history"] = raw["history"]
        problems += check_history(raw["history"])
    if problems:
        raise ConfigError(source, problems)
    return Settings(**kw)


def _alert_problems(raw: Any, services: tuple[ServiceConfig, ...], demo: bool) -> list[str]:
    """Problems in ``[alerts]``, checked against the services that will run (demo included)."""
    from tamma_dash.alerts.setup import check_alerts  # the alerting core imports this module

    known = list(services)
    if demo:
        from tamma_dash.demo.topology import SERVICES

        names = {s.name for s in known}
        known += [ServiceConfig(name=d.name, kind=d.kind, depends_on=d.depends_on)
                  for d in SERVICES if d.name not in names]
    return check_alerts(raw, known)


def _number(
    raw: Mapping[str, Any],
    key: str,
    problems: list[str],
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    where: str | None = None,
) -> float | None:
    if key not in raw:
        return None
    where = where or key
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problems.append(f"{where}: expected a number, got {value!r}")
        return None
    if minimum is not None and value < minimum:
        problems.append(f"{where}: {value} is below the minimum {minimum}; use at least {minimum}")
        return None
    if maximum is not None and value > maximum:
        problems.append(f"{where}: {value} is above the maximum {maximum}")
        return None
    return float(value)


def _thresholds(raw: Any, problems: list[str]) -> dict[str, tuple[float, float]]:
    out = dict(DEFAULT_THRESHOLDS)
    if not isinstance(raw, Mapping):
        problems.append("thresholds: expected a table like [thresholds] cpu_percent = [85, 97]")
        return out
    for metric, pair in raw.items():
        ok = (
            isinstance(pair, list)
            and len(pair) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pair)
        )
        if not ok:
            problems.append(f"thresholds.{metric}: expected [degraded, critical], e.g. [85, 95]")
            continue
        if pair[0] > pair[1]:
            problems.append(
                f"thresholds.{metric}: degraded ({pair[0]}) must not exceed critical ({pair[1]})"
            )
            continue
        out[str(metric)] = (float(pair[0]), float(pair[1]))
    return out


def _services(raw: Any, problems: list[str]) -> tuple[ServiceConfig, ...]:
    if not isinstance(raw, list):
        problems.append("services: expected [[services]] tables")
        return ()
    out: list[ServiceConfig] = []
    for i, item in enumerate(raw):
        svc = _service(item, f"services[{i}]", problems)
        if svc is not None:
            out.append(svc)
    names = [s.name for s in out]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"services: the name '{name}' is used twice; names must be unique")
    known = set(names)
    for i, svc in enumerate(out):
        for dep in svc.depends_on:
            if dep not in known:
                problems.append(
                    f"services[{i}] ({svc.name}).depends_on: unknown service "
                    f"'{dep}'{did_you_mean(dep, known)}; "
                    f"known: {', '.join(sorted(known))}"
                )
    cycle = _find_cycle(out)
    if cycle:
        problems.append(f"services: depends_on forms a cycle {' -> '.join(cycle)}; remove one edge")
    return tuple(out)


def _service(item: Any, where: str, problems: list[str]) -> ServiceConfig | None:
    if not isinstance(item, Mapping):
        problems.append(f"{where}: expected a table with at least name and kind")
        return None
    n_before = len(problems)
    problems += unknown_keys(item, _SERVICE_KEYS, where)
    name = item.get("name")
    if not isinstance(name, str) or not name.strip() or "/" in name:
        problems.append(f"{where}.name: required, a non-empty name without '/'")
        name = "?"
    where = f"{where} ({name})"
    kinds = [k.value for k in ServiceKind]
    try:
        kind = ServiceKind(str(item.get("kind", "")))
    except ValueError:
        word = item.get("kind")
        problems.append(
            f"{where}.kind: {word!r} is not one of {', '.join(kinds)}{did_you_mean(word, kinds)}"
        )
        kind = ServiceKind.API
    urls: dict[str, str | None] = {}
    for key in ("health_url", "metrics_url", "probe_url"):
        urls[key] = _url(item.get(key), f"{where}.{key}", problems)
    token_env = item.get("token_env")
    if token_env is not None and (not isinstance(token_env, str) or not token_env.isidentifier()):
        problems.append(
            f"{where}.token_env: the NAME of an environment variable, e.g. GITHUB_TOKEN; "
            "never put the token itself in the file"
        )
        token_env = None
    deps = item.get("depends_on", [])
    if not (isinstance(deps, list) and all(isinstance(d, str) for d in deps)):
        problems.append(f'{where}.depends_on: expected a list of service names, e.g. ["database"]')
        deps = []
    timeout = _number(
        item, "timeout_s", problems, minimum=0.05, maximum=60, where=f"{where}.timeout_s"
    )
    cap = _number(item, "max_body_bytes", problems, minimum=1024, where=f"{where}.max_body_bytes")
    process = _process(item.get("process"), f"{where}.process", problems)
    if len(problems) > n_before:
        return None
    return ServiceConfig(
        name=name,
        kind=kind,
        depends_on=tuple(deps),
        token_env=token_env,
        process=process,
        timeout_s=timeout if timeout is not None else 2.0,
        max_body_bytes=int(cap) if cap is not None else 1_048_576,
        **urls,
    )


def _url(value: Any, where: str, problems: list[str]) -> str | None:
    if value is None:
        return None
    parsed = urlparse(str(value))
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        problems.append(
            f"{where}: {value!r} is not an http(s) URL, e.g. http://127.0.0.1:8080/health"
        )
        return None
    return str(value)


def _process(value: Any, where: str, problems: list[str]) -> ProcessMatch | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not value:
        problems.append(
            f'{where}: expected {{ pid_file = "...", name = "...", cmdline = "regex" }}'
        )
        return None
    unknown = unknown_keys(value, _PROCESS_KEYS, where)
    if unknown:
        problems += unknown
        return None
    return ProcessMatch(**{k: str(v) for k, v in value.items()})


def _find_cycle(services: list[ServiceConfig]) -> list[str] | None:
    """A depends_on cycle as a path of names (first == last), or None."""
    graph = {s.name: s.depends_on for s in services}
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        for dep in graph.get(node, ()):
            if dep in path:
                return [*path[path.index(dep) :], dep]
            if dep not in done:
                found = visit(dep, [*path, dep])
                if found:
                    return found
        done.add(node)
        return None

    for name in graph:
        if name not in done:
            found = visit(name, [name])
            if found:
                return found
    return None
