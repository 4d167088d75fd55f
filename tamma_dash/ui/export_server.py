"""Server-side export: PNG/SVG/PDF through kaleido + the system Chromium, CSV, page zips.

Kaleido >= 1 drives a Chrome/Chromium over the DevTools pipe. We name the browser ourselves
(Debian's ``/usr/bin/chromium`` or any chromium/chrome on PATH) and disable MathJax, so nothing
is ever fetched from a CDN or downloaded. One browser session is kept warm in a background
event loop: the first render starts Chromium (seconds), later ones take well under a second.

Any page gets export for free by using the id patterns (see :func:`export_controls`):
chart ``{"type": "chart", "page", "chart"}``, buttons ``{"type": "export", "page", "chart",
"fmt"}``, download ``{"type": "download", "page", "chart"}``; a page-wide zip with
``{"type": "export-page", "page"}``.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import csv
import io
import math
import shutil
import threading
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeAlias

import dash
import dash_bootstrap_components as dbc
import numpy as np
import plotly.graph_objects as go
from dash import ALL, MATCH, Input, Output, State, dcc, html

from tamma_dash.models import Clock
from tamma_dash.ui.downsample import iso, to_epoch
from tamma_dash.ui.export import figure_filename

FORMATS = ("png", "svg", "pdf")
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
                 "chrome")
TYPICAL_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
OPEN_TIMEOUT_S = 60.0
RENDER_TIMEOUT_S = 60.0
FIX = "install Debian's chromium (apt-get install chromium)"

Figureish: TypeAlias = Mapping[str, Any] | go.Figure
Renderer = Callable[..., bytes]


class ExportError(RuntimeError):
    """An export could not be made; the message names the cause and the fix."""


def find_browser(names: Sequence[str] = BROWSER_NAMES,
                 typical: Sequence[str] = TYPICAL_PATHS) -> str | None:
    """The first Chromium/Chrome found on PATH or at a typical path; never downloads one."""
    for name in names:
        if path := shutil.which(name):
            return path
    return next((p for p in typical if Path(p).is_file()), None)


class KaleidoSession:
    """One warm kaleido browser on its own event-loop thread; renders are serialised."""

    def __init__(self, browser: str | None = None) -> None:
        self._browser = browser
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._kaleido: Any = None

    def _ensure(self) -> tuple[asyncio.AbstractEventLoop, Any]:
        """The running loop and open browser, started on first use (called with the lock)."""
        if self._loop is not None and self._kaleido is not None:
            return self._loop, self._kaleido
        import kaleido

        path = self._browser or find_browser()
        if path is None:
            raise ExportError(f"image export needs a Chromium or Chrome browser and none was "
                              f"found: {FIX}")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="kaleido", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread

        async def open_browser() -> Any:
            k = kaleido.Kaleido(path=path, mathjax=False, n=1, timeout=RENDER_TIMEOUT_S)
            await k.open()
            return k

        try:
            self._kaleido = asyncio.run_coroutine_threadsafe(open_browser(), loop).result(
                OPEN_TIMEOUT_S)
        except Exception as exc:
            self._stop_loop()
            raise ExportError(f"could not start the browser {path} for image export ({exc}); "
                              f"{FIX}") from exc
        atexit.register(self.close)  # never leave a Chromium behind when the process ends
        return loop, self._kaleido

    def render(self, fig: dict[str, Any], opts: dict[str, Any]) -> bytes:
        """Bytes of ``fig`` rendered with kaleido ``opts`` (format, width, height, scale)."""
        with self._lock:
            loop, k = self._ensure()
            future = asyncio.run_coroutine_threadsafe(k.calc_fig(fig, opts=opts), loop)
            try:
                return bytes(future.result(RENDER_TIMEOUT_S + 5))
            except Exception as exc:
                raise ExportError(f"the figure could not be rendered as {opts.get('format')}: "
                                  f"{exc}") from exc

    def close(self) -> None:
        """Close the browser and stop the loop; a later render starts them again."""
        atexit.unregister(self.close)
        with self._lock:
            if self._kaleido is not None and self._loop is not None:
                future = asyncio.run_coroutine_threadsafe(self._kaleido.close(), self._loop)
                try:
                    future.result(OPEN_TIMEOUT_S)
                finally:
                    self._kaleido = None
            self._stop_loop()

    def _stop_loop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()
        self._loop = self._thread = None


SESSION = KaleidoSession()


def warm_up(session: KaleidoSession = SESSION) -> threading.Thread:
    """Start the browser in the background so the first export is quick; errors wait."""
    def run() -> None:
        with contextlib.suppress(ExportError):  # the first real export reports it, with the fix
            session.render({"data": [], "layout": {}}, {"format": "svg", "width": 10,
                                                        "height": 10})
    thread = threading.Thread(target=run, name="kaleido-warm-up", daemon=True)
    thread.start()
    return thread


def _figure_dict(fig: Figureish) -> dict[str, Any]:
    return fig.to_plotly_json() if isinstance(fig, go.Figure) else dict(fig)


def figure_image(fig: Figureish, fmt: str, *, width: int | None = None,
                 height: int | None = None, scale: float = 2.0,
                 session: KaleidoSession = SESSION) -> bytes:
    """``fig`` as PNG, SVG or PDF bytes; size from the arguments, else its layout, else 1200x600."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown image format {fmt!r}; use one of {', '.join(FORMATS)}")
    data = _figure_dict(fig)
    layout = data.get("layout") or {}
    opts = {"format": fmt, "scale": scale,
            "width": width or layout.get("width") or 1200,
            "height": height or layout.get("height") or 600}
    return session.render(data, opts)


