"""`tamma-dash run | collect | serve | check-config`: the command line."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tamma_dash import __version__, config
from tamma_dash.config import MIN_INTERVAL_S, ConfigError, Settings

log = logging.getLogger("tamma_dash")
MAX_WINDOW_TICKS = 172_800  # 10x the default 24 h at 5 s


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    quiet_access_log(getattr(args, "access_log", False))
    if args.command == "check-config":
        return check_config(args.file)
    try:
        settings = settings_from(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        print("Run `tamma-dash check-config FILE` to see every problem.", file=sys.stderr)
        return 2
    from tamma_dash.runtime import WriterLocked

    try:
        if args.command == "collect":
            return collect(settings, args.metrics_port)
        return serve(settings, mode="serve" if args.command == "serve" else "run")
    except (WriterLocked, ConfigError) as exc:
        print(f"tamma-dash: {exc}", file=sys.stderr)
        return 2


def quiet_access_log(wanted: bool) -> None:
    """One line per HTTP request (each tab asks several times a tick) only with --access-log.

    Without it the werkzeug server logs warnings and errors only, so what the collector and the
    alerts say is not buried; behind gunicorn its own ``--access-logfile`` applies.
    """
    logging.getLogger("werkzeug").setLevel(logging.INFO if wanted else logging.WARNING)


def settings_from(args: argparse.Namespace) -> Settings:
    settings = config.load(args.config)
    if args.interval is not None and args.interval < MIN_INTERVAL_S:
        raise ConfigError("--interval", [f"{args.interval} is below {MIN_INTERVAL_S} s"])
    settings = settings.with_overrides(
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        data_dir=Path(args.data_dir) if args.data_dir else None,
        interval_s=args.interval,
        seed=args.seed,
        demo=False if args.no_demo else None,
    )
    return cap_window(settings)


def cap_window(settings: Settings) -> Settings:
    """Keep the in-memory window bounded when a fast tick meets a long retention."""
    ticks = settings.retention_s / settings.interval_s
    if ticks <= MAX_WINDOW_TICKS:
        return settings
    retention = MAX_WINDOW_TICKS * settings.interval_s
    log.warning(
        "a %g s tick over %g s of retention is %d ticks per series; keeping the last %g s at "
        "full resolution instead (older history stays in rollups)",
        settings.interval_s, settings.retention_s, ticks, retention,
    )
    return settings.with_overrides(retention_s=retention)


def check_config(path: str) -> int:
    try:
        settings = config.load(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    names = ", ".join(f"{s.name} ({s.kind.value})" for s in settings.services) or "none (demo)"
    print(
        f"{path}: OK. interval {settings.interval_s:g} s, retention {settings.retention_s:g} s, "
        f"services: {names}"
    )
    return 0


def serve(settings: Settings, mode: str) -> int:
    from tamma_dash import auth
    from tamma_dash.runtime import build
    from tamma_dash.ui.app import create_app

    auth.credentials(settings.auth, os.environ)  # a half-configured auth stops us here
    rt = build(settings, "serve" if mode == "serve" else "run").start()
    app = create_app(rt)
    where = f"http://{settings.host}:{settings.port}/"
    log.info(
        "tamma-dash %s %s on %s (data in %s%s)",
        __version__,
        mode,
        where,
        settings.data_dir,
        ", demo fleet" if rt.fleet is not None else "",
    )
    signal.signal(signal.SIGTERM, _exit_on_term)
    try:
        app.run(host=settings.host, port=settings.port, debug=False, threaded=True)
    except OSError as exc:
        log.error(
            "cannot listen on %s:%s (%s); pass another --port", settings.host, settings.port, exc
        )
        return 3
    finally:
        rt.stop()
    return 0


def _exit_on_term(signum: int, _frame: object) -> None:
    """`kill PID` (SIGTERM) unwinds like Ctrl-C, so the runtime stops: pending ticks are
    written and the fit worker goes too (killed outright, it was left running, ~300 MB)."""
    log.info("%s: stopping", signal.Signals(signum).name)
    raise SystemExit(0)


def collect(settings: Settings, metrics_port: int | None = None) -> int:
    from tamma_dash.runtime import build

    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    rt = build(settings, "collect").start()
    log.info("tamma-dash collect: every %g s into %s", settings.interval_s, settings.data_dir)
    if metrics_port is not None and rt.metrics is not None:
        serve_collector_metrics(rt.metrics.registry, metrics_port)
    done.wait()
    rt.stop()
    return 0


def serve_collector_metrics(registry: Any, port: int) -> None:
    """The collector's own /metrics (tick, collectors, alerts) on 127.0.0.1 only, no auth."""
    from prometheus_client import start_http_server

    server, _ = start_http_server(port, addr="127.0.0.1", registry=registry)
    log.info("collector metrics on http://127.0.0.1:%d/metrics", server.server_port)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tamma-dash", description="Real-time system health for Tamma.")
    p.add_argument("--version", action="version", version=f"tamma-dash {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for name, text in (
        ("run", "collector, demo fleet and web UI in one process (the default)"),
        ("collect", "collector only: writes the store"),
        ("serve", "web UI and API only: reads the store a collector writes"),
    ):
        cmd = sub.add_parser(name, help=text, description=text)
        if name != "collect":
            cmd.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
            cmd.add_argument("--port", type=int, default=None, help="port (default 8050)")
            cmd.add_argument("--access-log", action="store_true",
                             help="log every HTTP request (off: warnings and errors only)")
        cmd.add_argument("--config", default=None, help="TOML config; none means the demo fleet")
        cmd.add_argument("--data-dir", default=None, help="where history lives (default ./data)")
        cmd.add_argument("--interval", type=float, default=None, help="tick in seconds (default 5)")
        cmd.add_argument("--seed", type=int, default=None, help="demo fleet seed (default 42)")
        cmd.add_argument("--no-demo", action="store_true", help="do not start the demo fleet")
        if name == "collect":
            cmd.add_argument("--metrics-port", type=int, default=None,
                             help="serve the collector's /metrics on 127.0.0.1:PORT (0: any)")
    chk = sub.add_parser("check-config", help="validate a config file and print every problem")
    chk.add_argument("file")
    return p


if __name__ == "__main__":
    raise SystemExit(main())
