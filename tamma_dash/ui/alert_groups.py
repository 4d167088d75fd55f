"""Active alerts grouped by root cause, each group with the analytics' hint that concerns it.

Plain functions: the AlertManager's groups (``{"root", "cause", "symptoms"}``), the active alert
dicts and the fleet's :class:`RootCauseHint` in, components out. The hint is shown on every
group whose root, cause or symptoms share a service with it ("api degraded; likely cause:
database pool exhausted, since 14:02:10"), as text, with a link to the cause at ``since``; a
hint that concerns no group is shown once above them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from dash import dcc, html

from tamma_dash.analytics.hints import SHARED_CAUSE, RootCauseHint
from tamma_dash.ui.a11y import aria
from tamma_dash.ui.alerts_view import Alert, alert_item

Hint = RootCauseHint | Mapping[str, Any] | None


def as_hint(hint: Hint) -> RootCauseHint | None:
    """The hint as a record (the analytics view may hand over its dict form)."""
    if hint is None or isinstance(hint, RootCauseHint):
        return hint
    return RootCauseHint.from_dict(hint)


def hint_services(hint: RootCauseHint) -> set[str]:
    """Every service the hint names: the likely cause and those it affects."""
    return {hint.cause, *(service for service, _ in hint.affected)}


def group_services(group: Mapping[str, Any]) -> set[str]:
    """The group's root and the services of its cause and symptom alerts."""
    alerts: list[Alert] = [a for a in (group.get("cause"), *(group.get("symptoms") or [])) if a]
    return {str(group["root"]), *(str(a.get("service", "")) for a in alerts)}


def concerns(hint: RootCauseHint | None, group: Mapping[str, Any]) -> bool:
    """Whether the hint is about this group (they share at least one service)."""
    return hint is not None and bool(hint_services(hint) & group_services(group))


COMPARE_WINDOW_S = 900.0  # each side of the onset on the Trends page


def cause_href(hint: RootCauseHint) -> str:
    """Where the hint's link goes: the likely cause's service page at the onset
    (``/service/<cause>?t=<since>``), or, when independent services turned unusual together,
    the Trends page comparing their response times (and those of a dependency they all use)
    with this host's CPU and load then."""
    if not hint.together:
        return f"/service/{quote(hint.cause, safe='')}?t={hint.since:.0f}"
    shared = [d for d in hint.problem.split(", ") if d]  # a dependency they all use
    series = [f"{s}/response_time_ms" for s in (*hint.together, *shared)]
    series += [f"{SHARED_CAUSE}/cpu_percent", f"{SHARED_CAUSE}/load1"]
    return (f"/trends?series={','.join(quote(k, safe='/') for k in series)}&mode=stack"
            f"&start={hint.since - COMPARE_WINDOW_S:.0f}&end={hint.since + COMPARE_WINDOW_S:.0f}")


def cause_label(hint: RootCauseHint, suffix: str = "") -> str:
    """The link's words: 'Open database at that moment' or 'Compare them on Trends'."""
    return "Compare them on Trends" if hint.together else f"Open {hint.cause}{suffix}"


def hint_line(hint: RootCauseHint) -> Any:
    """The hint's sentence as text and a link to the cause at its onset."""
    return html.P([
        html.Span("Analytics: ", className="fw-semibold"), hint.text(), " ",
        dcc.Link(cause_label(hint, " at that moment"), href=cause_href(hint),
                 className="alert-link"),
    ], className="alert-group-hint small alert alert-warning py-1 px-2 mb-2", role="note")


def group_block(group: Mapping[str, Any], now: float, hint: Hint = None) -> Any:
    """A root cause, the analytics' hint when it concerns the group, and the symptoms."""
    root, cause, symptoms = group["root"], group.get("cause"), group.get("symptoms") or []
    title = f"{root}: root cause" if cause else f"{root}: symptoms of an unalerted cause"
    found = as_hint(hint)
    n = len(symptoms)
    return html.Section([
        html.H3(title, className="h6 mb-2"),
        hint_line(found) if found is not None and concerns(found, group) else None,
        alert_item(cause, now) if cause else None,
        html.Div([
            html.P(f"{n} symptom{'s' * (n != 1)} gathered under {root}",
                   className="small text-body-secondary mb-1"),
            *[alert_item(a, now) for a in symptoms],
        ], className="alert-symptoms ms-3") if symptoms else None,
    ], className="alert-group mb-3", **aria(f"alerts caused by {root}"))


def active_section(groups: Sequence[Mapping[str, Any]], active: Sequence[Alert], now: float,
                   hint: Hint = None) -> Any:
    """Firing and acknowledged alerts grouped by root cause, then pending ones."""
    found = as_hint(hint)
    pending = [a for a in active if a.get("state") == "pending"]
    alone = found is not None and not any(concerns(found, g) for g in groups)
    parts = [hint_line(found)] if alone and found is not None else []
    if not groups and not pending:
        return html.Div([*parts, html.P("✔ No active alerts.", className="mb-0")])
    parts += [group_block(g, now, found) for g in groups]
    if pending:
        parts.append(html.Section([html.H3("Pending (not firing yet)", className="h6 mb-2"),
                                   *[alert_item(a, now) for a in pending]],
                                  className="alert-group mb-3"))
    return html.Div(parts)


def hint_key(hint: Hint) -> str:
    """What of the hint a re-render depends on (its sentence), for the page's signature."""
    found = as_hint(hint)
    return found.text() if found is not None else ""
