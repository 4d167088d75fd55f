"""Root-cause hints: upstream first, then onset order."""

from __future__ import annotations

from tamma_dash.analytics.rootcause import rank_causes, upstream

GRAPH = {
    "api": ["orchestrator", "database"],
    "orchestrator": ["database", "worker"],
    "worker": ["database", "llm"],
    "dashboard": ["api"],
}


def test_upstream_is_transitive_and_survives_cycles() -> None:
    assert upstream(GRAPH, "api") == {"orchestrator", "database", "worker", "llm"}
    assert upstream({"a": ["b"], "b": ["a"]}, "a") == {"b"}
    assert upstream(GRAPH, "database") == set()


def test_the_shared_dependency_that_failed_first_leads() -> None:
    onsets = {"api": 100.0, "orchestrator": 90.0, "database": 80.0, "dashboard": 101.0}
    assert rank_causes(GRAPH, onsets) == [
        ("database", "earliest unusual service; 3 unusual services depend on it"),
        ("orchestrator", "depends on database, which turned unusual first"),
        ("api", "depends on database, which turned unusual first"),
        ("dashboard", "depends on database, which turned unusual first"),
    ]


def test_an_upstream_that_failed_later_does_not_explain_earlier_trouble() -> None:
    assert rank_causes(GRAPH, {"api": 100.0, "llm": 120.0}) == [
        ("api", "earliest unusual service"),
        ("llm", "no unusual upstream"),
    ]


def test_slack_lets_near_simultaneous_upstream_onsets_count() -> None:
    onsets = {"worker": 100.0, "llm": 102.0}
    assert rank_causes(GRAPH, onsets)[0][0] == "worker"
    assert rank_causes(GRAPH, onsets, slack_s=5.0) == [
        ("llm", "no unusual upstream; 1 unusual service depends on it"),
        ("worker", "depends on llm, which turned unusual first"),
    ]


def test_no_onsets_no_causes() -> None:
    assert rank_causes(GRAPH, {}) == []


def test_a_down_dependency_explains_dependants_that_degraded_before_it() -> None:
    """The demo's pool exhaustion: api and orchestrator were already degraded (a slow probe)
    when the database went down; the database is the cause, not the earliest degraded one."""
    onsets = {"api": 100.0, "orchestrator": 107.0, "database": 122.0}
    assert rank_causes(GRAPH, onsets)[0][0] == "api"  # onset order alone blames api
    assert rank_causes(GRAPH, onsets, down={"database"}) == [
        ("database", "no unusual upstream; 2 unusual services depend on it"),
        ("api", "depends on database, which is down"),
        ("orchestrator", "depends on database, which is down"),
    ]


def test_a_dependant_that_went_down_first_is_not_explained_by_a_later_down() -> None:
    onsets = {"worker": 100.0, "database": 130.0}
    assert rank_causes(GRAPH, onsets, down={"worker", "database"}) == [
        ("worker", "earliest unusual service"),
        ("database", "no unusual upstream"),
    ]


def test_a_down_dependency_does_not_explain_trouble_that_began_minutes_before_it() -> None:
    """Seen live: the dashboard anomalous since start-up, anthropic down three minutes later;
    'likely cause: anthropic down' for the dashboard was wrong."""
    onsets = {"api": 100.0, "database": 100.0 + 180.0}
    assert rank_causes(GRAPH, onsets, down={"database"}) == [
        ("api", "earliest unusual service"),
        ("database", "no unusual upstream"),
    ]
    near = {"api": 100.0, "database": 100.0 + 59.0}
    assert rank_causes(GRAPH, near, down={"database"})[1] == (
        "api", "depends on database, which is down")
