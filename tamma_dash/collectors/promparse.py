"""Prometheus text exposition -> families of parsed samples, lean enough to run every tick.

Families are grouped as ``prometheus_client.parser`` groups them: ``# HELP`` / ``# TYPE`` open a
family, and a sample whose name does not belong to the open family is an untyped family of its
own (consecutive samples of one such name are kept together). Each distinct series text
(``name{labels}``) is parsed once by ``prometheus_client.parser`` and cached, so a steady scrape
costs a split, a dict lookup and a ``float()`` per line instead of a character-by-character scan.

Not supported, as in the library's own text parser: OpenMetrics exemplars. Exposition timestamps
are validated and ignored (the scrape time is the sample time). ``# EOF`` ends the text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from prometheus_client.parser import text_string_to_metric_families

from tamma_dash.models import Labels

COUNTER, GAUGE, HISTOGRAM, SUMMARY, UNTYPED = "counter", "gauge", "histogram", "summary", "untyped"
_MEMBERS: dict[str, tuple[str, ...]] = {
    COUNTER: ("", "_total", "_created"),
    GAUGE: ("",),
    HISTOGRAM: ("_bucket", "_count", "_sum", "_created"),
    SUMMARY: ("", "_count", "_sum", "_created"),
    UNTYPED: ("",),
}
_COMPLEX = (COUNTER, HISTOGRAM, SUMMARY)  # types whose ``<name>_created`` is a timestamp
_CACHE_LIMIT = 50_000


class ParseError(ValueError):
    """The text is not valid exposition; the message names the line and what is wrong."""


class Series(NamedTuple):
    """What a series text means, computed once and cached: names, labels, folded forms."""

    name: str
    labels: Labels  # sorted (name, value) pairs
    text: str  # labels folded for a metric name: '{a="x",b="y"}' or ''
    le: str  # the ``le`` label of a histogram bucket, '' if none
    group_text: str  # ``text`` without ``le``: names one histogram of a family


@dataclass(slots=True)
class RawFamily:
    """One family's unparsed sample lines, grouped so a family can be skipped unparsed."""

    name: str
    type: str
    lines: list[tuple[int, str, str]] = field(default_factory=list)  # (line no, name, text)


def fold(labels: Labels) -> str:
    """Labels as they would be written in exposition, sorted: ``{a="x",b="y"}``."""
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def split_families(text: str) -> Iterator[RawFamily]:
    """Group the lines of ``text`` into families without parsing their samples."""
    fam = RawFamily("", UNTYPED)
    members: frozenset[str] = frozenset()
    complex_names: set[str] = set()  # counters, histograms, summaries: their _created is noise
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if not line:
            continue
        if line[0] == "#":
            directive = _directive(line, lineno)
            if directive is None:
                continue
            if directive[0] == "EOF":
                break
            _, name, kind = directive
            if name != fam.name:
                if fam.name or fam.lines:
                    yield fam
                fam, members = RawFamily(name, UNTYPED), frozenset((name,))
            if kind:
                fam.type = kind
                members = frozenset(name + s for s in _MEMBERS[kind])
                if kind in _COMPLEX:
                    complex_names.add(name.removesuffix("_total"))
            continue
        sample_name = line.split(None, 1)[0].partition("{")[0]
        if sample_name not in members:
            if fam.name or fam.lines:
                yield fam
            fam, members = RawFamily(sample_name, UNTYPED), frozenset((sample_name,))
        if sample_name.endswith("_created") and (
            fam.type in _COMPLEX or sample_name[:-8] in complex_names
        ):
            continue  # creation timestamps of counters/histograms/summaries: not measurements
        fam.lines.append((lineno, sample_name, line))
    if fam.name or fam.lines:
        yield fam


def _directive(line: str, lineno: int) -> tuple[str, str, str] | None:
    """``# HELP`` / ``# TYPE`` / ``# EOF`` as (word, family, type or ''); None for comments."""
    parts = line.split(None, 3)
    if len(parts) >= 2 and parts[1] == "EOF":
        return ("EOF", "", "")
    if len(parts) < 3 or parts[1] not in ("HELP", "TYPE"):
        return None
    if parts[1] == "HELP":
        return ("HELP", parts[2], "")
    if len(parts) < 4:
        raise ParseError(f"line {lineno}: TYPE without a type: {line[:80]!r}")
    kind = parts[3].strip()
    return ("TYPE", parts[2], kind if kind in _MEMBERS else UNTYPED)


class SeriesParser:
    """Parses sample lines, remembering what each series text means between scrapes."""

    def __init__(self, cache_limit: int = _CACHE_LIMIT) -> None:
        self._cache: dict[str, Series] = {}
        self._limit = cache_limit

    def parse(self, family: RawFamily) -> list[tuple[Series, float]]:
        """All samples of ``family`` as (series, value); raises ParseError on the first bad line."""
        out: list[tuple[Series, float]] = []
        for lineno, _, line in family.lines:
            try:
                out.append(self.parse_line(line))
            except ValueError as exc:
                raise ParseError(f"line {lineno}: {exc}: {line[:80]!r}") from None
        return out

    def parse_line(self, line: str) -> tuple[Series, float]:
        """One stripped sample line -> (series, value); raises ValueError."""
        brace = line.find("{")
        if brace < 0:
            tokens = line.split()
            series_text = tokens.pop(0)
        else:
            close = line.rfind("}")
            if close < brace:
                raise ValueError("labels without a closing '}'")
            series_text = line[: close + 1]
            tokens = line[close + 1 :].split()
        if not 1 <= len(tokens) <= 2:
            raise ValueError("expected a value and an optional timestamp after the series")
        value = _number(tokens[0])
        if len(tokens) == 2:
            _number(tokens[1])
        series = self._cache.get(series_text)
        if series is None:
            series = self._identify(series_text)
        return series, value

    def _identify(self, series_text: str) -> Series:
        try:
            families = list(text_string_to_metric_families(series_text + " 0\n"))
            sample = families[0].samples[0]
        except (ValueError, IndexError, KeyError) as exc:
            raise ValueError(f"invalid series ({exc})") from None
        labels: Labels = tuple(sorted(sample.labels.items()))
        group = tuple(kv for kv in labels if kv[0] != "le")
        le = sample.labels.get("le", "")
        series = Series(sample.name, labels, fold(labels), le, fold(group))
        if len(self._cache) >= self._limit:
            self._cache.clear()
        self._cache[series_text] = series
        return series


def _number(token: str) -> float:
    """A value as Prometheus writes it (``1.5e3``, ``NaN``, ``+Inf``); no ``_`` separators."""
    if "_" in token:
        raise ValueError(f"invalid number {token!r}")
    try:
        return float(token)
    except ValueError:
        raise ValueError(f"invalid number {token!r}") from None
