"""Analytics benchmarks: service-model refit and per-tick scoring, detector tick, forecast error.

Run: ``python bench/bench_analytics.py`` (a few minutes). Prints medians; targets from the
issue: a refit over 24 h of the demo fleet (11 services, 17,280 rows at 5 s) under 2 s, scoring
one tick under 20 ms. Also prints the back-tested error of the predicted time to threshold on
synthetic series and on the demo's filling disks. ``--fleet`` runs only the fleet figures.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tamma_dash.analytics.anomaly import ServiceAnomalyModel
from tamma_dash.analytics.baseline import baseline
from tamma_dash.analytics.capacity import Target, forecast_target
from tamma_dash.analytics.detector import StreamingDetector
from tamma_dash.analytics.forecast import forecast_time_to
from tamma_dash.analytics.service import AnalyticsService
from tamma_dash.analytics.servicemodel import fit_service
from tamma_dash.config import DEFAULT_THRESHOLDS, ServiceConfig
from tamma_dash.demo import SERVICES, FleetModel, backfill
from tamma_dash.demo.topology import FLEET_NAMES, spec
from tamma_dash.store import Store

ROWS, METRICS, INTERVAL_S, T0 = 17_280, 15, 5.0, 1_700_000_000.0
DAY = 86_400.0
FLEET = [ServiceConfig(name=s.name, kind=s.kind, depends_on=s.depends_on) for s in SERVICES]


def service_frame(seed: int = 0) -> pd.DataFrame:
    """24 h of 15 noisy metrics with a daily cycle and a few gaps."""
    rng = np.random.default_rng(seed)
    ts = T0 + INTERVAL_S * np.arange(ROWS)
    cycle = np.sin(2 * np.pi * ts / DAY)[:, None] * rng.uniform(1, 10, METRICS)
    values = 50 + cycle + rng.normal(0, 2, (ROWS, METRICS))
    values[rng.random(values.shape) < 0.001] = np.nan
    return pd.DataFrame(values, index=ts, columns=[f"metric{i}" for i in range(METRICS)])


def timed(fn: object, repeat: int) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls."""
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append(time.perf_counter() - start)
    return out


def bench_service_model() -> None:
    """Refit median over 24 h x 15 metrics, and per-tick score median."""
    frame = service_frame()
    settings = ServiceAnomalyModel()
    fits = timed(lambda: settings.fit(frame), 5)
    model = settings.fit(frame)
    tail = frame.iloc[-(settings.long + 1) :]
    scores = timed(lambda: model.score(tail), 200)
    print(f"service refit (17,280 x 15): median {statistics.median(fits):.2f} s  (target < 2 s)")
    print(
        f"service score one tick:      median {statistics.median(scores) * 1e3:.2f} ms "
        "(target < 20 ms)"
    )


def bench_detector_and_baseline() -> None:
    """Single-series detector per tick (refits included) and a 24 h baseline."""
    rng = np.random.default_rng(1)
    det = StreamingDetector()
    values = 50 + rng.normal(0, 1, 3000)
    ticks = timed(lambda: None, 0)
    for v in values:
        start = time.perf_counter()
        det.update(float(v))
        ticks.append(time.perf_counter() - start)
    print(
        f"detector update: median {statistics.median(ticks) * 1e3:.2f} ms, "
        f"p99 {np.percentile(ticks, 99) * 1e3:.1f} ms (refit ticks)"
    )
    series = service_frame()["metric0"]
    took = timed(lambda: baseline(series, now=float(series.index[-1])), 3)
    print(f"baseline over 24 h at 5 s:   median {statistics.median(took) * 1e3:.0f} ms")


def forecast_errors(shape: str) -> tuple[list[float], int]:
    """Relative errors of the time to 90 % over 50 seeds, and how often the range held it."""
    errors, covered = [], 0
    t = np.arange(0.0, DAY, 300.0)
    cycles = {
        "linear": np.zeros_like(t),
        "sine + 12 h harmonic": 3 * np.sin(2 * np.pi * t / DAY)
        + 1.5 * np.sin(4 * np.pi * t / DAY + 1),
        "busy hours step": 4.0 * ((t % DAY >= 9 * 3600) & (t % DAY < 17 * 3600)),
    }
    truth = (90 - 40) / (20 / DAY) - t[-1]
    for seed in range(50):
        rng = np.random.default_rng(seed)
        y = 40 + t * (20 / DAY) + rng.normal(0, 1.0, len(t)) + cycles[shape]
        f = forecast_time_to(pd.Series(y, index=t), 90.0, now=float(t[-1]))
        if f is None or f.eta_s is None or f.low_s is None or f.high_s is None:
            errors.append(1.0)
            continue
        errors.append(abs(f.eta_s - truth) / truth)
        covered += f.low_s <= truth <= f.high_s
    return errors, covered


