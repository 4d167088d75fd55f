"""LLM providers and git platforms: API health, success rates, rate limits and their pace."""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, dcc, html

from tamma_dash.ui import context
from tamma_dash.ui import providers_view as pv
from tamma_dash.ui import service_view as sv
from tamma_dash.ui.a11y import aria
from tamma_dash.ui.export_server import export_page_controls
from tamma_dash.ui.live_charts import register_live_charts

PAGE = "providers"
CHART = {"type": "chart", "page": PAGE, "chart": ALL}


def cards(doc: dict[str, Any]) -> tuple[Any, Any]:
    """The LLM provider cards and the git platform cards for the newest snapshot."""
    apis = doc["system"]["externalApis"]
    llm = pv.names_by_kind(apis, "provider")
    git = pv.names_by_kind(apis, "git")
    outlook = pv.paces([*llm, *git], apis, context.frame, context.now())
    return (pv.platform_cards(llm, apis, outlook, "No LLM providers are configured."),
            pv.platform_cards(git, apis, outlook, "No git platforms are configured."))


def layout(**query: str) -> Any:
    """Cards per LLM provider and git platform, then their charts over the shared range."""
    rt = context.runtime()
    doc = context.snapshot()
    now = context.now()
    apis = doc["system"]["externalApis"]
    charts = (pv.platform_charts("llm", "LLM providers", pv.names_by_kind(apis, "provider"))
              + pv.platform_charts("git", "Git platforms", pv.names_by_kind(apis, "git")))
    plan = sv.plan_view(query, now, rt.settings.interval_s)
    frame, last = sv.initial_frame(context.frame, [k for c in charts for k in c.keys], plan, now)
    figures, state = sv.build_figures(frame, charts, plan, "light", last)
    panels = [sv.chart_panel(PAGE, c, figures[c.group],
                             sv.describe_chart(frame, c),
                             sv.chart_filename(c, plan)) for c in charts]
    llm_cards, git_cards = cards(doc)
    return html.Div([
        html.H1("Providers and platforms", className="h4 mb-3"),
        html.Section([html.H2("LLM providers", className="h5"),
                      html.Div(llm_cards, id="llm-cards")], **aria("LLM providers")),
        html.Section([html.H2("Git platforms", className="h5 mt-4"),
                      html.Div(git_cards, id="git-cards")], **aria("Git platforms")),
        html.Div([html.H2("History", className="h5 m-0"), export_page_controls(PAGE)],
                 className="d-flex flex-wrap justify-content-between align-items-center mt-4"),
        html.P(f"Rate-limit pace is measured over the last {pv.PACE_WINDOW_S / 60:g} minutes.",
               className="small text-body-secondary"),
        dbc.Row(panels, className="g-3"),
        dcc.Store(id="providers-live", data=state),
    ])


register_live_charts(PAGE, "providers-live")


@dash.callback(
    Output("llm-cards", "children"), Output("git-cards", "children"), Input("tick", "data"),
    prevent_initial_call=True,
)
def refresh_cards(_tick: Any) -> tuple[Any, Any]:
    """Cards (status, rate limits, pace) from the newest snapshot."""
    return cards(context.snapshot())


dash.register_page(__name__, path="/providers", name="Providers",
                   title="tamma-dash · providers and platforms", order=2, layout=layout)
