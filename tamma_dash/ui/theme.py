"""Light and dark looks for every figure: palettes that meet WCAG 2.1 AA, plotly templates, icons.

Text colours reach 4.5:1 against the background; status and series colours reach 3:1, the
AA minimum for graphical objects (WCAG 2.1, 1.4.3 and 1.4.11). ``tests/test_ui_figures.py``
computes the ratios, so a palette edit that breaks them fails CI. Status is never shown by colour
alone: each status also has an icon and a marker symbol.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

Theme = Literal["light", "dark"]
THEMES: tuple[Theme, ...] = ("light", "dark")
STATUS_WORDS = ("healthy", "degraded", "down", "unknown")

STATUS_ICONS = {"healthy": "✔", "degraded": "▲", "down": "✖", "unknown": "?"}
# Marks drawn from DejaVu Sans, the font a bare Linux box has: an emoji (a bell, a hand)
# shows there as an empty box, in the page and in exported images alike.
ALERT_MARK = "⚠"
STATUS_SYMBOLS = {"healthy": "circle", "degraded": "triangle-up", "down": "x", "unknown": "diamond"}
FONT_FAMILY = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'


@dataclass(frozen=True)
class Palette:
    """The colours of one theme (hex ``#rrggbb``)."""

    background: str
    text: str
    muted: str  # secondary text: axis titles, tick labels
    grid: str  # decorative, exempt from contrast minimums
    control: str  # background of buttons drawn inside figures (range selector)
    control_active: str
    series: tuple[str, ...]
    status: dict[str, str]


PALETTES: dict[str, Palette] = {
    # Background and text follow Bootstrap 5.3's body colours so figures sit in the page.
    "light": Palette(
        background="#ffffff", text="#212529", muted="#5c636a", grid="#e3e6e9",
        control="#e9ecef", control_active="#ced4da",
        series=("#0072b2", "#d55e00", "#6f42c1", "#009e73", "#aa3377", "#7a5c00", "#332288",
                "#cc79a7"),
        status={"healthy": "#198754", "degraded": "#b45309", "down": "#dc3545",
                "unknown": "#6c757d"},
    ),
    "dark": Palette(
        background="#212529", text="#dee2e6", muted="#adb5bd", grid="#343a40",
        control="#343a40", control_active="#495057",
        series=("#56b4e9", "#e69f00", "#c29ffa", "#7ee2b8", "#f28cbf", "#f0e442", "#9ec5fe",
                "#ffb86b"),
        status={"healthy": "#75b798", "degraded": "#ffc107", "down": "#ea868f",
                "unknown": "#adb5bd"},
    ),
}


def palette(theme: str) -> Palette:
    """The palette of ``theme``; a clear error for anything but light or dark."""
    try:
        return PALETTES[theme]
    except KeyError:
        raise ValueError(f"unknown theme {theme!r}; use 'light' or 'dark'") from None


def status_colour(status: str, theme: str) -> str:
    """Colour of a status word in ``theme`` (unknown words get the unknown colour)."""
    colours = palette(theme).status
    return colours.get(status, colours["unknown"])


def status_icon(status: str) -> str:
    """The icon that says a status without colour (✔ ▲ ✖ ?)."""
    return STATUS_ICONS.get(status, STATUS_ICONS["unknown"])


def relative_luminance(colour: str) -> float:
    """WCAG 2.1 relative luminance of a ``#rrggbb`` colour."""
    h = colour.lstrip("#")
    if len(h) != 6:
        raise ValueError(f"expected a #rrggbb colour, got {colour!r}")
    channels = [int(h[i:i + 2], 16) / 255.0 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(a: str, b: str) -> float:
    """WCAG contrast ratio between two colours, from 1 (same) to 21 (black on white)."""
    hi, lo = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def rgba(colour: str, alpha: float) -> str:
    """``#rrggbb`` as a CSS ``rgba()`` string, for translucent fills."""
    h = colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha:g})"


def template(theme: str) -> dict[str, Any]:
    """A plotly template for ``theme`` as a plain dict: background, fonts, grid, colourway, hover
    labels. Built once per theme; each call returns a copy, so a caller may change it."""
    return copy.deepcopy(_template(theme))


@lru_cache(maxsize=4)
def _template(theme: str) -> dict[str, Any]:
    p = palette(theme)
    axis = dict(gridcolor=p.grid, linecolor=p.muted, zerolinecolor=p.grid, tickcolor=p.muted,
                tickfont=dict(color=p.muted), title=dict(font=dict(color=p.muted)),
                automargin=True)
    return dict(layout=dict(
        paper_bgcolor=p.background, plot_bgcolor=p.background, colorway=list(p.series),
        font=dict(family=FONT_FAMILY, color=p.text, size=13),
        title=dict(font=dict(color=p.text, size=15), x=0, xanchor="left"),
        xaxis=axis, yaxis=dict(axis),
        legend=dict(font=dict(color=p.text), bgcolor="rgba(0,0,0,0)"),
        hoverlabel=dict(bgcolor=p.background, bordercolor=p.muted, font=dict(color=p.text)),
        margin=dict(l=56, r=16, t=48, b=40),
    ))


def alert_count_text(n: int) -> str:
    """"⚠ 2 alerts": a service's active alerts on its card, map node and their text."""
    return f"{ALERT_MARK} {n} alert{'s' * (n != 1)}"
