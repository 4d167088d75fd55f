"""A "did you mean" hint for a mistyped name from a fixed set (a kind, a key, a severity), and
the config tables' "unknown key" problems that carry it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Set
from typing import Any

CUTOFF = 0.6  # difflib's own default: close enough to be the intended word, not a guess


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice to ``word``, or "" when none is close.

    Case is ignored when comparing (``API`` suggests ``api``); the choice is quoted as spelt.
    A ``word`` that is not a string (a number where a name belongs) gets no hint.
    """
    if not isinstance(word, str) or not word:
        return ""
    by_folded: dict[str, str] = {}
    for choice in choices:
        by_folded.setdefault(choice.casefold(), choice)
    found = difflib.get_close_matches(word.casefold(), list(by_folded), n=1, cutoff=CUTOFF)
    return f" (did you mean {by_folded[found[0]]!r}?)" if found else ""


def unknown_keys(raw: Mapping[str, Any], known: Set[str], where: str = "") -> list[str]:
    """One problem per key of ``raw`` not in ``known``: ``"<where>: unknown key 'x' (did you
    mean 'y'?); known keys are ..."`` (no ``<where>: `` when ``where`` is empty)."""
    prefix = f"{where}: " if where else ""
    return [f"{prefix}unknown key '{key}'{did_you_mean(key, known)}; "
            f"known keys are {', '.join(sorted(known))}" for key in sorted(set(raw) - known)]
