"""Live updates: Patch operations applied to a figure the way dash-renderer applies them."""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

import numpy as np
import pandas as pd
import plotly.utils
import pytest
from dash import Patch, html

from tamma_dash.ui.downsample import iso
from tamma_dash.ui.figures import resample_for_range, time_series_figure
from tamma_dash.ui.live import (
    MAX_DELETES,
    changed_cards,
    extend_patch,
    live_keys,
    live_window,
    relayout_range,
    status_cards_patch,
    trace_updates_patch,
)

T0 = 1_700_000_000.0
API = "api/response_time_p95_ms"
WORKER = "worker/response_time_p95_ms"


# --- a faithful Python port of dash-renderer's patchHandlers (dash 4.4, src/actions/patch.ts) ---

def _resolve(location: list[Any], doc: Any) -> list[Any]:
    """getLocationPath: negative list indexes count from the end of the list they index."""
    path: list[Any] = []
    cur = doc
    for key in location:
        if isinstance(key, int) and key < 0:
            key += len(cur)
        path.append(key)
        try:
            cur = cur[key]
        except (KeyError, IndexError, TypeError):
            cur = None  # a new key: only the last step of an Assign may point at one
    return path


def _get(doc: Any, path: list[Any]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _set(doc: Any, path: list[Any], value: Any) -> Any:
    """ramda assocPath: missing intermediate keys become objects (or arrays for int keys)."""
    if not path:
        return value
    cur = doc
    for key, nxt in itertools.pairwise(path):
        if isinstance(cur, dict) and key not in cur:
            cur[key] = [] if isinstance(nxt, int) else {}
        cur = cur[key]
    cur[path[-1]] = value
    return doc


def _apply_one(doc: Any, op: dict[str, Any]) -> Any:
    path = _resolve(op["location"], doc)
    name, value = op["operation"], op["params"].get("value")
    if name == "Assign":
        return _set(doc, path, value)
    if name == "Delete":
        del _get(doc, path[:-1])[path[-1]]
        return doc
    prev = _get(doc, path)
    handlers = {
        "Merge": lambda: {**prev, **value},
        "Extend": lambda: prev + value,
        "Append": lambda: [*prev, value],
        "Prepend": lambda: [value, *prev],
        "Insert": lambda: [*prev[:op["params"]["index"]], value, *prev[op["params"]["index"]:]],
        "Add": lambda: prev + value, "Sub": lambda: prev - value,
        "Mul": lambda: prev * value, "Div": lambda: prev / value,
        "Clear": lambda: type(prev)(),
        "Reverse": lambda: prev[::-1],
        "Remove": lambda: [item for item in prev if item != value],
    }
    return _set(doc, path, handlers[name]())


def apply_patch(doc: Any, patch: Patch) -> Any:
    """What the browser ends up with: the patch goes over the wire as JSON, then is applied."""
    wire = json.loads(json.dumps(patch.to_plotly_json(), cls=plotly.utils.PlotlyJSONEncoder))
    out = copy.deepcopy(doc)
    for op in wire["operations"]:
        out = _apply_one(out, op)
    return out


def figure_doc(fig: Any) -> dict[str, Any]:
    return json.loads(fig.to_json())


# --- fixtures ---

def frame(n: int, *, step: float = 5.0) -> pd.DataFrame:
    ts = T0 + step * np.arange(n)
    return pd.DataFrame({API: 100.0 + np.arange(n), WORKER: 50.0 + np.arange(n) / 2},
                        index=pd.Index(ts, name="ts"))


def live_figure(f: pd.DataFrame, **kw: Any) -> Any:
    return time_series_figure(f, [API, WORKER], title="p95", unit="ms", max_points=5000, **kw)


# --- the helper itself behaves like the renderer ---

def test_patch_helper_matches_renderer_semantics() -> None:
    p = Patch()
    p["a"].extend([3, 4])
    del p["a"][0]
    del p["a"][-1]
    p["b"]["c"] = 1
    p["d"].append("x")
    p["d"].prepend("w")
    p["d"].remove("x")
    assert apply_patch({"a": [1, 2], "d": []}, p) == {"a": [2, 3], "b": {"c": 1}, "d": ["w"]}


# --- extend_patch ---

def test_live_keys_name_series_positions_only() -> None:
    f = frame(20)
    band = pd.concat({API: pd.DataFrame({"lower": 90.0, "median": 100.0, "upper": 110.0},
                                        index=f.index)}, axis=1)
    anomalies = pd.DataFrame({"ts": [f.index[3]], "key": [API], "score": [0.9]})
    fig = live_figure(f, baseline=band, anomalies=anomalies)
    assert live_keys(fig) == [None, API, WORKER, None]
    assert live_keys(figure_doc(fig)) == [None, API, WORKER, None]


def test_extend_appends_only_rows_newer_than_last_ts() -> None:
    full = frame(13)
    fig = figure_doc(live_figure(full.iloc[:10]))
    patch, last = extend_patch([API, WORKER], full, last_ts=float(full.index[9]), window_s=None)
    assert patch is not None
    assert last == float(full.index[12])
    got = apply_patch(fig, patch)
    want = figure_doc(live_figure(full))
    for i in (0, 1):
        assert got["data"][i]["x"] == want["data"][i]["x"]
        assert got["data"][i]["y"] == want["data"][i]["y"]
    assert got["data"][0]["y"][-3:] == [110.0, 111.0, 112.0]


def test_nothing_new_gives_none_and_keeps_last_ts() -> None:
    f = frame(10)
    last = float(f.index[-1])
    assert extend_patch([API], f, last_ts=last) == (None, last)
    assert extend_patch([API], f.iloc[:0], last_ts=last, window_s=60.0) == (None, last)
    empty, cursor = live_window(f.iloc[:0], 60.0)
    assert empty.empty and cursor is None


def test_gaps_in_new_rows_arrive_as_none() -> None:
    full = frame(12)
    full.iloc[11, 0] = np.nan
    fig = figure_doc(live_figure(full.iloc[:10]))
    patch, _ = extend_patch([API, WORKER], full, last_ts=float(full.index[9]))
    got = apply_patch(fig, patch)
    assert got["data"][0]["y"][-2:] == [110.0, None]
    assert got["data"][1]["y"][-2:] == [55.0, 55.5]


def test_extend_targets_series_traces_not_band_or_markers() -> None:
    full = frame(12)
    band = pd.concat({API: pd.DataFrame({"lower": 90.0, "median": 100.0, "upper": 110.0},
                                        index=full.index[:10])}, axis=1)
    fig = live_figure(full.iloc[:10], baseline=band)
    doc = figure_doc(fig)
    patch, _ = extend_patch(live_keys(fig), full, last_ts=float(full.index[9]))
    got = apply_patch(doc, patch)
    assert got["data"][0] == doc["data"][0]  # the band is untouched
    assert got["data"][1]["x"][-2:] == iso(full.index[10:12])
    assert [op["location"][1] for op in patch.to_plotly_json()["operations"]] == [1, 1, 2, 2]


def test_window_trims_rows_that_fell_out_with_delete_ops() -> None:
    window = 50.0  # ten 5-second rows
    full = frame(23)
    start, last = live_window(full.iloc[:20], window)
    assert list(start.index) == list(full.index[10:20])
    doc = figure_doc(live_figure(start))
    patch, new_last = extend_patch([API, WORKER], full, last_ts=last, window_s=window)
    assert patch is not None
    ops = [op["operation"] for op in patch.to_plotly_json()["operations"]]
    assert ops.count("Delete") == 3 * 2 * 2  # three rows, x and y, two traces
    got = apply_patch(doc, patch)
    want = figure_doc(live_figure(live_window(full, window)[0]))
    for i in (0, 1):
        assert got["data"][i]["x"] == want["data"][i]["x"] == iso(full.index[13:23])
        assert got["data"][i]["y"] == want["data"][i]["y"]
    assert new_last == float(full.index[22])


def test_large_trim_reassigns_the_window_instead_of_many_deletes() -> None:
    window = 500.0  # 100 rows
    full = frame(200)
    start, last = live_window(full.iloc[:150], window)
    doc = figure_doc(live_figure(start))
    patch, _ = extend_patch([API, WORKER], full, last_ts=last, window_s=window)
    assert patch is not None
    ops = [op["operation"] for op in patch.to_plotly_json()["operations"]]
    assert MAX_DELETES < 50 and "Delete" not in ops and ops.count("Assign") == 4
    got = apply_patch(doc, patch)
    for i, key in enumerate((API, WORKER)):
        assert got["data"][i]["x"] == iso(full.index[100:200])
        assert got["data"][i]["y"] == full[key].iloc[100:200].tolist()


def test_pause_longer_than_window_replaces_everything() -> None:
    window = 20.0
    early = frame(10)
    start, last = live_window(early, window)
    doc = figure_doc(live_figure(start))
    later = frame(10).set_axis(early.index + 1000.0)
    bridge = pd.concat([early, later])
    patch, new_last = extend_patch([API, WORKER], bridge, last_ts=last, window_s=window)
    got = apply_patch(doc, patch)
    assert got["data"][0]["x"] == iso(later.index[-4:])
    assert new_last == float(later.index[-1])


def test_patch_is_plain_json() -> None:
    full = frame(12)
    patch, _ = extend_patch([API], full, last_ts=float(full.index[9]))
    assert json.loads(json.dumps(patch.to_plotly_json()))["operations"][0]["operation"] == "Extend"


# --- zoom ---

def test_relayout_range_reads_zoom_reset_and_ignores_the_rest() -> None:
    a, b = "2023-11-14 22:13:20", "2023-11-14 22:30:00.5"
    assert relayout_range({"xaxis.range[0]": a, "xaxis.range[1]": b}) == (T0, T0 + 1000.5)
    assert relayout_range({"xaxis.range": [a, b]}) == (T0, T0 + 1000.5)
    assert relayout_range({"xaxis.autorange": True, "xaxis.showspikes": False}) == (None, None)
    assert relayout_range({"autosize": True}) is None
    assert relayout_range(None) is None


def test_zoom_updates_apply_to_the_right_traces() -> None:
    f = frame(3000)
    fig = time_series_figure(f, [API], title="p95", unit="ms", max_points=300)
    keys = live_keys(fig)
    x0, x1 = relayout_range({"xaxis.range": [iso([f.index[1000]])[0], iso([f.index[1099]])[0]]})
    updates = resample_for_range(f, keys, x0, x1, max_points=300)
    got = apply_patch(figure_doc(fig), trace_updates_patch(updates))
    assert got["data"][0]["x"] == iso(f.index[999:1101])
    assert got["data"][0]["y"] == f[API].iloc[999:1101].tolist()
    assert trace_updates_patch({}) is None


# --- status cards ---

def doc(**services: dict[str, Any]) -> dict[str, Any]:
    base = {"status": "healthy", "cpu": 10.0, "reasons": [], "lastSeen": "2023-11-14T22:13:20Z"}
    return {"services": {name: {**base, **changes} for name, changes in services.items()}}


def render(name: str, svc: Any) -> dict[str, Any]:
    return {"card": name, "status": svc["status"]}


def test_only_changed_cards_are_rerendered() -> None:
    old = doc(api={}, worker={}, database={})
    new = doc(api={"lastSeen": "later"}, worker={"status": "down"}, database={})
    assert changed_cards(old, new) == ["worker"]
    patch = status_cards_patch(old, new, render=render)
    assert patch is not None
    ops = patch.to_plotly_json()["operations"]
    assert [(op["operation"], op["location"]) for op in ops] == [("Assign", [1])]
    cards = [render(n, s) for n, s in old["services"].items()]
    assert apply_patch(cards, patch) == [render(n, s) for n, s in new["services"].items()]


def test_unchanged_cards_give_none() -> None:
    assert status_cards_patch(doc(api={}), doc(api={"lastSeen": "x"}), render=render) is None


@pytest.mark.parametrize("old", [None, doc(api={}, worker={}), doc(worker={}, api={}, db={})])
def test_new_or_reordered_services_replace_every_card(old: dict[str, Any] | None) -> None:
    new = doc(worker={}, api={"status": "degraded"})
    patch = status_cards_patch(old, new, render=lambda n, s: html.Div(f"{n}: {s['status']}"))
    assert patch is not None
    got = apply_patch(["stale"], patch)
    assert [c["props"]["children"] for c in got] == ["worker: healthy", "api: degraded"]


def test_same_as_shown_compares_components_with_the_pages_json() -> None:
    from dash import html

    from tamma_dash.ui.live import same_as_shown

    shown = json.loads(json.dumps(html.Div(["a", html.B("b")], className="x"),
                                  cls=plotly.utils.PlotlyJSONEncoder))
    assert same_as_shown(html.Div(["a", html.B("b")], className="x"), shown)
    assert not same_as_shown(html.Div(["a", html.B("c")], className="x"), shown)
    assert same_as_shown(None, None) and not same_as_shown(None, shown)