def _array(values: Any) -> list[Any]:
    """A trace array as a list, decoding plotly's typed-array form (``bdata``)."""
    if isinstance(values, Mapping) and "bdata" in values:
        raw = np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
        return raw.tolist()
    return list(values) if values is not None else []


def _cell(value: Any) -> str:
    if value is None:
        return ""
    number = float(value)
    return repr(number) if math.isfinite(number) else ""


def _unique(names: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def figure_data_csv(fig: Figureish) -> str:
    """The series traces' points as CSV: timestamp (ISO UTC), a column per trace, union of x.

    x values are plotly date strings, as in every tamma-dash figure; only traces with
    ``meta.role == "series"`` are written (bands, markers and compare lines are context).
    """
    data = _figure_dict(fig).get("data") or []
    traces = [t for t in data if isinstance(t.get("meta"), Mapping)
              and t["meta"].get("role") == "series"]
    names = _unique([str(t.get("name") or f"trace {i}") for i, t in enumerate(traces)])
    columns: list[dict[float, Any]] = []
    for trace in traces:
        xs = [to_epoch(x) for x in _array(trace.get("x"))]
        columns.append({x: y for x, y in zip(xs, _array(trace.get("y")), strict=False)
                        if x is not None})
    stamps = sorted(set().union(*columns)) if columns else []
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["timestamp", *names])
    for stamp, text in zip(stamps, iso(stamps), strict=True):
        writer.writerow([f"{text}Z", *(_cell(col.get(stamp)) for col in columns)])
    return buf.getvalue()


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def page_zip(charts: Sequence[tuple[str, Figureish, str]], *, start: float, end: float,
             created: float, render: Renderer = figure_image) -> bytes:
    """One zip: ``name.png`` and ``name.csv`` per chart, and a manifest with range and time."""
    buf = io.BytesIO()
    lines = ["tamma-dash export", f"created: {_utc(created)}",
             f"range: {_utc(start)} to {_utc(end)}", "files:"]
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, fig, csv_text in charts:
            zf.writestr(f"{name}.png", render(fig, "png"))
            zf.writestr(f"{name}.csv", csv_text)
            lines += [f"  {name}.png", f"  {name}.csv"]
        zf.writestr("manifest.txt", "\n".join(lines) + "\n")
    return buf.getvalue()


# --- Dash glue: components any page can drop in, and the callbacks behind them ---

EXPORT_LABELS = (("png", "PNG"), ("svg", "SVG"), ("pdf", "PDF"), ("csv", "CSV"))
_registered = False


def export_controls(page: str, chart: str) -> html.Div:
    """PNG/SVG/PDF/CSV buttons, the download and a status line for one chart id."""
    ids = {"page": page, "chart": chart}
    group: dict[str, Any] = {"aria-label": f"Export the {chart} chart"}
    buttons = [dbc.Button(label, id={"type": "export", **ids, "fmt": fmt}, size="sm",
                          color="secondary", outline=True, title=f"Download as {label}")
               for fmt, label in EXPORT_LABELS]
    return html.Div([
        html.Div(buttons, className="btn-group", role="group", **group),
        dcc.Download(id={"type": "download", **ids}),
        html.Span(id={"type": "export-status", **ids}, role="status", className="small"),
    ], className="d-flex flex-wrap align-items-center gap-2")


