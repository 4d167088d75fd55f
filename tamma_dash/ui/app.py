"""The Dash app: the shell (navigation, theme, range, connection, alert badge) and its pages."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dash
import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, State, _callback, ctx, dcc, html

from tamma_dash import auth
from tamma_dash.api import routes
from tamma_dash.ui import context, page_scripts
from tamma_dash.ui.a11y import aria
from tamma_dash.ui.alerts_view import announce, toast_body, toast_header
from tamma_dash.ui.first_page import page_container
from tamma_dash.ui.live import same_as_shown
from tamma_dash.ui.theme import status_icon
from tamma_dash.ui.timerange import DEFAULT, PRESETS, query_dict, with_query

if TYPE_CHECKING:
    from tamma_dash.runtime import Runtime

ASSETS = Path(__file__).parent / "assets"
PAGES = ("overview", "service", "providers", "trends", "alerts", "analytics", "capacity")
RANGE_CHOICES = ("15m", "1h", "6h", "24h")
ASSET_MAX_AGE_S = 7 * 24 * 3600


def create_app(rt: Runtime) -> Dash:
    """Build the Dash app, its pages and the API routes on its Flask server."""
    context.set_runtime(rt)
    page_scripts.install()
    app = Dash(
        __name__, title="tamma-dash", use_pages=True, pages_folder="", assets_folder=str(ASSETS),
        update_title="", suppress_callback_exceptions=True, serve_locally=True,
        compress=True,
    )
    app.index_string = app.index_string.replace("<html>", '<html lang="en">', 1)
    # Asset URLs carry ?m=<mtime>, so a browser may keep them: a warm load then reads the 0.5 MB
    # plotly bundle from its cache (and its compiled code) instead of fetching it again.
    app.server.config["SEND_FILE_MAX_AGE_DEFAULT"] = ASSET_MAX_AGE_S
    routes.register(app.server, rt)
    auth.install(app.server, rt.settings)
    for page in PAGES:  # each page registers itself (and its callbacks) once per process
        importlib.import_module(f"tamma_dash.ui.pages.{page}")
    _register_export()
    _give_callbacks(app)
    app.layout = shell
    return app


_CALLBACKS: tuple[dict[str, Any], list[Any], list[str]] | None = None


def _give_callbacks(app: Dash) -> None:
    """Every app gets the page callbacks, not only the first one of the process.

    ``dash.callback`` registers into process-wide lists that the first app to serve a request
    *moves* into itself (``Dash._setup_server`` pops them): a second app in the same process
    (tests, an embedding) would render its pages with no callbacks at all. The lists are kept
    here once, after every page module has registered, and copied into each app.
    """
    global _CALLBACKS
    if _CALLBACKS is None:
        _CALLBACKS = (dict(_callback.GLOBAL_CALLBACK_MAP), list(_callback.GLOBAL_CALLBACK_LIST),
                      list(_callback.GLOBAL_INLINE_SCRIPTS))
    else:  # registered since (a module imported later): keep those too
        _CALLBACKS[0].update(_callback.GLOBAL_CALLBACK_MAP)
        _CALLBACKS[1].extend(c for c in _callback.GLOBAL_CALLBACK_LIST if c not in _CALLBACKS[1])
        _CALLBACKS[2].extend(s for s in _callback.GLOBAL_INLINE_SCRIPTS if s not in _CALLBACKS[2])
    _callback.GLOBAL_CALLBACK_MAP.clear()
    _callback.GLOBAL_CALLBACK_LIST.clear()
    _callback.GLOBAL_INLINE_SCRIPTS.clear()
    callbacks, listed, scripts = _CALLBACKS
    app.callback_map.update(callbacks)
    app._callback_list.extend(listed)
    app._inline_scripts.extend(scripts)


def _register_export() -> None:
    try:
        from tamma_dash.ui.export_server import register_export_callbacks
    except ImportError:  # export arrives with its own module
        return
    register_export_callbacks()


def shell() -> Any:
    """The frame around every page; a function so live data is never frozen at import."""
    rt = context.runtime()
    doc = context.snapshot()
    return html.Div([
        dcc.Location(id="url"),
        dcc.Store(id="tick", data={"seq": 0, "ts": doc["timestamp"]}),
        dcc.Store(id="theme", data="light"),
        html.A("Skip to content", href="#main", className="visually-hidden-focusable"),
        navbar(doc, int(rt.settings.interval_s * 1000)),
        dbc.Alert("Demo data: a simulated Tamma fleet running on this machine.", color="info",
                  className="py-1 px-3 mb-0 rounded-0 small", id="demo-banner",
                  is_open=bool(doc.get("demo"))),
        html.Main(page_container(), id="main", className="container-fluid py-3", tabIndex="-1"),
        alert_toast(),
    ])


def navbar(doc: dict[str, Any], interval_ms: int) -> Any:
    links = [dbc.NavItem(dbc.NavLink(text, href=href, active="exact"))
             for text, href in (("Overview", "/"), ("Alerts", "/alerts"),
                                ("Providers", "/providers"), ("Trends", "/trends"),
                                ("Analytics", "/analytics"), ("Capacity", "/capacity"))]
    return html.Header(html.Nav(dbc.Container([
        dbc.NavbarBrand("tamma-dash", href="/"),
        dbc.Nav(links, className="me-auto", navbar=True),
        html.Div(className="d-flex flex-wrap align-items-center gap-3", children=[
            alert_badge(doc),
            html.Span("Connecting…", id="conn-status", role="status", className="conn small",
                      **aria(data_state="connecting", data_interval_ms=str(interval_ms))),
            html.Fieldset([
                html.Legend("Time range", className="visually-hidden"),
                dbc.RadioItems(
                    id="range-preset", options=[{"label": r, "value": r} for r in RANGE_CHOICES],
                    value=DEFAULT, inline=True, className="btn-group range-preset",
                    inputClassName="btn-check", labelClassName="btn btn-outline-secondary btn-sm",
                    labelCheckedClassName="active",
                ),
            ], className="m-0"),
            dbc.Switch(id="theme-switch", label="Dark mode", value=False, persistence=True,
                       persistence_type="local", className="mb-0"),
        ]),
    ], fluid=True, className="flex-wrap gap-2"),
        className="navbar navbar-expand bg-body-tertiary border-bottom", **aria("Main")))


def alert_badge(doc: dict[str, Any]) -> Any:
    return html.A(id="alert-badge", href="/alerts", className="text-decoration-none",
                  children=badge_content(doc.get("alerts", [])))


def alert_toast() -> Any:
    """Says when a new alert fires (role="alert"); ids already seen live in local storage."""
    return html.Div([
        dbc.Toast(id="alert-toast", header="New alert", is_open=False, dismissable=True,
                  class_name="alert-toast"),
        dcc.Store(id="alerts-seen", storage_type="local"),
    ], className="toast-container position-fixed bottom-0 end-0 p-3")


def badge_content(alerts: list[dict[str, Any]]) -> Any:
    """Count and worst severity, in words as well as colour."""
    active = [a for a in alerts if a.get("state", "firing") in ("firing", "acknowledged")]
    if not active:
        return dbc.Badge(f"{status_icon('healthy')} No active alerts", color="success",
                         className="fs-6")
    order = {"info": 0, "warning": 1, "critical": 2}
    worst = max((a.get("severity", "warning") for a in active), key=lambda s: order.get(s, 1))
    colour = {"critical": "danger", "warning": "warning", "info": "info"}.get(worst, "warning")
    return dbc.Badge(f"{len(active)} active alert{'s' * (len(active) != 1)}, worst {worst}",
                     color=colour, text_color="dark" if colour == "warning" else None,
                     className="fs-6")


@dash.callback(Output("alert-badge", "children"), Output("alert-toast", "is_open"),
               Output("alert-toast", "header"), Output("alert-toast", "children"),
               Output("alerts-seen", "data"), Input("tick", "data"), State("alerts-seen", "data"),
               State("alert-toast", "is_open"), State("alert-badge", "children"),
               prevent_initial_call=True)
def _badge(_: Any, memo: Any, toast_open: bool | None, badge: Any = None) -> tuple[Any, ...]:
    """The badge when it changed; a toast only for alerts that started firing since last seen."""
    alerts = context.snapshot().get("alerts", [])
    shown, new_memo = announce(alerts, memo, bool(toast_open))
    content = badge_content(alerts)
    content = dash.no_update if same_as_shown(content, badge) else content
    if shown is None:
        return content, dash.no_update, dash.no_update, dash.no_update, (
            new_memo if new_memo != memo else dash.no_update)
    return content, True, toast_header(shown), toast_body(shown), new_memo


@dash.callback(
    Output("url", "search"), Output("range-preset", "value"),
    Input("range-preset", "value"), Input("url", "search"),
)
def _sync_range(preset: str | None, search: str | None) -> tuple[Any, Any]:
    """The preset buttons and the URL are one state; the URL wins on load (shared links)."""
    query = query_dict(search)
    if ctx.triggered_id == "range-preset" and preset in PRESETS:
        return with_query(search, range=preset, start=None, end=None, t=None), dash.no_update
    shown = query.get("range") if query.get("range") in PRESETS else None
    if shown is None and ("start" in query or "t" in query):
        return dash.no_update, None  # a zoomed range or an alert's moment: no preset selected
    return dash.no_update, shown or DEFAULT


# The figures were drawn in the theme the Store holds: an unchanged theme (every light load)
# leaves the Store alone, or each page would redraw all of its figures once it mounted.
dash.clientside_callback(
    """function(dark, current) {
        const theme = dark ? 'dark' : 'light';
        document.documentElement.setAttribute('data-bs-theme', theme);
        return theme === current ? window.dash_clientside.no_update : theme;
    }""",
    Output("theme", "data"), Input("theme-switch", "value"), State("theme", "data"),
)

__all__ = ["State", "create_app"]
