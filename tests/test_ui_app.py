"""The Dash app factory: every app built in a process gets the page callbacks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tamma_dash.config import Settings
from tamma_dash.runtime import Runtime, build
from tamma_dash.ui.app import ASSET_MAX_AGE_S, create_app
from tests.ui_support import find


@contextmanager
def _runtime(tmp_path: Path) -> Iterator[Runtime]:
    """A runtime without the demo fleet (nothing to poll), stopped afterwards."""
    rt = build(Settings(data_dir=tmp_path / "data", demo=False, host_metrics=False,
                        interval_s=0.5, retention_s=600.0), "run")
    try:
        yield rt
    finally:
        rt.stop()


def _by_id(layout: object, wanted: str) -> dict[str, Any]:
    """Props of the component with id ``wanted`` in a layout's JSON."""
    return find(layout, lambda p: p.get("id") == wanted)[0]


def _outputs(client: object) -> set[str]:
    deps = client.get("/_dash-dependencies").get_json()  # type: ignore[attr-defined]
    return {d["output"] for d in deps}


def test_a_second_app_in_the_process_still_has_every_callback(tmp_path: Path) -> None:
    # Dash moves the process-wide `dash.callback` lists into the first app that serves a
    # request; before the fix a second app rendered its pages with no callback at all.
    with _runtime(tmp_path) as rt:
        first = create_app(rt).server.test_client()
        assert first.get("/").status_code == 200
        seen_first = _outputs(first)
        second = create_app(rt).server.test_client()
        page = second.get("/").get_data(as_text=True)
        seen_second = _outputs(second)
    assert any("alert-badge.children" in o for o in seen_first)
    assert any("kpis.children" in o for o in seen_first)
    assert seen_second == seen_first
    # the clientside theme callback's function is inlined in the page of every app
    assert "data-bs-theme" in page


def test_assets_are_cacheable_because_their_urls_change_with_them(tmp_path: Path) -> None:
    import re

    with _runtime(tmp_path) as rt:
        client = create_app(rt).server.test_client()
        page = client.get("/").get_data(as_text=True)
        src = re.search(r'src="(/assets/plotly-gl2d[^"]+)"', page)
        assert src and "?m=" in src.group(1)  # the URL changes when the file does
        answer = client.get(src.group(1))
    assert answer.status_code == 200
    assert answer.cache_control.max_age == ASSET_MAX_AGE_S


def test_the_opened_page_comes_with_the_first_layout_and_the_router_stays_quiet(
        tmp_path: Path) -> None:
    # The layout request's Referer names the page the browser opened: the page is in the
    # layout, and the container's Location already holds that address (so it does not report
    # it on mount, which is what fires Dash's routing callback: one round trip saved).
    with _runtime(tmp_path) as rt:
        client = create_app(rt).server.test_client()
        client.get("/trends?range=6h")
        opened = client.get("/_dash-layout", headers={
            "Referer": "http://localhost/trends?range=6h"}).get_json()
        service = client.get("/_dash-layout", headers={
            "Referer": "http://localhost/service/queue-9"}).get_json()
        bare = client.get("/_dash-layout").get_json()
        elsewhere = client.get("/_dash-layout", headers={
            "Referer": "http://example.org/service/api"}).get_json()
        unknown = client.get("/_dash-layout", headers={
            "Referer": "http://localhost/no/such/page"}).get_json()
    location = _by_id(opened, "_pages_location")
    assert location["pathname"] == "/trends"
    assert location["search"] == "?range=6h"
    content = _by_id(opened, "_pages_content")
    assert find(content.get("children"), lambda p: p.get("id") == "trends-desc")
    assert '"6h"' in json.dumps(content)  # the query reached the page's layout
    # a path template's variable reaches the page too (no such service here: it says so)
    assert "queue-9" in json.dumps(_by_id(service, "_pages_content"))
    assert _by_id(opened, "_pages_store")["data"]["title"]
    for layout in (bare, elsewhere, unknown):  # Dash's own container: its router renders
        assert _by_id(layout, "_pages_location").get("pathname") is None
        assert _by_id(layout, "_pages_content").get("children") is None


def test_page_scripts_drop_the_polyfill_and_bring_the_graph_chunk_with_dcc() -> None:
    from tamma_dash.ui.page_scripts import trimmed

    index = ('<script src="/_dash-component-suites/dash/deps/polyfill@7.v4_4_1m1.12.1.min.js">'
             '</script>\n<script src="/_dash-component-suites/dash/deps/react@18.v4_4_1m1.3.1.min'
             '.js"></script>\n<script src="/p/_dash-component-suites/dash/dcc/dash_core_componen'
             'ts.v4_4_1m17.js"></script>\n</head>')
    out = trimmed(index, "/p/")
    assert "polyfill" not in out and "react@18" in out
    assert ('dash_core_components.v4_4_1m17.js"></script>\n<script src="/p/_dash-component-suite'
            's/dash/dcc/async-graph.v4_4_1m17.js"></script>') in out
    assert '<link rel="preload" href="/p/_dash-layout" as="fetch" crossorigin>' in out
    assert '<link rel="preload" href="/p/_dash-dependencies" as="fetch" crossorigin>' in out
    assert out.index("preload") < out.index("</head>")
    assert trimmed("<p>no scripts</p>") == "<p>no scripts</p>"


def test_the_served_page_has_regenerator_runtime_instead_of_the_polyfill(tmp_path: Path) -> None:
    import re

    with _runtime(tmp_path) as rt:
        client = create_app(rt).server.test_client()
        page = client.get("/").get_data(as_text=True)
        scripts = re.findall(r'<script src="([^"]+)"', page)
        chunk = client.get(next(s for s in scripts if "async-graph" in s))
        runtime = client.get(next(s for s in scripts if "regenerator-runtime" in s))
    assert not any("polyfill" in s for s in scripts)
    assert 'href="/_dash-layout" as="fetch"' in page  # fetched while the scripts run
    assert chunk.status_code == 200 and chunk.cache_control.max_age  # stamped: cacheable
    assert runtime.status_code == 200 and b"regeneratorRuntime = runtime" in runtime.data
