"""Providers and platforms: rate-limit pace and exhaustion, cards, charts, the page layout."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dash
import pytest

from tamma_dash.config import ServiceConfig, Settings
from tamma_dash.models import M, Sample, ServiceKind
from tamma_dash.runtime import Runtime, build
from tamma_dash.ui import context
from tamma_dash.ui import providers_view as pv
from tests.test_ui_service_view import FakeClock, find
from tests.ui_support import wire

T0 = 1_700_000_000.0
STEP = 5.0
SERVICES = (ServiceConfig("openai", ServiceKind.PROVIDER), ServiceConfig("github", ServiceKind.GIT),
            ServiceConfig("gitlab", ServiceKind.GIT))




# --- pace: spend rate from history ---

def test_spend_rate_is_the_drop_over_the_span() -> None:
    assert pv.spend_rate([0, 10, 20, 30], [100, 90, 80, 70]) == 1.0
    assert pv.spend_rate([0, 5, 10, 15, 20], [5000, 4990, 4985, 4960, 4950]) == 2.5


def test_spend_rate_counts_only_readings_since_the_last_reset() -> None:
    assert pv.spend_rate([0, 10, 20, 30, 40], [100, 50, 5000, 4990, 4980]) == 1.0


def test_spend_rate_needs_two_readings_and_ignores_gaps() -> None:
    assert pv.spend_rate([0.0], [10.0]) is None
    assert pv.spend_rate([0, 10, 20], [100, 5000, math.nan]) is None  # one reading after reset
    assert pv.spend_rate([0, 10, 20], [100, math.nan, 80]) == 1.0
    assert pv.spend_rate([], []) is None


def test_unspent_quota_has_pace_zero_not_unknown() -> None:
    assert pv.spend_rate([0, 10], [100, 100]) == 0.0


# --- exhaustion against the reset ---

def test_runs_out_before_reset() -> None:
    ex = pv.exhaustion(600, 2.0, 400)
    assert (ex.runs_out_in_s, ex.reset_s, ex.before_reset) == (300.0, 400.0, True)


def test_lasts_until_reset() -> None:
    ex = pv.exhaustion(600, 2.0, 200)
    assert (ex.runs_out_in_s, ex.before_reset) == (300.0, False)


def test_no_spending_or_unknown_pace_never_warns() -> None:
    assert pv.exhaustion(600, 0.0, 10).runs_out_in_s is None
    assert pv.exhaustion(600, None, 10).before_reset is False
    assert pv.exhaustion(None, 1.0, 10).runs_out_in_s is None
    assert pv.exhaustion(600, 1.0, None).before_reset is False
    assert pv.exhaustion(0, 1.0, 5).runs_out_in_s == 0.0


def test_pace_sentences() -> None:
    assert pv.pace_text(pv.exhaustion(600, 2.0, 400)) == (
        "At the current pace (120/min) the limit runs out in 5 m 00 s, before it resets in "
        "6 m 40 s.")
    assert pv.pace_text(pv.exhaustion(600, 2.0, 200)) == (
        "At the current pace (120/min) it would last 5 m 00 s; it resets in 3 m 20 s.")
    assert pv.pace_text(pv.exhaustion(600, 0.0, 200)) == (
        "Pace 0/min: the limit is not being spent.")
    assert pv.pace_text(pv.exhaustion(600, None, 200)) == (
        "Pace unknown: it needs two readings since the last reset.")


# --- with a real store ---

@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(data_dir=tmp_path, demo=False, host_metrics=False, services=SERVICES,
                        interval_s=STEP)
    runtime = build(settings, "run", clock=FakeClock(T0))
    context.set_runtime(runtime)
    yield runtime
    runtime.store.close()


def fill(rt: Runtime, n: int) -> None:
    """github spends 10 per tick (2/s) from 1,000 with 300 s to reset; gitlab spends nothing."""
    for i in range(n):
        ts = T0 + STEP * i
        rt.store.append(ts, [
            Sample(ts, "github", M.RL_REMAINING, 1000.0 - 10 * i),
            Sample(ts, "github", M.RL_LIMIT, 5000.0),
            Sample(ts, "github", M.RL_RESET_S, 900.0 - STEP * i),
            Sample(ts, "github", M.SUCCESS_RATE, 100.0),
            Sample(ts, "github", M.RESPONSE_TIME_MS, 80.0),
            Sample(ts, "github", M.UP, 1.0),
            Sample(ts, "gitlab", M.RL_REMAINING, 2000.0),
            Sample(ts, "gitlab", M.RL_LIMIT, 2000.0),
            Sample(ts, "gitlab", M.RL_RESET_S, 60.0),
        ])
        rt.clock.now = ts  # type: ignore[attr-defined]


def test_paces_from_stored_history(rt: Runtime) -> None:
    fill(rt, 7)  # github: 940 left after 30 s at 2/s -> 470 s, reset in 870 s
    apis = context.snapshot()["system"]["externalApis"]
    out = pv.paces(["github", "gitlab", "openai"], apis, context.frame, context.now())
    assert (out["github"].rate, out["github"].runs_out_in_s, out["github"].reset_s) == (
        2.0, 470.0, 870.0)
    assert out["github"].before_reset is True
    assert (out["gitlab"].rate, out["gitlab"].runs_out_in_s) == (0.0, None)
    assert (out["openai"].rate, out["openai"].runs_out_in_s) == (None, None)


def test_pace_looks_back_only_over_its_window(rt: Runtime) -> None:
    fill(rt, 7)
    apis = context.snapshot()["system"]["externalApis"]
    out = pv.paces(["github"], apis, context.frame, T0 + 30, window_s=5.0)
    assert out["github"].rate == 2.0  # only the last two ticks


# --- cards and charts ---

def api(**changes: Any) -> dict[str, Any]:
    base = {"kind": "git", "status": "healthy", "responseTime": 84.0, "successRate": 99.5,
            "rateLimitRemaining": 1200.0, "rateLimitLimit": 5000.0, "rateLimitResetS": 1800.0}
    return {**base, **changes}


def test_card_warns_when_the_limit_runs_out_before_reset() -> None:
    card = wire(pv.platform_card("github", api(), pv.exhaustion(1200, 2.0, 1800)))
    alerts = find(card, lambda p: "pace-warning" in p.get("className", ""))
    assert alerts[0]["children"] == (
        "\u25b2 At the current pace (120/min) the limit runs out in 10 m 00 s, before it resets "
        "in 30 m 00 s.")
    text = json.dumps(card)
    assert "1,200 of 5,000 left, resets in 30 m 00 s" in text
    assert "84 ms" in text and "99.5%" in text and "\\u2714 healthy" in text


def test_card_without_danger_has_no_warning() -> None:
    card = wire(pv.platform_card("github", api(), pv.exhaustion(1200, 0.1, 1800)))
    assert find(card, lambda p: "pace-warning" in p.get("className", "")) == []


def test_card_without_a_rate_limit_says_so() -> None:
    card = wire(pv.platform_card("openai", api(rateLimitRemaining=None, rateLimitLimit=None,
                                               status="down"),
                                 pv.exhaustion(None, None, None)))
    text = json.dumps(card)
    assert "No rate limit reported." in text and "\\u2716 down" in text


def test_no_platforms_of_a_kind_is_a_sentence() -> None:
    empty = pv.platform_cards([], {}, {}, "No git platforms are configured.")
    assert empty.children == "No git platforms are configured."


def test_platform_charts_group_every_platform_of_a_kind() -> None:
    charts = pv.platform_charts("git", "Git platforms", ["github", "gitlab"])
    assert [c.group for c in charts] == ["git_response_time", "git_success_rate",
                                         "git_rate_limit"]
    assert charts[2].keys == ("github/ratelimit_remaining", "github/ratelimit_limit",
                              "gitlab/ratelimit_remaining", "gitlab/ratelimit_limit")
    assert pv.platform_charts("llm", "LLM providers", []) == []


def test_providers_layout_has_cards_and_chart_ids(rt: Runtime) -> None:
    dash.Dash(__name__, use_pages=True, pages_folder="")
    from tamma_dash.ui.pages import providers

    fill(rt, 7)
    page = wire(providers.layout(range="15m"))
    graphs = find(page, lambda p: isinstance(p.get("id"), dict)
                  and p["id"].get("type") == "chart")
    assert [g["id"]["chart"] for g in graphs] == [
        "llm_response_time", "llm_success_rate", "llm_rate_limit",
        "git_response_time", "git_success_rate", "git_rate_limit"]
    text = json.dumps(page)
    assert "940 of 5,000 left" in text and "the limit runs out in 7 m 50 s" in text
