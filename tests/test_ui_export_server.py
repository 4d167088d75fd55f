"""Server-side export: CSV of exactly the traces shown, file names, zips, real kaleido renders."""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Iterator
from typing import Any

import numpy as np
import plotly.graph_objects as go
import pytest

from tamma_dash.ui.export_server import (
    ExportError,
    KaleidoSession,
    chart_download,
    chart_filename,
    figure_data_csv,
    figure_image,
    find_browser,
    page_zip,
)

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z
X = ["2023-11-14T22:13:20.000", "2023-11-14T22:13:25.000", "2023-11-14T22:13:30.000"]
PNG = b"\x89PNG\r\n\x1a\n"


def shown() -> dict[str, Any]:
    """A figure as the browser holds it: two series (different x), a compare line, a band."""
    return {"data": [
        {"type": "scatter", "name": "api · response time", "x": X, "y": [84.5, None, 90.0],
         "meta": {"key": "api/response_time_ms", "role": "series"}},
        {"type": "scatter", "name": "api · response time (previous day)", "x": X,
         "y": [1.0, 2.0, 3.0], "meta": {"key": "api/response_time_ms", "role": "compare"}},
        {"type": "scattergl", "name": "worker · CPU", "x": [*X[1:], "2023-11-14T22:13:35.000"],
         "y": [12.25, 0.1, 7.0], "meta": {"key": "worker/cpu_percent", "role": "series"}},
        {"type": "scatter", "name": "band", "x": X, "y": [0, 0, 0], "meta": {"role": "band"}},
    ], "layout": {"title": {"text": "Trends"}}}


def test_csv_has_a_column_per_series_trace_over_the_union_of_x() -> None:
    assert figure_data_csv(shown()) == (
        "timestamp,api · response time,worker · CPU\n"
        "2023-11-14T22:13:20.000Z,84.5,\n"
        "2023-11-14T22:13:25.000Z,,12.25\n"
        "2023-11-14T22:13:30.000Z,90.0,0.1\n"
        "2023-11-14T22:13:35.000Z,,7.0\n"
    )


def test_csv_reads_plotly_typed_arrays_and_keeps_duplicate_names_apart() -> None:
    y = np.array([1.5, np.nan, 3.0])
    typed = {"dtype": "f8", "bdata": base64.b64encode(y.tobytes()).decode()}
    fig = {"data": [{"name": "a", "x": X, "y": typed, "meta": {"role": "series"}},
                    {"name": "a", "x": X[:1], "y": [9], "meta": {"role": "series"}}]}
    assert figure_data_csv(fig).splitlines() == [
        "timestamp,a,a (2)", "2023-11-14T22:13:20.000Z,1.5,9.0",
        "2023-11-14T22:13:25.000Z,,", "2023-11-14T22:13:30.000Z,3.0,"]


def test_csv_of_a_figure_without_series_is_just_the_header() -> None:
    assert figure_data_csv(go.Figure()) == "timestamp\n"


def test_file_name_comes_from_the_data_span_or_the_figure_meta() -> None:
    assert chart_filename(shown(), "trends", "explorer", "png") == (
        "trends_explorer_20231114T221320Z-20231114T221335Z.png")
    named = dict(shown(), layout={"meta": {"filename": "api_latency_x"}})
    assert chart_filename(named, "trends", "explorer", "svg") == "api_latency_x.svg"


def test_csv_download_is_the_csv_of_the_figure() -> None:
    data = chart_download("csv", shown(), "trends", "explorer")
    assert data["filename"] == "trends_explorer_20231114T221320Z-20231114T221335Z.csv"
    assert data["content"] == figure_data_csv(shown())


def test_unknown_image_format_is_refused_before_any_browser_starts() -> None:
    with pytest.raises(ExportError, match="unknown image format 'gif'; use one of png, svg"):
        figure_image(shown(), "gif", session=KaleidoSession("/nonexistent/chromium"))


def test_missing_browser_is_a_clear_error_naming_the_fix() -> None:
    assert find_browser(names=("no-such-browser-xyz",), typical=("/nonexistent/chromium",)) \
        is None
    session = KaleidoSession("/nonexistent/chromium")
    with pytest.raises(ExportError, match="install Debian's chromium"):
        session.render(shown(), {"format": "png"})
    session.close()


# --- real renders through kaleido and Debian's Chromium (one warm session) ---

@pytest.fixture(scope="module")
def session() -> Iterator[KaleidoSession]:
    browser = find_browser()
    if browser is None:
        pytest.fail("no Chromium found: install Debian's chromium (apt-get install chromium)")
    s = KaleidoSession(browser)
    yield s
    s.close()


def test_real_renders_have_the_format_magic_bytes_and_size(session: KaleidoSession) -> None:
    fig = go.Figure(shown())
    png = figure_image(fig, "png", width=400, height=300, scale=2, session=session)
    assert png.startswith(PNG)
    assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (800, 600)
    assert figure_image(fig, "svg", width=400, height=300, session=session).startswith(b"<svg")
    assert figure_image(fig, "pdf", width=400, height=300, session=session).startswith(b"%PDF")


def test_page_zip_holds_png_and_csv_per_chart_and_a_manifest(session: KaleidoSession) -> None:
    def render(fig: Any, fmt: str) -> bytes:
        return figure_image(fig, fmt, width=300, height=200, scale=1, session=session)

    csv_text = figure_data_csv(shown())
    bundle = page_zip([("latency", shown(), csv_text), ("cpu", go.Figure(shown()), "a,b\n")],
                      start=T0, end=T0 + 3600, created=T0 + 3600, render=render)
    with zipfile.ZipFile(io.BytesIO(bundle)) as zf:
        assert sorted(zf.namelist()) == ["cpu.csv", "cpu.png", "latency.csv", "latency.png",
                                         "manifest.txt"]
        assert zf.read("latency.png").startswith(PNG) and zf.read("cpu.png").startswith(PNG)
        assert zf.read("latency.csv").decode() == csv_text
        assert zf.read("manifest.txt").decode() == (
            "tamma-dash export\ncreated: 2023-11-14 23:13:20 UTC\n"
            "range: 2023-11-14 22:13:20 UTC to 2023-11-14 23:13:20 UTC\nfiles:\n"
            "  latency.png\n  latency.csv\n  cpu.png\n  cpu.csv\n")