def bench_forecast_error() -> None:
    """Back-test: disk at 40 % + 20 %/day, noise 1 %, one day of 5 min history, ETA to 90 %."""
    for shape in ("linear", "sine + 12 h harmonic", "busy hours step"):
        errors, covered = forecast_errors(shape)
        print(
            f"forecast back-test {shape:22s}: median |error| {statistics.median(errors):.1%}, "
            f"p90 {np.percentile(errors, 90):.1%}, range covers truth {covered}/50"
        )


def bench_fleet_service() -> None:
    """AnalyticsService.refit over 24 h of the demo fleet, and score() of one tick."""
    now = T0 + DAY
    store = Store.open(None, interval_s=INTERVAL_S, clock=lambda: now)
    backfill(store, FleetModel(7), now=now, interval_s=INTERVAL_S, rollup_days=0)
    svc = AnalyticsService(store, FLEET, interval_s=INTERVAL_S, thresholds=DEFAULT_THRESHOLDS,
                           clock=lambda: now)
    refits = timed(lambda: svc.refit(now), 3)
    scores = timed(lambda: svc.score(now), 50)
    forecasts = timed(lambda: svc.forecast(now), 3)
    keys = sum(len(m.metrics) for m in svc.models.values())
    print(f"fleet refit, 24 h x {len(svc.models)} services ({keys} series): median "
          f"{statistics.median(refits):.2f} s (target < 2 s)")
    print(f"fleet score one tick:        median {statistics.median(scores) * 1e3:.1f} ms, "
          f"p95 {np.percentile(scores, 95) * 1e3:.1f} ms (target < 20 ms)")
    print(f"fleet capacity forecasts:    median {statistics.median(forecasts) * 1e3:.0f} ms")
    store.close()


def bench_on_tick_during_refit() -> None:
    """The pipeline's listener (``on_tick``) timed while a refit is held inside the fitter."""
    now = T0 + 3600.0
    store = Store.open(None, interval_s=INTERVAL_S, clock=lambda: now)
    backfill(store, FleetModel(7), now=now, interval_s=INTERVAL_S, full_s=3600.0, rollup_days=0)
    entered, release = threading.Event(), threading.Event()

    def held(frame: pd.DataFrame, settings: ServiceAnomalyModel) -> object:
        entered.set()
        release.wait(60)
        return fit_service(frame, settings)

    svc = AnalyticsService(store, FLEET, interval_s=INTERVAL_S, thresholds=DEFAULT_THRESHOLDS,
                           clock=lambda: now, fitter=held)  # type: ignore[arg-type]
    svc.start()
    try:
        if not entered.wait(60):
            raise SystemExit("the refit never started: on_tick would be timed without one")
        took = timed(lambda: svc.on_tick(None), 10_000)
    finally:
        release.set()
        svc.stop()
        store.close()
    print(f"on_tick while a refit is held: median {statistics.median(took) * 1e6:.1f} us, "
          f"p99 {np.percentile(took, 99) * 1e6:.1f} us, max {max(took) * 1e3:.2f} ms")


def bench_demo_disk_backtest() -> None:
    """Forecast each fleet service's disk from 24 h, at 10 instants; truth from the model."""
    model = FleetModel(7, INTERVAL_S)
    errors: list[float] = []
    covered = total = 0
    for name in FLEET_NAMES:
        svc = spec(name)
        for k in range(10):
            now = T0 + (k * 1.7 + 1.0) * DAY
            past = now - DAY + INTERVAL_S * np.arange(ROWS)
            hist = pd.Series(model.disk(past, svc), index=past)
            limit = float(hist.iloc[-1]) + 4.0 + k % 3 * 2.0  # 2 to 4 days ahead
            future = now + 60.0 * np.arange(1, 20 * 1440)
            disk = model.disk(future, svc)
            reach = int(np.argmax(disk >= limit))
            if not (disk >= limit).any() or (np.diff(disk[: reach + 1]) < -1.0).any():
                continue  # the model cleans up first: no arrival to check
            truth = float(future[np.argmax(disk >= limit)] - now)
            fc = forecast_target(Target(f"{name}/disk_percent", limit, True, DAY), hist, now)
            total += 1
            if fc is None or fc.eta_s is None:
                errors.append(1.0)
                continue
            errors.append(abs(fc.eta_s - truth) / truth)
            covered += (fc.low_s or 0.0) <= truth <= (fc.high_s or np.inf)
    print(f"demo disk back-test ({total} forecasts, 2-4 d ahead): median |error| "
          f"{statistics.median(errors):.1%}, max {max(errors):.1%}, range covers truth "
          f"{covered}/{total}")


if __name__ == "__main__":
    bench_on_tick_during_refit()
    bench_fleet_service()
    bench_demo_disk_backtest()
    if "--fleet" in sys.argv:
        sys.exit(0)
    bench_service_model()
    bench_detector_and_baseline()
    bench_forecast_error()
