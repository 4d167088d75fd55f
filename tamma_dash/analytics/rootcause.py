"""Root-cause hints: rank unusual services by the dependency graph (upstream first) and onset."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

LEAD_S = 60.0  # how long before its down dependency a dependant's trouble may have begun


def upstream(depends_on: Mapping[str, Sequence[str]], service: str) -> set[str]:
    """Every service ``service`` depends on, directly or not (cycles tolerated)."""
    seen: set[str] = set()
    todo = list(depends_on.get(service, ()))
    while todo:
        dep = todo.pop()
        if dep not in seen and dep != service:
            seen.add(dep)
            todo.extend(depends_on.get(dep, ()))
    return seen


def rank_causes(
    depends_on: Mapping[str, Sequence[str]],
    onsets: Mapping[str, float],
    *,
    slack_s: float = 0.0,
    down: Collection[str] = (),
    lead_s: float = LEAD_S,
) -> list[tuple[str, str]]:
    """Unusual services, likeliest cause first, each with the reason for its place.

    A service is a root candidate when nothing it depends on went wrong before it (within
    ``slack_s``) and, unless it is down itself, nothing it depends on is ``down`` now: a
    dependency that stopped answering explains a dependant's lesser trouble that began up to
    ``lead_s`` before it (a dependant degraded a little earlier, by a slow probe, must not take
    the blame; trouble that began minutes before has a story of its own). Roots come first,
    those with more dependants that they explain first, then the earliest; the others follow by
    onset, each naming the upstream service that explains it.
    """
    ups = {s: upstream(depends_on, s) & onsets.keys() for s in onsets}

    def explains(u: str, s: str) -> bool:
        # a down service explains a merely unusual one that began shortly before it
        hard = u in down and s not in down and onsets[s] >= onsets[u] - lead_s
        return u in ups[s] and (hard or onsets[u] <= onsets[s] + slack_s)

    downs = {s: {d for d in onsets if explains(s, d)} for s in onsets}
    ranked: list[tuple[tuple[int, int, float, str], str, str]] = []
    for s, t in onsets.items():
        earlier = sorted((u not in down, onsets[u], u) for u in ups[s] if explains(u, s))
        if earlier:
            u = earlier[0][2]
            why = "which is down" if u in down else "which turned unusual first"
            ranked.append(((1, 0, t, s), s, f"depends on {u}, {why}"))
            continue
        n = len(downs[s])
        reason = "earliest unusual service" if t == min(onsets.values()) else "no unusual upstream"
        if n:
            reason += f"; {n} unusual service{'s' if n > 1 else ''} depend{'' if n > 1 else 's'}"
            reason += " on it"
        ranked.append(((0, -n, t, s), s, reason))
    return [(s, why) for _, s, why in sorted(ranked)]
