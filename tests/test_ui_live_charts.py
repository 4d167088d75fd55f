"""The one idempotent append (ui/live.py) and the shared live-chart glue (ui/live_charts.py)."""

from __future__ import annotations

import copy

import dash
import numpy as np
import pandas as pd
import pytest

from tamma_dash.ui import service_view
from tamma_dash.ui.downsample import iso
from tamma_dash.ui.live import append_patch
from tamma_dash.ui.live_charts import text_updates
from tests.test_ui_service_view import apply_patch

T0 = 1_700_000_000.0
CPU, MEM = "api/cpu_percent", "api/memory_percent"


def frame(n: int, start: float = T0, step: float = 5.0) -> pd.DataFrame:
    ts = start + step * np.arange(n)
    return pd.DataFrame({CPU: np.arange(n, dtype=float), MEM: 100.0 + np.arange(n)}, index=ts)


def figure(f: pd.DataFrame) -> dict:
    """Series, a band between them and an anomaly marker trace, as the service charts have."""
    x = iso(f.index.to_numpy())
    return {"data": [
        {"x": list(x), "y": f[CPU].tolist(), "meta": {"role": "series", "key": CPU}},
        {"x": ["band"], "y": [1.0], "meta": {"role": "baseline", "key": CPU}},
        {"x": list(x), "y": f[MEM].tolist(), "meta": {"role": "series", "key": MEM}},
        {"x": ["anomaly"], "y": [9.0], "name": "anomalies"},
    ]}


KEYS = [CPU, None, MEM, None]


def test_only_new_rows_are_sent_and_extra_traces_are_left_alone() -> None:
    full = frame(12)
    doc = figure(full.iloc[:10])
    patch, lengths, last = append_patch(KEYS, [10, None, 10, None], full,
                                        last_ts=float(full.index[9]), window_s=None)
    assert patch is not None and len(patch._operations) == 8  # 2 rows x (x, y) x 2 series
    out = apply_patch(doc, patch)
    assert out == figure(full)
    assert (lengths, last) == ([12, None, 12, None], float(full.index[11]))


def test_a_patch_applied_twice_or_on_a_stale_state_gives_the_same_figure() -> None:
    full = frame(14)
    doc = figure(full.iloc[:10])
    first, _, _ = append_patch(KEYS, [10, None, 10, None], full.iloc[:12],
                                        last_ts=float(full.index[9]), window_s=None)
    assert first is not None
    once = apply_patch(doc, first)
    assert apply_patch(copy.deepcopy(once), first) == once
    stale, _, _ = append_patch(KEYS, [10, None, 10, None], full,  # the state before `first`
                               last_ts=float(full.index[9]), window_s=None)
    assert stale is not None
    assert apply_patch(once, stale) == figure(full)


def test_nothing_new_is_no_patch() -> None:
    full = frame(5)
    assert append_patch(KEYS, [5, None, 5, None], full, last_ts=float(full.index[-1]),
                        window_s=None) == (None, [5, None, 5, None], float(full.index[-1]))


def test_a_rolling_window_is_resent_whole_once_it_holds_too_many_rows() -> None:
    full = frame(40)
    window = 5.0 * 10  # ten rows
    patch, lengths, _ = append_patch(KEYS, [35, None, 35, None], full,
                                     last_ts=float(full.index[34]), window_s=window, slack=4)
    out = apply_patch(figure(full.iloc[:35]), patch)
    assert lengths == [10, None, 10, None]
    assert out["data"][0]["y"] == full[CPU].tolist()[-10:]
    assert out["data"][1]["x"] == ["band"] and out["data"][3]["x"] == ["anomaly"]


def test_lengths_that_do_not_match_the_traces_are_refused() -> None:
    with pytest.raises(ValueError, match="rebuild the live state"):
        append_patch(KEYS, [1, 1], frame(3), last_ts=T0, window_s=None)


def test_service_view_still_offers_append_patch() -> None:
    assert service_view.append_patch is append_patch


def test_text_alternatives_refresh_only_every_few_ticks() -> None:
    data = frame(30, start=T0)
    now = float(data.index[-1])

    def frame_fn(keys: list[str], start: float, end: float) -> pd.DataFrame:
        ts = data.index.to_numpy()
        return data.loc[(ts >= start) & (ts <= end), [k for k in keys if k in data]]

    charts = service_view.resolve([service_view.CPU], ["api"])
    plan = service_view.plan_view({"range": "15m"}, now, 5.0)
    _, state = service_view.build_figures(data, charts, plan, "light", now)
    every = service_view.DESCRIBE_EVERY
    assert text_updates({"seq": every + 1}, state, ["cpu"], frame_fn) == [dash.no_update]
    (text,) = text_updates({"seq": 2 * every}, state, ["cpu"], frame_fn)
    assert isinstance(text, str) and text.startswith("CPU.")