def export_page_controls(page: str) -> html.Div:
    """The 'export page' button: every chart of the page as PNG + CSV in one zip."""
    return html.Div([
        dbc.Button("Export page (zip)", id={"type": "export-page", "page": page}, size="sm",
                   color="secondary"),
        dcc.Download(id={"type": "download-page", "page": page}),
        html.Span(id={"type": "export-page-status", "page": page}, role="status",
                  className="small"),
    ], className="d-flex flex-wrap align-items-center gap-2")


def x_span(figures: Sequence[Figureish]) -> tuple[float, float] | None:
    """Earliest and latest x of the series traces of ``figures`` (epoch s)."""
    stamps = [to_epoch(x) for fig in figures for t in (_figure_dict(fig).get("data") or [])
              if (t.get("meta") or {}).get("role") == "series" for x in _array(t.get("x"))]
    finite = [s for s in stamps if s is not None]
    return (min(finite), max(finite)) if finite else None


def chart_filename(fig: Figureish, page: str, chart: str, ext: str) -> str:
    """``page_chart_<start>-<end>.ext`` from the data shown, or ``layout.meta.filename``."""
    meta = (_figure_dict(fig).get("layout") or {}).get("meta")
    if isinstance(meta, Mapping) and meta.get("filename"):
        return f"{meta['filename']}.{ext}"
    start, end = x_span([fig]) or (0.0, 0.0)
    return figure_filename(page, chart, start, end, ext)


def chart_download(fmt: str, fig: Figureish, page: str, chart: str) -> dict[str, Any]:
    """The ``dcc.Download`` data for one chart in ``fmt`` (png, svg, pdf or csv)."""
    name = chart_filename(fig, page, chart, fmt)
    if fmt == "csv":
        return dict(content=figure_data_csv(fig), filename=name, type="text/csv")
    return dcc.send_bytes(figure_image(fig, fmt), name)


def page_download(page: str, figures: Sequence[Figureish], charts: Sequence[str],
                  created: float) -> dict[str, Any]:
    """The ``dcc.Download`` data of a page's zip (PNG + CSV per chart, manifest)."""
    start, end = x_span(figures) or (created, created)
    bundle = page_zip([(chart, fig, figure_data_csv(fig)) for chart, fig in
                       zip(charts, figures, strict=True)], start=start, end=end, created=created)
    return dcc.send_bytes(bundle, figure_filename(page, "page", start, end, "zip"))


def _export_chart(_: list[int | None], fig: dict[str, Any] | None) -> tuple[Any, str]:
    trigger = dash.ctx.triggered_id
    if not isinstance(trigger, Mapping) or fig is None:
        return dash.no_update, ""
    try:
        data = chart_download(str(trigger["fmt"]), fig, str(trigger["page"]),
                              str(trigger["chart"]))
    except ExportError as exc:
        return dash.no_update, str(exc)
    return data, f"Saved {data['filename']}"


def register_export_callbacks(clock: Clock = time.time) -> None:
    """Wire the id patterns above to downloads, once per process."""
    global _registered
    if _registered:
        return
    _registered = True
    dash.callback(
        Output({"type": "download", "page": MATCH, "chart": MATCH}, "data"),
        Output({"type": "export-status", "page": MATCH, "chart": MATCH}, "children"),
        Input({"type": "export", "page": MATCH, "chart": MATCH, "fmt": ALL}, "n_clicks"),
        State({"type": "chart", "page": MATCH, "chart": MATCH}, "figure"),
        prevent_initial_call=True,
    )(_export_chart)

    @dash.callback(
        Output({"type": "download-page", "page": MATCH}, "data"),
        Output({"type": "export-page-status", "page": MATCH}, "children"),
        Input({"type": "export-page", "page": MATCH}, "n_clicks"),
        State({"type": "chart", "page": MATCH, "chart": ALL}, "figure"),
        State({"type": "chart", "page": MATCH, "chart": ALL}, "id"),
        prevent_initial_call=True,
    )
    def _export_page(clicks: int | None, figures: list[dict[str, Any] | None],
                     ids: list[dict[str, str]]) -> tuple[Any, Any]:
        shown = [(i["chart"], f) for i, f in zip(ids, figures, strict=True) if f is not None]
        if not clicks or not shown:
            return dash.no_update, "No chart to export." if clicks else ""
        page = str(ids[0]["page"])
        try:
            data = page_download(page, [f for _, f in shown], [c for c, _ in shown], clock())
        except ExportError as exc:
            return dash.no_update, str(exc)
        return data, f"Saved {data['filename']}"
