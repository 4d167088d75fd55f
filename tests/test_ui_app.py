"""The Dash app factory: every app built in a process gets the page callbacks."""

from __future__ import annotations

from pathlib import Path

from tamma_dash.config import Settings


def _outputs(client: object) -> set[str]:
    deps = client.get("/_dash-dependencies").get_json()  # type: ignore[attr-defined]
    return {d["output"] for d in deps}


def test_a_second_app_in_the_process_still_has_every_callback(tmp_path: Path) -> None:
    # Dash moves the process-wide `dash.callback` lists into the first app that serves a
    # request; before the fix a second app rendered its pages with no callback at all.
    from tamma_dash.runtime import build
    from tamma_dash.ui.app import create_app

    settings = Settings(data_dir=tmp_path / "data", demo=False, host_metrics=False,
                        interval_s=0.5, retention_s=600.0)
    rt = build(settings, "run")
    try:
        first = create_app(rt).server.test_client()
        assert first.get("/").status_code == 200
        seen_first = _outputs(first)
        second = create_app(rt).server.test_client()
        page = second.get("/").get_data(as_text=True)
        seen_second = _outputs(second)
    finally:
        rt.stop()
    assert any("alert-badge.children" in o for o in seen_first)
    assert any("kpis.children" in o for o in seen_first)
    assert seen_second == seen_first
    # the clientside theme callback's function is inlined in the page of every app
    assert "data-bs-theme" in page


def test_assets_are_cacheable_because_their_urls_change_with_them(tmp_path: Path) -> None:
    import re

    from tamma_dash.runtime import build
    from tamma_dash.ui.app import ASSET_MAX_AGE_S, create_app

    settings = Settings(data_dir=tmp_path / "data", demo=False, host_metrics=False,
                        interval_s=0.5, retention_s=600.0)
    rt = build(settings, "run")
    try:
        client = create_app(rt).server.test_client()
        page = client.get("/").get_data(as_text=True)
        src = re.search(r'src="(/assets/plotly-gl2d[^"]+)"', page)
        assert src and "?m=" in src.group(1)  # the URL changes when the file does
        answer = client.get(src.group(1))
    finally:
        rt.stop()
    assert answer.status_code == 200
    assert answer.cache_control.max_age == ASSET_MAX_AGE_S
