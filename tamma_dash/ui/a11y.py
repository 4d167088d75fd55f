"""Accessibility attributes for Dash html components (typed, so mypy accepts the ** spread)."""

from __future__ import annotations

from typing import Any


def aria(label: str | None = None, **attrs: str) -> dict[str, Any]:
    """``**aria("Main")`` -> aria-label; other keywords become ``aria-<name>`` or data-*."""
    out: dict[str, Any] = {"aria-label": label} if label is not None else {}
    for key, value in attrs.items():
        name = key.replace("_", "-")
        out[name if name.startswith("data-") else f"aria-{name}"] = value
    return out
