"""The alerting HTTP API: list, groups, history, stats, acknowledge, resolve, webhook in."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, g, request

from tamma_dash.alerts.engine import STATES
from tamma_dash.alerts.lifecycle import AlertNotFound, AlertStateError
from tamma_dash.alerts.receiver import WebhookPayloadError, parse_alertmanager_webhook
from tamma_dash.alerts.remote import ActionPending
from tamma_dash.api.errors import BadRequest, error_response, json_response

if TYPE_CHECKING:
    from tamma_dash.alerts.engine import AlertManager
    from tamma_dash.alerts.remote import RemoteAlerts
    from tamma_dash.runtime import Runtime

MAX_COMMENT = 2000
MAX_ACTOR = 100


def register(server: Flask, rt: Runtime) -> None:
    """Attach the /api/alerts routes to ``server``."""
    bp = Blueprint("tamma_alerts", __name__)

    bp.register_error_handler(BadRequest, error_response)

    @bp.get("/api/alerts")
    def list_alerts() -> Response:
        state = request.args.get("state", "all")
        if state not in STATES:
            raise BadRequest(f"state {state!r} is unknown", f"use one of {', '.join(STATES)}")
        return json_response({"state": state, "alerts": _manager(rt).list(state, _limit())})

    @bp.get("/api/alerts/groups")
    def groups() -> Response:
        return json_response({"groups": _manager(rt).groups()})

    @bp.get("/api/alerts/history")
    def history() -> Response:
        args = request.args
        try:
            rows = _manager(rt).history(
                service=args.get("service") or None, severity=args.get("severity") or None,
                start=_num("start"), end=_num("end"), limit=_limit())
        except ValueError as exc:
            raise BadRequest(str(exc), "severity is one of info, warning, critical") from None
        return json_response({"alerts": rows})

    @bp.get("/api/alerts/stats")
    def stats() -> Response:
        return json_response(_manager(rt).stats())

    @bp.post("/api/alerts/<int:alert_id>/ack")
    def ack(alert_id: int) -> Response:
        return _act(_manager(rt), alert_id, "ack")

    @bp.post("/api/alerts/<int:alert_id>/resolve")
    def resolve(alert_id: int) -> Response:
        return _act(_manager(rt), alert_id, "resolve")

    @bp.post("/api/alerts/webhook")
    def webhook() -> Response:
        try:
            found = parse_alertmanager_webhook(request.get_data(cache=False))
        except WebhookPayloadError as exc:
            raise BadRequest(str(exc), "send Alertmanager's webhook JSON (version \"4\")",
                                exc.http_status) from None
        try:
            changed = _manager(rt).ingest(found, actor=_who(None) or "alertmanager")
        except ActionPending as exc:
            raise BadRequest(str(exc), "it is applied when the collector runs again",
                                202) from None
        return json_response({"received": len(found), "changed": changed})

    server.register_blueprint(bp)


def _manager(rt: Runtime) -> AlertManager | RemoteAlerts:
    if rt.alerts is None:
        raise BadRequest("alerting is not available in this process",
                            "start tamma-dash with `run`, or `collect` beside `serve`", 503)
    manager: AlertManager | RemoteAlerts = rt.alerts
    return manager


def _act(manager: AlertManager | RemoteAlerts, alert_id: int, action: str) -> Response:
    """Acknowledge or resolve with an actor and a comment (JSON body or form fields)."""
    body = _body()
    actor = _who(body.get("actor"))
    if not actor:
        raise BadRequest("no actor given", 'send {"actor": "your name", "comment": "..."}')
    comment = str(body.get("comment") or "")[:MAX_COMMENT]
    try:
        if action == "ack":
            doc = manager.acknowledge(alert_id, actor, comment)
        else:
            doc = manager.resolve(alert_id, actor, comment)
    except AlertNotFound:
        raise BadRequest(f"no alert with id {alert_id}",
                            "GET /api/alerts?state=all lists them", 404) from None
    except AlertStateError as exc:
        raise BadRequest(str(exc), "only pending, firing or acknowledged alerts change",
                            409) from None
    except ActionPending as exc:
        raise BadRequest(str(exc), "it is applied when the collector runs again", 202) from None
    return json_response(doc)


def _who(given: Any) -> str:
    """The signed-in user when auth is on (it wins); otherwise the actor the client names."""
    user = g.get("tamma_user")
    if user:
        return str(user)[:MAX_ACTOR]
    return str(given).strip()[:MAX_ACTOR] if given else ""


def _body() -> dict[str, Any]:
    if request.is_json:
        doc = request.get_json(silent=True)
        if not isinstance(doc, dict):
            raise BadRequest("body is not a JSON object",
                                'send {"actor": "your name", "comment": "..."}')
        return doc
    return dict(request.form)


def _num(name: str) -> float | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise BadRequest(f"{name!r} is not a number: {raw!r}",
                            f"pass {name} as epoch seconds, e.g. {name}=1767225600")
    return value


def _limit() -> int:
    raw = request.args.get("limit", "500")
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
        raise BadRequest(f"limit {raw!r} is not a whole number from 1 to 10000",
                            "pass e.g. limit=100")
    return int(raw)


