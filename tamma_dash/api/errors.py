"""Client errors of the HTTP API: a problem and its fix, as JSON."""

from __future__ import annotations

import json
from typing import Any

from flask import Response


class BadRequest(Exception):
    """A client error with a message that names the problem and the fix."""

    def __init__(self, problem: str, fix: str, status: int = 400) -> None:
        super().__init__(problem)
        self.problem, self.fix, self.status = problem, fix, status


def json_response(doc: Any, status: int = 200) -> Response:
    """Strict JSON (no NaN); anything unusual is rendered as text."""
    return Response(json.dumps(doc, allow_nan=False, default=str), status=status,
                    mimetype="application/json")


def error_response(exc: BadRequest) -> Response:
    return json_response({"error": exc.problem, "fix": exc.fix}, exc.status)
