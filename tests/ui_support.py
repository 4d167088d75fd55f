"""Helpers for testing rendered Dash layouts as the browser receives them."""

from __future__ import annotations

import json
from typing import Any

import plotly


def wire(obj: Any) -> Any:
    """Components (or figures, patches) as the JSON that goes over the wire."""
    return json.loads(json.dumps(obj, cls=plotly.utils.PlotlyJSONEncoder))


def find(node: Any, pred: Any) -> list[dict[str, Any]]:
    """Every component's props (depth first) for which ``pred(props)`` holds."""
    out: list[dict[str, Any]] = []
    if isinstance(node, list):
        for item in node:
            out += find(item, pred)
    elif isinstance(node, dict) and "props" in node:
        if pred(node["props"]):
            out.append(node["props"])
        out += find(node["props"].get("children"), pred)
    return out
