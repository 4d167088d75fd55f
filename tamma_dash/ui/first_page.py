"""The page the browser opened, inside the first layout response instead of behind a callback.

Dash Pages renders a page from a routing callback that the page container's ``dcc.Location``
fires once it has mounted and found ``pathname`` unset: on a first load that is one more round
trip, and the page's components mount only after it (about 0.3 s of a cold load here). The
layout request carries the address the browser opened (its ``Referer``, same origin). When the
container's Location already holds that pathname and search, it has nothing to report on mount,
the routing callback (``prevent_initial_call``) stays quiet, and the page arrives with the
layout. Navigation afterwards goes through Dash's router as before; without a usable Referer
(stripped by a proxy, another origin, a page Dash does not know) the container is Dash's own.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import dash
import flask
from dash import dcc, html
from dash._pages import _parse_query_string, _path_to_page  # the router's own matching
from dash.dash import _ID_CONTENT, _ID_DUMMY, _ID_LOCATION, _ID_STORE  # the ids it reads/writes


def opened_address() -> tuple[str, str] | None:
    """(pathname, search) of the page that asked for the layout, or None if not known."""
    if not flask.has_request_context():
        return None
    referrer = flask.request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.netloc != flask.request.host or not parts.path:
        return None  # another origin: not a page of ours
    return parts.path, f"?{parts.query}" if parts.query else ""


def page_container() -> Any:
    """Dash's page container, holding the opened page when the request says which it is."""
    address = opened_address()
    if address is None:
        return dash.page_container
    pathname, search = address
    page, variables = _path_to_page(dash.strip_relative_path(pathname))
    if not page:  # Dash's router answers unknown paths (its 404)
        return dash.page_container
    layout, title = page.get("layout", ""), page["title"]
    arguments = {**(variables or {}), **_parse_query_string(search)}
    content = layout(**arguments) if callable(layout) else layout
    if callable(title):
        title = title(**(variables or {}))
    return html.Div([
        dcc.Location(id=_ID_LOCATION, refresh="callback-nav", pathname=pathname,
                     search=search),
        html.Div(content, id=_ID_CONTENT, disable_n_clicks=True),
        dcc.Store(id=_ID_STORE, data={"title": title}),
        html.Div(id=_ID_DUMMY, disable_n_clicks=True),
    ])
