"""The composition root: the one place where config, demo, collectors, store and pipeline meet."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from tamma_dash.alerts.metrics import AlertMetrics
from tamma_dash.alerts.remote import ActionPump, RemoteAlerts
from tamma_dash.alerts.store import AlertStore
from tamma_dash.api.selfmetrics import SelfMetrics
from tamma_dash.api.stream import TickSignal
from tamma_dash.collectors.health import HealthCheckCollector
from tamma_dash.collectors.host import HostCollector
from tamma_dash.collectors.http import direct_session
from tamma_dash.collectors.process import ProcessCollector
from tamma_dash.collectors.prometheus import PrometheusCollector
from tamma_dash.collectors.providers import ProviderCollector
from tamma_dash.config import ProcessMatch, ServiceConfig, Settings
from tamma_dash.models import Clock, Collector, ServiceKind
from tamma_dash.pipeline import Pipeline
from tamma_dash.store import Store

log = logging.getLogger(__name__)

Mode = Literal["run", "collect", "serve"]
RUNTIME_FILE = "runtime.json"
PID_FILE = "tamma-dash.pid"
LOCK_FILE = "collector.lock"


class WriterLocked(RuntimeError):
    """Another process already collects into this data directory."""


@dataclass
class Runtime:
    """Everything one process runs; built by :func:`build`, started and stopped explicitly."""

    settings: Settings
    mode: Mode
    store: Store
    clock: Clock
    services: tuple[ServiceConfig, ...] = ()
    fleet: Any = None  # tamma_dash.demo.DemoFleet when the demo runs in this process
    pipeline: Pipeline | None = None
    signal: TickSignal = field(default_factory=TickSignal)
    metrics: SelfMetrics | None = None
    backfill_summary: dict[str, Any] | None = None
    alerts: Any = None  # tamma_dash.alerts.AlertManager (run and collect modes)
    alert_ticker: Any = None  # tamma_dash.alerts.tick.AlertTicker
    analytics: Any = None  # tamma_dash.analytics.service.AnalyticsService, when present
    _stop: threading.Event = field(default_factory=threading.Event)
    _refresher: threading.Thread | None = None
    _lock_handle: Any = None
    _pump: Any = None
    _runtime_mtime: int | None = None

    @property
    def demo(self) -> bool:
        return self.settings.demo

    def start(self) -> Runtime:
        """Start the demo fleet, backfill a first start, then the tick loop (or the refresher)."""
        if self.mode == "serve":
            self._load_runtime_file()
            self._remote_alerts()
            self._refresher = threading.Thread(
                target=self._refresh_loop, name="store-refresh", daemon=True
            )
            self._refresher.start()
            return self
        self._lock_writer()
        if self.settings.demo:
            self._start_demo()
        self._write_runtime_file()
        self.pipeline = Pipeline(
            self._collectors(),
            self.store,
            interval_s=self.settings.interval_s,
            budget_s=self.settings.tick_budget_s,
            clock=self.clock,
        )
        if self.metrics is not None:
            self.pipeline.subscribe(self.metrics.observe)
        self._start_analytics(self.pipeline)
        self._start_alerts(self.pipeline)
        self.pipeline.subscribe(self.signal.notify)
        self.pipeline.start()
        return self

    def _start_analytics(self, pipeline: Pipeline) -> None:
        """Background refits and per-tick scoring, off the tick's path."""
        try:
            from tamma_dash.analytics.fitpool import FitPool
            from tamma_dash.analytics.service import AnalyticsService
        except ImportError:
            return
        self.analytics = AnalyticsService(
            self.store, self.services, interval_s=self.settings.interval_s,
            thresholds=self.settings.thresholds, clock=self.clock,
            data_dir=self.settings.data_dir, fit_pool=FitPool())
        self.analytics.start()
        pipeline.subscribe(self.analytics.on_tick)

    def _start_alerts(self, pipeline: Pipeline) -> None:
        """Rules evaluated on every stored tick; state in data_dir/alerts.sqlite3."""
        from tamma_dash.alerts.setup import build_alert_manager
        from tamma_dash.alerts.tick import AlertTicker

        self.alerts = build_alert_manager(
            self.settings.alerts, self.services, self.settings.data_dir, clock=self.clock)
        an = self.analytics
        self.alert_ticker = AlertTicker(
            self.alerts, self.store.latest, lambda: self.services,
            thresholds=self.settings.thresholds, interval_s=self.settings.interval_s,
            clock=self.clock,
            anomalies=an.anomaly_scores if an is not None else None,
            forecasts=an.forecast_etas if an is not None else None)
        pipeline.subscribe(self.alert_ticker)
        self._pump = ActionPump(self.alerts, self.clock).start()
        if self.metrics is not None:
            self.metrics.registry.register(AlertMetrics(self.alerts, self.alert_ticker))

    def _remote_alerts(self) -> None:
        """Web-only: alerts read from the collector's store; actions queued for it to apply."""
        from tamma_dash.alerts.setup import ALERTS_FILE

        try:
            store = AlertStore(self.settings.data_dir / ALERTS_FILE)
        except (OSError, sqlite3.Error) as exc:
            log.warning("alerts unavailable: cannot open %s (%s)", ALERTS_FILE, exc)
            return
        self.alerts = RemoteAlerts(store, lambda: self.services, clock=self.clock)

    def stop(self) -> None:
        self._stop.set()
        if self.pipeline is not None:
            self.pipeline.stop()
        if self.analytics is not None:
            self.analytics.stop()
        if self._pump is not None:
            self._pump.stop()
        if self.alerts is not None:
            self.alerts.close()
        if self.fleet is not None:
            self.fleet.stop()
        if self._refresher is not None:
            self._refresher.join(2.0)
        self.store.close()
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None

    def _lock_writer(self) -> None:
        """One writer per data directory: a second collector would interleave ticks."""
        path = self.settings.data_dir / LOCK_FILE
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = path.open("a+")
        except OSError as exc:
            log.warning("cannot create %s (%s); running without the single-writer lock", path, exc)
            return
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise WriterLocked(
                f"another tamma-dash collector is already writing {self.settings.data_dir}; "
                "stop it, use `tamma-dash serve` to only read, or pass another --data-dir"
            ) from None
        self._lock_handle = handle

    def _start_demo(self) -> None:
        from tamma_dash.demo import DemoFleet, backfill  # the demo is optional at run time

        self.fleet = DemoFleet(
            seed=self.settings.seed, interval_s=self.settings.interval_s, clock=self.clock
        )
        self.fleet.start()
        pid_file = self.settings.data_dir / PID_FILE
        demo = tuple(_with_pid_file(s, pid_file) for s in self.fleet.services_config())
        self.services = demo + tuple(
            s for s in self.services if s.name not in {d.name for d in demo}
        )
        if self.store.is_empty():
            step = max(self.settings.interval_s, self.settings.retention_s / 17_280)
            self.backfill_summary = backfill(
                self.store,
                self.fleet,
                now=self.clock(),
                interval_s=step,
                full_s=self.settings.retention_s,
            )
            log.info("demo: backfilled history %s", self.backfill_summary)

    def _collectors(self) -> list[Collector]:
        session = direct_session()
        out: list[Collector] = [
            HealthCheckCollector(self.services, session=session, clock=self.clock),
            PrometheusCollector(self.services, session=session, clock=self.clock),
            ProviderCollector(self.services, clock=self.clock),
            ProcessCollector(self.services, clock=self.clock),
        ]
        if self.settings.host_metrics:
            out.append(HostCollector(mounts=self.settings.disk_mounts, clock=self.clock))
        return out

    def _write_runtime_file(self) -> None:
        """Tell web-only processes which services exist (no URLs with secrets, no tokens)."""
        doc = {
            "pid": os.getpid(),
            "demo": self.settings.demo,
            "interval_s": self.settings.interval_s,
            "services": [
                {"name": s.name, "kind": s.kind.value, "depends_on": list(s.depends_on)}
                for s in self.services
            ],
        }
        try:
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.settings.data_dir / (RUNTIME_FILE + ".tmp")
            tmp.write_text(json.dumps(doc, indent=1))
            tmp.replace(self.settings.data_dir / RUNTIME_FILE)  # readers never see half of it
            (self.settings.data_dir / PID_FILE).write_text(str(os.getpid()))
        except OSError as exc:
            log.warning(
                "could not write %s in %s (%s); web-only processes will not see the service list",
                RUNTIME_FILE,
                self.settings.data_dir,
                exc,
            )

    def _load_runtime_file(self) -> None:
        """Services as the collector announced them; re-read whenever it writes them again, so a
        web worker started before the collector (or kept across its restarts) follows it."""
        if self.settings.services:  # the config names them: it wins
            return
        path = self.settings.data_dir / RUNTIME_FILE
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            return
        if mtime == self._runtime_mtime:
            return
        self._runtime_mtime = mtime
        try:
            doc = json.loads(path.read_text())
            self.services = tuple(
                ServiceConfig(
                    name=s["name"],
                    kind=ServiceKind(s["kind"]),
                    depends_on=tuple(s.get("depends_on", ())),
                )
                for s in doc["services"]
            )
            self.settings = replace(
                self.settings,
                demo=bool(doc.get("demo")),
                interval_s=float(doc.get("interval_s", self.settings.interval_s)),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s is unreadable (%s); start the collector first", path, exc)

    def _refresh_loop(self) -> None:
        while not self._stop.wait(max(0.05, self.settings.interval_s / 2)):
            self._load_runtime_file()
            try:
                if self.store.refresh():
                    self.signal.notify()
            except Exception:
                log.exception("store refresh failed")


def _with_pid_file(svc: ServiceConfig, pid_file: Path) -> ServiceConfig:
    """The demo's dashboard service is this very process: watch it for real with psutil."""
    if svc.kind is ServiceKind.DASHBOARD and svc.process is None:
        return replace(svc, process=ProcessMatch(pid_file=str(pid_file)))
    return svc


def build(settings: Settings, mode: Mode = "run", *, clock: Clock = time.time) -> Runtime:
    """Wire a runtime for ``mode`` without starting anything."""
    if mode == "serve" and settings.history.get("backend") == "prometheus":
        from typing import cast

        from tamma_dash.store.promhistory import PromHistory  # read-only history over HTTP

        reader = PromHistory.from_settings(settings.history, clock=clock)
        rt = Runtime(settings=settings, mode=mode, store=cast(Store, reader), clock=clock,
                     services=settings.services)
        rt.metrics = SelfMetrics(reader.stats)  # no tamma_sample here: Prometheus has them
        return rt
    store = Store.open(
        settings.data_dir,
        interval_s=settings.interval_s,
        retention_s=settings.retention_s,
        rollup_step_s=settings.rollup_step_s,
        rollup_retention_s=settings.rollup_retention_s,
        clock=clock,
        readonly=(mode == "serve"),
    )
    rt = Runtime(settings=settings, mode=mode, store=store, clock=clock, services=settings.services)
    rt.metrics = SelfMetrics(store.stats, latest=store.latest)
    return rt
