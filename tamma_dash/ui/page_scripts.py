"""The scripts of the page Dash serves, trimmed to what a current browser needs.

Measured on a cold overview load (Long Animation Frames, headless Chromium):
- Dash puts ``@babel/polyfill`` (core-js 2 and regenerator-runtime, 99 kB) before everything
  else. Evaluating it took 220-240 ms of the main thread, and every browser this dashboard is
  meant for has the features core-js 2 fills in. Dash's bundles still call the global
  ``regeneratorRuntime`` (its lazy loading of components, for one), so that alone is served:
  ``assets/regenerator-runtime-0.14.1.js`` (MIT, 25 kB, 7 kB compressed).
- ``dcc.Graph`` is a lazily loaded chunk (``async-graph.js``): the renderer asks for it only
  once a page with a graph has rendered, one more round trip before any chart can draw. It is
  on the page from the start instead; webpack then finds the chunk installed and never fetches
  it. The URL carries the same version stamp as the dcc bundle beside it, so browsers may keep
  it like the bundle (Dash serves stamped URLs with a year's max-age).
- The layout and the callback graph are preloaded (see ``PRELOADED``).
"""

from __future__ import annotations

import re
from functools import cache

from dash import get_app, hooks

POLYFILL = re.compile(r'\s*<script src="[^"]*/dash/deps/polyfill@[^"]*"></script>')
# Asked for by the renderer once every script has run (~1 s into a cold load): fetched while
# the scripts download and run instead, the layout (the page, built on the server) is there
# when the renderer asks. A same-origin ``fetch`` matches a ``crossorigin`` preload.
PRELOADED = ("_dash-layout", "_dash-dependencies")
DCC = re.compile(r'<script src="([^"]*/dash/dcc/)dash_core_components(\.v[^"/]*?)?\.js"></script>')


def trimmed(index: str, prefix: str = "/") -> str:
    """``index`` (Dash's page) without the polyfill, with the graph chunk after dcc, and the
    layout and callback graph preloaded (``prefix``: Dash's requests_pathname_prefix)."""
    index = POLYFILL.sub("", index, count=1)
    preload = "".join(f'<link rel="preload" href="{prefix}{path}" as="fetch" crossorigin>\n'
                      for path in PRELOADED)
    index = index.replace("</head>", f"{preload}</head>", 1)

    def with_graph(match: re.Match[str]) -> str:
        folder, stamp = match.group(1), match.group(2) or ""
        return f'{match.group(0)}\n<script src="{folder}async-graph{stamp}.js"></script>'

    return DCC.sub(with_graph, index, count=1)


@cache
def install() -> None:
    """Trim the page of every Dash app in this process (Dash's index hooks are global); once."""
    hooks.index()(lambda index: trimmed(index, get_app().config.requests_pathname_prefix))
