"""Rate limits from response headers: one table per header flavour in tests/fixtures/headers/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tamma_dash.collectors.ratelimit import (
    RateLimit,
    parse_duration,
    parse_rate_limit,
    parse_rate_limits,
    parse_reset,
    parse_retry_after,
)

FIXTURES = Path(__file__).parent / "fixtures" / "headers"
NOW = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT


def _cases() -> list[Any]:
    out = []
    for path in sorted(FIXTURES.glob("*.json")):
        for case in json.loads(path.read_text(encoding="utf-8")):
            out.append(pytest.param(case, id=f"{path.stem}: {case['name']}"))
    return out


def _expected(spec: dict[str, Any] | None) -> RateLimit | None:
    return None if spec is None else RateLimit(**spec)


def _same(got: RateLimit | None, want: RateLimit | None) -> bool:
    if got is None or want is None:
        return got is want
    reset_ok = (got.reset_s == pytest.approx(want.reset_s, abs=1e-6)
                if want.reset_s is not None else got.reset_s is None)
    return (got.remaining, got.limit, got.policy, got.resource) == (
        want.remaining, want.limit, want.policy, want.resource) and reset_ok


CASES = _cases()


def test_every_flavour_has_fixtures() -> None:
    stems = {p.stem for p in FIXTURES.glob("*.json")}
    assert {"github", "gitlab", "ietf", "openai", "anthropic", "misc"} <= stems
    assert len(CASES) >= 50


@pytest.mark.parametrize("case", CASES)
def test_primary_window(case: dict[str, Any]) -> None:
    got = parse_rate_limit(case["headers"], case["now"])
    want = _expected(case["expect"])
    assert _same(got, want), f"{got} != {want}"


@pytest.mark.parametrize("case", [c for c in CASES if "windows" in c.values[0]])
def test_all_windows_in_order(case: dict[str, Any]) -> None:
    got = parse_rate_limits(case["headers"], case["now"])
    want = [RateLimit(**w) for w in case["windows"]]
    assert len(got) == len(want)
    assert all(_same(g, w) for g, w in zip(got, want, strict=True)), got


@pytest.mark.parametrize("case", CASES)
def test_reset_is_never_negative(case: dict[str, Any]) -> None:
    for window in parse_rate_limits(case["headers"], case["now"]):
        assert window.reset_s is None or window.reset_s >= 0
        assert window.remaining >= 0


def test_a_requests_case_insensitive_mapping_works() -> None:
    from requests.structures import CaseInsensitiveDict

    headers = CaseInsensitiveDict({"X-RateLimit-Remaining": "3", "X-RateLimit-Limit": "5"})
    assert parse_rate_limit(headers, NOW) == RateLimit(3.0, 5.0, None, "github")


@pytest.mark.parametrize(("text", "seconds"), [
    ("6m0s", 360.0), ("1s", 1.0), ("20ms", 0.02), ("2h3m4.5s", 7384.5), (".5s", 0.5),
    ("1h", 3600.0), ("250ns", 250e-9), ("3µs", 3e-6),
])
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "6", "6 m", "m", "-1s", "1d", "1s2", "nan", "1e3s"])
def test_not_go_durations(text: str) -> None:
    assert parse_duration(text) is None


@pytest.mark.parametrize(("text", "seconds"), [
    ("30", 30.0), (str(int(NOW) + 30), 30.0), (str(int(NOW) - 30), 0.0),
    (str(int(NOW + 30) * 1000), 30.0), ("1m", 60.0), ("2023-11-14T22:13:50Z", 30.0),
    ("Tue, 14 Nov 2023 22:13:50 GMT", 30.0), ("14 Nov 2023 22:13:50 GMT", 30.0),
])
def test_reset_notations(text: str, seconds: float) -> None:
    assert parse_reset(text, NOW) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "-5", "NaN", "Infinity", "Blursday, 99 Foo", "1_000"])
def test_reset_garbage_is_none(text: str) -> None:
    assert parse_reset(text, NOW) is None


def test_retry_after_seconds_and_dates() -> None:
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:15:20 GMT", NOW) == 120.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", NOW) == 0.0
    assert parse_retry_after("in a bit", NOW) is None
