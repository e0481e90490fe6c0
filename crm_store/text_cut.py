"""Cutting text for length where a reader expects it: at a sentence or clause end, never in
the middle of a number ("房贷利率3." is worse than no number at all) or of a Latin-letter word
(a pinyin name cut to "HEJUN…" is neither the name nor nothing)."""

from __future__ import annotations

import re

_BREAKS = "。！？；!?;\n，,、 "
_IN_WORD = re.compile(r"[\dA-Za-z.,%％]")


def shorten(text: str, limit: int, *, ellipsis: str = "…") -> str:
    """`text` if it fits, else its longest prefix (plus an ellipsis) that ends at a break."""
    if len(text) <= limit:
        return text
    room = max(1, limit - len(ellipsis))
    cut = max(text.rfind(mark, 0, room + 1) for mark in _BREAKS)
    if cut >= room // 2:
        return text[:cut].rstrip(_BREAKS) + ellipsis
    end = room
    while end > 0 and _IN_WORD.match(text[end - 1]) and _IN_WORD.match(text[end]):
        end -= 1  # never end inside a number or a word
    return text[:end].rstrip(_BREAKS) + ellipsis
