"""Finding personal numbers however they are typed: full-width digits, separators, zero-width
characters, Chinese numerals.

A normalised copy of the text is searched (NFKC, format characters dropped, Chinese numerals
read as digits), and every span found there is mapped back to the original, so the caller
masks the original text and everything around the number stays as typed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

Kind = Literal["id", "phone", "card"]

# Spoken and written digits: "一九九一二三四二零八八", "幺三九…" (幺 is how 1 is read aloud).
_NUMERALS = str.maketrans("零〇一二三四五六七八九幺", "001234567891")
# What people put between the digit groups of one number; at most 3 of them in a row.
_SEPARATORS = " .()_-\u2010\u2011\u2012\u2013\u2014\u2212/"
_GROUP = re.compile(r"\d+(?:[Xx](?![A-Za-z]))?")
_MAX_GAP = 3
_MAX_DIGITS = 19
_DIGITISH = re.compile(r"[\d零〇一二三四五六七八九幺]")
_PHONE = re.compile(r"(?:0086|86)?1[3-9]\d{9}")
_ID = re.compile(r"\d{17}[\dX]")


@dataclass(frozen=True)
class NumberSpan:
    """A personal number at original[start:end]; `value` holds its digits only."""

    start: int
    end: int
    kind: Kind
    value: str


# Every format character (category Cf, Unicode 15): zero-width spaces and joiners, BOM, bidi
# controls, tags. Written out: deriving it from unicodedata costs 0.1-0.2 s per process.
FORMAT_CHARS = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f]"
)


@lru_cache(maxsize=8192)
def _folded(ch: str) -> str:
    """One character as searched: NFKC ("１" -> "1", "（" -> "("), nothing for a format
    character."""
    return "" if FORMAT_CHARS.match(ch) else unicodedata.normalize("NFKC", ch)


def folded(text: str) -> tuple[str, Sequence[int]]:
    """`text` with every character folded, and for each character of the result the index of
    the original one it came from."""
    parts = list(map(_folded, text))
    joined = "".join(parts)
    if len(joined) == len(text) and "" not in parts:  # one for one: the usual case
        return joined, range(len(text))
    where = [i for i, part in enumerate(parts) for _ in part]
    return joined, where


def _normalised(text: str) -> tuple[str, Sequence[int]]:
    """The searchable copy of `text`, and for each of its characters the original index."""
    norm, where = folded(text)
    return norm.translate(_NUMERALS), where  # numerals map one character to one


def _kind(groups: list[str]) -> Kind | None:
    """What the joined digit groups are, if a personal number."""
    value = "".join(groups).upper()
    if _ID.fullmatch(value):
        return "id"
    if "X" in value:
        return None
    if _PHONE.fullmatch(value):
        return "phone"
    if 16 <= len(value) <= 19 and (len(groups) == 1 or _card_grouping(groups)):
        return "card"
    return None


def _card_grouping(groups: list[str]) -> bool:
    """Cards are written in groups of four, the last one possibly shorter."""
    return all(len(g) == 4 for g in groups[:-1]) and 1 <= len(groups[-1]) <= 4


def _runs(norm: str) -> list[list[re.Match[str]]]:
    """Digit groups joined only by separators, as runs of consecutive groups."""
    runs: list[list[re.Match[str]]] = []
    for match in _GROUP.finditer(norm):
        if runs:
            last = runs[-1][-1]
            gap = norm[last.end() : match.start()]
            if last.end() == match.start() or (
                len(gap) <= _MAX_GAP and all(c in _SEPARATORS for c in gap)
            ):
                runs[-1].append(match)
                continue
        runs.append([match])
    return runs


def _first_match(run: list[re.Match[str]], i: int) -> tuple[int, Kind] | None:
    """The number starting at group i: an ID first, then a phone, then a card."""
    found: dict[Kind, int] = {}
    digits = 0
    for j in range(i, len(run)):
        digits += len(run[j].group())
        if digits > _MAX_DIGITS:
            break
        kind = _kind([m.group() for m in run[i : j + 1]])
        if kind == "card":
            found[kind] = j  # the longest: "6222 0212 3456 7890 123" is one card
        elif kind is not None:
            found.setdefault(kind, j)
    for kind in ("id", "phone", "card"):
        if kind in found:
            return found[kind], kind
    return None


def _letter_next_to(norm: str, start: int, end: int) -> bool:
    before = norm[start - 1] if start > 0 else ""
    after = norm[end] if end < len(norm) else ""
    return any(c.isascii() and c.isalpha() for c in before + after)


def find_numbers(text: str) -> list[NumberSpan]:
    """Every phone, ID and card number in `text`, as spans of the original text."""
    if len(_DIGITISH.findall(text)) < 11:
        return []
    norm, where = _normalised(text)
    spans: list[NumberSpan] = []
    for run in _runs(norm):
        i = 0
        while i < len(run):
            hit = _first_match(run, i)
            if hit is None:
                i += 1
                continue
            j, kind = hit
            start, end = run[i].start(), run[j].end()
            if kind == "id" and _letter_next_to(norm, start, end):
                i += 1
                continue
            value = "".join(m.group() for m in run[i : j + 1]).upper()
            spans.append(_original_span(text, norm, where, start, end, kind, value))
            i = j + 1
    return spans


def _original_span(
    text: str, norm: str, where: Sequence[int], start: int, end: int, kind: Kind, value: str
) -> NumberSpan:
    """Map a span of the normalised copy back; take a "+" or an opening "(" along with it."""
    first, last = where[start], where[end - 1] + 1
    before = norm[start - 1] if start > 0 else ""
    if before == "+" or (before == "(" and ")" in norm[start:end]):
        first = where[start - 1]
    return NumberSpan(first, last, kind, value)
