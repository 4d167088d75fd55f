"""FaultBook: validation messages, lifetimes on an injected clock, history for the model."""

from __future__ import annotations

import math

import pytest

from tamma_dash.demo.faults import APPLICABLE, FAULT_KINDS, Fault, FaultBook, kinds_for
from tamma_dash.models import ServiceKind

T0 = 1_780_000_000.0


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def book(clock: FakeClock) -> FaultBook:
    return FaultBook(clock)


def test_fault_kinds_are_the_issue_list() -> None:
    assert FAULT_KINDS == ("down", "latency", "errors", "memory_leak", "queue_backlog",
                           "rate_limit", "db_pool_exhaustion")
    assert set(APPLICABLE) == set(FAULT_KINDS)


def test_kinds_for_each_service_kind() -> None:
    assert kinds_for(ServiceKind.DATABASE) == ("down", "latency", "errors", "memory_leak",
                                               "db_pool_exhaustion")
    assert kinds_for(ServiceKind.ORCHESTRATOR) == ("down", "latency", "errors", "memory_leak",
                                                   "queue_backlog")
    assert kinds_for(ServiceKind.PROVIDER) == ("down", "latency", "errors", "rate_limit")
    assert kinds_for(ServiceKind.GIT) == ("down", "latency", "errors", "rate_limit")
    assert kinds_for(ServiceKind.WORKER) == ("down", "latency", "errors", "memory_leak")


def test_unknown_kind_lists_every_kind(book: FaultBook) -> None:
    with pytest.raises(ValueError) as err:
        book.inject("api", "foo", 60)
    assert str(err.value) == (
        "unknown kind 'foo'; one of down, latency, errors, memory_leak, queue_backlog, "
        "rate_limit, db_pool_exhaustion")


def test_unknown_service_lists_every_service(book: FaultBook) -> None:
    with pytest.raises(ValueError, match=r"unknown service 'web'; one of orchestrator, "
                                         r"worker-1, worker-2, worker-3, api, dashboard, "
                                         r"database, openai, anthropic, github, gitlab"):
        book.inject("web", "down", 60)


def test_inapplicable_kind_names_the_valid_ones(book: FaultBook) -> None:
    with pytest.raises(ValueError) as err:
        book.inject("openai", "db_pool_exhaustion", 60)
    assert str(err.value) == ("kind 'db_pool_exhaustion' does not apply to openai (provider); "
                              "for openai use one of down, latency, errors, rate_limit")
    with pytest.raises(ValueError, match="does not apply to api"):
        book.inject("api", "rate_limit", 60)


@pytest.mark.parametrize("duration", [0, 0.5, -3, 86400.5, math.nan, math.inf, "60", None, True])
def test_bad_durations_are_rejected(book: FaultBook, duration: object) -> None:
    with pytest.raises(ValueError, match="duration_s must be between 1 and 86400"):
        book.inject("api", "errors", duration)  # type: ignore[arg-type]
    assert book.active() == []


@pytest.mark.parametrize("duration", [1, 1.0, 86400])
def test_durations_at_the_bounds_are_accepted(book: FaultBook, duration: float) -> None:
    fault = book.inject("api", "errors", duration)
    assert fault.ends - fault.started == duration


def test_inject_uses_the_clock_and_numbers_faults(book: FaultBook, clock: FakeClock) -> None:
    first = book.inject("worker-2", "down", 30)
    clock.now += 5
    second = book.inject("github", "rate_limit", 90.5)
    assert first == Fault("f1", "worker-2", "down", T0, T0 + 30)
    assert second == Fault("f2", "github", "rate_limit", T0 + 5, T0 + 95.5)
    assert second.as_dict(clock.now) == {
        "id": "f2", "service": "github", "kind": "rate_limit", "started": T0 + 5,
        "ends": T0 + 95.5, "remaining_s": 90.5}


def test_faults_expire_at_their_end(book: FaultBook, clock: FakeClock) -> None:
    short = book.inject("api", "latency", 10)
    long = book.inject("database", "db_pool_exhaustion", 100)
    clock.now = T0 + 9.999
    assert book.active() == [short, long]
    clock.now = T0 + 10
    assert book.active() == [long]
    assert short in book.timeline()
    clock.now = T0 + 100
    assert book.expire() == [long]
    assert book.active() == []
    assert set(book.timeline()) == {short, long}


def test_clear_truncates_to_now_and_keeps_history(book: FaultBook, clock: FakeClock) -> None:
    book.inject("api", "errors", 600)
    clock.now = T0 + 42
    cut = book.clear()
    assert cut == [Fault("f1", "api", "errors", T0, T0 + 42)]
    assert book.active() == []
    assert book.timeline() == (Fault("f1", "api", "errors", T0, T0 + 42),)
    assert not cut[0].active_at(T0 + 42)
    assert cut[0].active_at(T0 + 41.9)


def test_record_adds_past_incidents_to_the_timeline(book: FaultBook) -> None:
    past = Fault("history-1", "worker-2", "down", T0 - 3600, T0 - 3300)
    book.record([past])
    assert book.timeline() == (past,)
    assert book.active() == []


def test_custom_service_map(clock: FakeClock) -> None:
    book = FaultBook(clock, {"db": ServiceKind.DATABASE})
    assert book.inject("db", "db_pool_exhaustion", 5).service == "db"
    with pytest.raises(ValueError, match="unknown service 'api'; one of db"):
        book.inject("api", "down", 5)
