"""Root-cause hints: rank unusual services by the dependency graph (upstream first) and onset."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


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
) -> list[tuple[str, str]]:
    """Unusual services, likeliest cause first, each with the reason for its place.

    A service is a root candidate when nothing it depends on went wrong before it (within
    ``slack_s``). Roots come first, those with more dependants that turned unusual after them
    first, then the earliest; the others follow by onset, each naming the upstream service
    that explains it.
    """
    ups = {s: upstream(depends_on, s) & onsets.keys() for s in onsets}
    downs = {
        s: {d for d in onsets if s in ups[d] and onsets[d] + slack_s >= onsets[s]} for s in onsets
    }
    ranked: list[tuple[tuple[int, int, float, str], str, str]] = []
    for s, t in onsets.items():
        earlier = sorted((onsets[u], u) for u in ups[s] if onsets[u] <= t + slack_s)
        if earlier:
            reason = f"depends on {earlier[0][1]}, which turned unusual first"
            ranked.append(((1, 0, t, s), s, reason))
            continue
        n = len(downs[s])
        reason = "earliest unusual service" if t == min(onsets.values()) else "no unusual upstream"
        if n:
            reason += f"; {n} unusual service{'s' if n > 1 else ''} depend{'' if n > 1 else 's'}"
            reason += " on it"
        ranked.append(((0, -n, t, s), s, reason))
    return [(s, why) for _, s, why in sorted(ranked)]
