"""Figures from plain dicts without plotly's per-property validation.

``go.Figure(data, layout)`` validates and coerces every property and every array element
(``to_scalar_or_list``): 24 ms for one 720-point sparkline, 250 ms for the overview's twelve
figures, on every page load and theme switch. Our builders only pass plain dicts they build
themselves (templates too: ``theme.template`` is a cached dict), so :func:`figure` skips that
work (``_validate=False``, about 15× faster); ``tests/test_ui_plotfig.py`` checks that every
builder's output passes plotly's validation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go


def figure(data: Sequence[Mapping[str, Any]] = (), layout: Mapping[str, Any] | None = None,
           ) -> go.Figure:
    """A ``go.Figure`` from plain trace and layout dicts, unvalidated (see the module doc)."""
    return go.Figure(data=[dict(t) for t in data], layout=dict(layout or {}), _validate=False)
