"""JSON API, SSE stream, /metrics and /healthz on the Dash app's Flask server."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from typing import TYPE_CHECKING, Any

import numpy as np
from flask import Blueprint, Flask, Response, request, stream_with_context
from prometheus_client import CONTENT_TYPE_LATEST
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RoutingException

from tamma_dash.api import alert_routes
from tamma_dash.api.errors import BadRequest
from tamma_dash.api.snapshot import health_metrics
from tamma_dash.api.stream import gzip_stream, sse_events

if TYPE_CHECKING:
    from tamma_dash.runtime import Runtime

MAX_FAULT_BODY = 4096
DEFAULT_RANGE_S = 3600.0


def snapshot(rt: Runtime) -> dict[str, Any]:
    """The HealthMetrics document for this instant."""
    s = rt.settings
    return health_metrics(
        rt.services,
        rt.store.latest(),
        thresholds=s.thresholds,
        now=rt.clock(),
        interval_s=s.interval_s,
        demo=rt.demo,
        alerts=rt.alerts.active() if rt.alerts is not None else (),
    )


def register(server: Flask, rt: Runtime) -> None:
    """Attach every route to ``server``."""
    bp = Blueprint("tamma_api", __name__)

    @bp.errorhandler(BadRequest)
    def _bad(exc: BadRequest) -> Response:
        return _json({"error": exc.problem, "fix": exc.fix}, exc.status)

    @bp.get("/api/health")
    def api_health() -> Response:
        return _json(snapshot(rt))

    @bp.get("/api/series")
    def api_series() -> Response:
        return _json(rt.store.series())

    @bp.get("/api/history")
    def api_history() -> Response:
        return history(rt)

    @bp.route("/api/demo/faults", methods=["GET", "POST"])
    def api_faults() -> Response:
        return faults(rt)

    @bp.get("/health-stream")
    def health_stream() -> Response:
        return stream(rt)

    @bp.get("/metrics")
    def metrics() -> Response:
        body = rt.metrics.render() if rt.metrics is not None else b""
        return Response(
            body,
            mimetype=CONTENT_TYPE_LATEST.split(";")[0],
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )

    @bp.get("/healthz")
    def healthz() -> Response:
        doc, code = self_health(rt)
        return Response(json.dumps(doc), status=code, mimetype="application/health+json")

    @bp.route("/api", methods=ALL_METHODS)
    @bp.route("/api/", methods=ALL_METHODS)
    @bp.route("/api/<path:rest>", methods=ALL_METHODS)
    def api_unknown(rest: str = "") -> Response:
        return unknown_endpoint(server, request.path, request.method)

    server.register_blueprint(bp)
    alert_routes.register(server, rt)


CONVERTER = re.compile(r"<\w+:(\w+)>")  # <int:alert_id> -> <alert_id>
NAME_ONLY = r"<\1>"
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def unknown_endpoint(server: Flask, path: str, method: str) -> Response:
    """404 (or 405) as JSON for a path under /api/ that no route serves, listing those that do.

    Without it a mistyped API path fell through to the dashboard's page router: 200 and HTML.
    """
    routes = sorted(
        (str(rule.rule), sorted(m for m in (rule.methods or ()) if m not in {"HEAD", "OPTIONS"}))
        for rule in server.url_map.iter_rules()
        if str(rule.rule).startswith("/api/") and rule.endpoint != "tamma_api.api_unknown"
    )
    listed = ", ".join(f"{'/'.join(methods)} {CONVERTER.sub(NAME_ONLY, rule)}"
                       for rule, methods in routes)
    adapter = server.url_map.bind("localhost")
    allowed = [m for m in ("GET", "POST") if m != method and _serves(adapter, path, m)]
    if allowed:
        problem = f"{method} {path} is not allowed"
        return _json({"error": problem, "fix": f"use {' or '.join(allowed)}"}, 405)
    return _json({"error": f"no API endpoint {method} {path}", "fix": f"use one of: {listed}"},
                 404)


def _serves(adapter: Any, path: str, method: str) -> bool:
    """Whether a route other than the catch-all answers ``method path``."""
    try:
        endpoint, _ = adapter.match(path, method=method)
    except (HTTPException, RoutingException):  # NotFound, MethodNotAllowed, redirects
        return False
    return bool(endpoint != "tamma_api.api_unknown")


def history(rt: Runtime) -> Response:
    args = request.args
    key = args.get("series", "")
    if not key:
        raise BadRequest(
            "missing parameter 'series'", "pass series=<service/metric>; GET /api/series lists them"
        )
    if key not in set(rt.store.series()):
        raise BadRequest(f"unknown series '{key}'", "GET /api/series lists the known series", 404)
    now = rt.clock()
    end = _float_arg("end", now)
    start = _float_arg("start", end - DEFAULT_RANGE_S)
    if start > end:
        raise BadRequest(f"start ({start:g}) is after end ({end:g})", "swap start and end")
    ts, values = rt.store.points(key, start, end)
    max_points = int(_float_arg("max_points", 0))
    if 0 < max_points < len(ts):
        ts, values = downsample(ts, values, max_points)
    fmt = args.get("format", "json")
    if fmt == "csv":
        return _csv(key, start, end, ts, values)
    if fmt != "json":
        raise BadRequest(f"unknown format '{fmt}'", "use format=json (default) or format=csv")
    points = [[round(t, 3), v] for t, v in zip(ts, values, strict=True)]
    return _json({"series": key, "start": start, "end": end, "demo": rt.demo, "points": points})


def downsample(ts: list[float], values: list[float], n_out: int) -> tuple[list[float], list[float]]:
    """MinMaxLTTB to ``n_out`` points, keeping the shape (peaks and dips) of the series."""
    from tsdownsample import MinMaxLTTBDownsampler

    n_out = max(n_out, 3)
    x = np.asarray(ts, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    idx = MinMaxLTTBDownsampler().downsample(x, y, n_out=n_out)
    return x[idx].tolist(), y[idx].tolist()


def faults(rt: Runtime) -> Response:
    if rt.mode == "serve":
        raise BadRequest(
            "this is a web-only process (tamma-dash serve / gunicorn): the demo fleet runs in "
            "the collector process, so faults cannot be listed or injected here",
            "inject faults with `tamma-dash run` (collector, demo and web in one process)",
            409,
        )
    if rt.fleet is None:
        raise BadRequest(
            "the demo fleet is not running in this process",
            "start with `tamma-dash run` (demo on, the default) to inject faults",
            404,
        )
    if request.method == "GET":
        return _json({"demo": True, "faults": rt.fleet.faults()})
    if (request.content_length or 0) > MAX_FAULT_BODY:
        raise BadRequest(
            "request body too large", f"send at most {MAX_FAULT_BODY} bytes of JSON", 413
        )
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest(
            "body is not a JSON object",
            'send {"service": "api", "kind": "latency", "duration_s": 60}',
        )
    duration = body.get("duration_s", 60)
    if isinstance(duration, bool) or not isinstance(duration, (int, float)):
        raise BadRequest("duration_s must be a number of seconds", 'e.g. "duration_s": 60')
    try:
        fault = rt.fleet.inject(
            str(body.get("service", "")), str(body.get("kind", "")), float(duration)
        )
    except ValueError as exc:
        raise BadRequest(
            str(exc), "see GET /api/demo/faults and the README for valid values"
        ) from None
    return _json(fault, 201)


def stream(rt: Runtime) -> Response:
    retry_ms = int(max(1000, min(5000, rt.settings.interval_s * 1000)))
    events = sse_events(rt.signal, lambda: snapshot(rt), retry_ms=retry_ms)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    if "gzip" in request.headers.get("Accept-Encoding", "").lower():
        headers["Content-Encoding"] = "gzip"
        body: Any = gzip_stream(events)
    else:
        body = events
    return Response(stream_with_context(body), mimetype="text/event-stream", headers=headers)


def self_health(rt: Runtime) -> tuple[dict[str, Any], int]:
    """Our own health+json: is the pipeline ticking, is the store writing."""
    stats = rt.store.stats()
    now = rt.clock()
    age = None if stats.newest_ts is None else now - stats.newest_ts
    stale = age is None or age > 3 * rt.settings.interval_s + 2
    status = "fail" if stale else "warn" if not stats.persist_ok else "pass"
    checks = {
        "store:persist": [
            {
                "componentType": "datastore",
                "observedValue": stats.pending_ticks,
                "observedUnit": "pending ticks",
                "status": "pass" if stats.persist_ok else "warn",
                "output": stats.persist_error or "",
            }
        ],
        "pipeline:lastTickAge": [
            {
                "componentType": "component",
                "observedUnit": "s",
                "observedValue": None if age is None else round(age, 3),
                "status": "fail" if stale else "pass",
            }
        ],
        "store:series": [
            {
                "componentType": "datastore",
                "observedValue": stats.series,
                "observedUnit": "series",
                "status": "pass",
            }
        ],
    }
    doc = {
        "status": status,
        "serviceId": "tamma-dash",
        "description": "tamma-dash " + rt.mode,
        "demo": rt.demo,
        "checks": checks,
    }
    return doc, 503 if status == "fail" else 200


def _float_arg(name: str, default: float) -> float:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(
            f"'{name}' is not a number: {raw!r}",
            f"pass {name} as epoch seconds, e.g. {name}=1767225600",
        ) from None
    if not math.isfinite(value):
        raise BadRequest(f"'{name}' must be finite", f"pass {name} as epoch seconds")
    return value


def _json(doc: Any, status: int = 200) -> Response:
    return Response(json.dumps(doc, allow_nan=False), status=status, mimetype="application/json")


def _csv(key: str, start: float, end: float, ts: list[float], values: list[float]) -> Response:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["timestamp", "value"])
    writer.writerows((f"{t:.3f}", repr(v)) for t, v in zip(ts, values, strict=True))
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("_")
    filename = f"{name}_{int(start)}-{int(end)}.csv"
    return Response(
        buf.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
