"""Analytics page (being built)."""

from __future__ import annotations

from typing import Any

import dash
from dash import html


def layout(**_: Any) -> Any:
    """A heading until the page lands."""
    return html.Div([html.H1("Analytics", className="h3")])


dash.register_page(__name__, path="/analytics", name="Analytics", title="tamma-dash: Analytics",
                   layout=layout)
