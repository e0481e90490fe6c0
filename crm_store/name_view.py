"""Names as they may be written to dodge a match: "何 俊 杰", zero-width characters inside,
traditional characters ("何俊傑"), full-width letters, pinyin ("He Junjie").

A `NameView` is a normalised copy of a text with, for each of its characters, the index of
the original character it came from: names are found on the copy and acted on in the
original.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from crm_store.number_spans import folded

# Characters slipped between the characters of one name: dropped when they sit between two
# Chinese characters. Real punctuation ("、", "，") is kept, so a list stays a list.
_GLUE = frozenset(" \t\u3000·•・.-_*|/~'\"`^+")
_GLUED = re.compile("[\u4e00-\u9fff][" + re.escape("".join(sorted(_GLUE))) + "]+[\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
_MAX_SYLLABLE_WORDS = 4


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


@cache
def tra2sim_table() -> dict[int, str]:
    """Traditional to simplified, one character for one (jionlp's table, read without
    importing jionlp, which takes a second to load)."""
    spec = importlib.util.find_spec("jionlp")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / "dictionary" / "tra2sim_char.txt"
    table: dict[int, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and len(parts[0]) == 1 and len(parts[1]) == 1:
            table[ord(parts[0])] = parts[1]
    return table


def simplified(text: str) -> str:
    """`text` with traditional characters written simplified (same length)."""
    return text.translate(tra2sim_table())


@dataclass(frozen=True)
class NameView:
    """A normalised copy of a text: `text` as typed (NFKC, glue and format characters out),
    `simple` the same in simplified characters, and `where[i]` the original index of both."""

    text: str
    simple: str
    where: Sequence[int]

    def spans(self, name: str) -> list[tuple[int, int]]:
        """Where `name` occurs, as (start, end) of the original text, in either form."""
        found: set[tuple[int, int]] = set()
        for haystack in (self.text, self.simple):
            start = haystack.find(name)
            while start >= 0:
                end = start + len(name)
                found.add((self.where[start], self.where[end - 1] + 1))
                start = haystack.find(name, start + 1)
        return sorted(found)


def name_view(text: str) -> NameView:
    """The normalised copy of `text` used to find names in it."""
    chars, where = folded(text)
    if not _GLUED.search(chars):  # the usual case: nothing slipped between characters
        return NameView(chars, simplified(chars), where)
    kept_chars: list[str] = []
    kept_where: list[int] = []
    for k, ch in enumerate(chars):
        if ch in _GLUE and kept_chars and _is_cjk(kept_chars[-1]) and _next_is_cjk(chars, k):
            continue
        kept_chars.append(ch)
        kept_where.append(where[k])
    joined = "".join(kept_chars)
    return NameView(joined, simplified(joined), kept_where)


def _next_is_cjk(chars: str, k: int) -> bool:
    for ch in chars[k + 1 :]:
        if ch not in _GLUE:
            return _is_cjk(ch)
    return False


def pinyin_spans(view: NameView) -> dict[str, list[tuple[int, int]]]:
    """Runs of 1-4 Latin words, lower case and joined ("He Junjie" -> "hejunjie", also
    "junjiehe" for a surname written last), with where each run is in the original text."""
    words = list(_LATIN_WORD.finditer(view.text))
    found: dict[str, list[tuple[int, int]]] = {}
    for i in range(len(words)):
        for j in range(i, min(i + _MAX_SYLLABLE_WORDS, len(words))):
            if j > i and not _joined(view.text[words[j - 1].end() : words[j].start()]):
                break
            run = [w.group().lower() for w in words[i : j + 1]]
            span = (view.where[words[i].start()], view.where[words[j].end() - 1] + 1)
            for key in {"".join(run), "".join(run[1:] + run[:1])}:
                found.setdefault(key, []).append(span)
    return found


def _joined(gap: str) -> bool:
    """Whether two Latin words are parts of one name: only spaces, hyphens or dots between."""
    return 0 < len(gap) <= 2 and all(c in " -.·'" for c in gap)
