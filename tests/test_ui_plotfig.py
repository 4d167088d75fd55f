"""Every figure the pages build is valid plotly, though built without plotly's validation."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import pytest

from tamma_dash.ui.plotfig import figure
from tests.conftest import Live, wait_for
from tests.ui_support import find, wire


def test_figure_skips_validation_but_keeps_what_it_was_given() -> None:
    fig = figure([dict(type="scatter", x=[1, 2], y=[3, 4], bogus=1)], dict(title="t"))
    assert fig.to_plotly_json()["data"][0]["bogus"] == 1  # not checked here: the test below is
    with pytest.raises(ValueError, match="bogus"):
        go.Figure(fig.to_plotly_json())


def test_every_page_figure_passes_plotlys_validation(live: Live) -> None:
    from tamma_dash.ui.app import create_app
    from tamma_dash.ui.pages import analytics, capacity, overview, providers, service, trends

    rt: Any = live.rt
    wait_for(lambda: rt.store.stats().newest_ts is not None, timeout=60)
    app = create_app(rt)
    pages: list[tuple[str, Any]] = [("overview", overview.layout), ("providers", providers.layout),
                                    ("analytics", lambda: analytics.layout(range="1h")),
                                    ("capacity", capacity.layout),
                                    ("trends", lambda: trends.layout(
                                        series="api/response_time_ms,database/cpu_percent",
                                        compare="day"))]
    pages += [(f"service {s.name}", lambda n=s.name: service.layout(name=n))
              for s in rt.services]
    seen = 0
    with app.server.test_request_context():
        for label, build in pages:
            graphs = find(wire(build()), lambda p: isinstance(p.get("figure"), dict))
            for fig in (g["figure"] for g in graphs):
                try:
                    go.Figure(fig)  # validates every property and array
                except ValueError as err:
                    raise AssertionError(f"{label}: invalid figure: {err}") from err
                seen += 1
    assert seen >= 1 + 3 * len(rt.services)  # the map and the service charts at least
