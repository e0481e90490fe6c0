"""Redacting the names of customers the actor may not see, without telling them who those are.

A name is redacted only where someone else or the model wrote it, and only if the asker could
not have chosen it: names the asker typed (in this message, in any earlier message or in their
own notes) come back as typed, and the fixed texts of replies are never touched. So the reply
never depends on whether a name the asker chose belongs to a hidden customer.

Names are found on a normalised copy (spacing, zero-width characters, traditional characters,
full-width letters, pinyin) and redacted in the original.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cache

from sqlalchemy.orm import Session

from crm_store.customers import name_candidates, names_in_scope
from crm_store.name_scope import pinyins_in_scope, written_by
from crm_store.name_view import NameView, name_view, pinyin_spans
from crm_store.permissions import Actor
from crm_store.pinyin import name_pinyin
from handlers.texts import fixed_texts

REDACTED = "***"
Span = tuple[int, int]


def redact_hidden_names(
    session: Session,
    actor: Actor | None,
    today: date,
    text: str,
    allowed: frozenset[str] = frozenset(),
    asked: str = "",
) -> str:
    """Replace the names of customers the actor cannot see, keeping those they can, those
    in `allowed` (rendered on purpose) and those the asker typed (`asked`, and before)."""
    view = name_view(text)
    names = names_in_scope(
        session, actor=actor, today=today, names=name_candidates(view.text) | _simple(view)
    )
    spelt = pinyin_spans(view)
    pinyins = pinyins_in_scope(session, actor=actor, today=today, pinyins=set(spelt))
    typed = _Typed(asked, allowed)
    hidden = {n for n, visible in names.items() if not visible and not typed.name(n)}
    hidden_pinyin = {
        p for p, found in pinyins.items() if not found.visible and not typed.pinyin(p, found.names)
    }
    if not hidden and not hidden_pinyin:
        return text
    if actor is not None:  # the asker's own earlier words
        own = written_by(
            session, actor.staff_id, hidden | {n for p in hidden_pinyin for n in pinyins[p].names}
        )
        hidden -= own
        hidden_pinyin = {p for p in hidden_pinyin if not pinyins[p].names & own}
    spans = _claim(view, sorted(names, key=len, reverse=True), hidden)
    spans += _claim_pinyin(spelt, sorted(pinyins, key=len, reverse=True), hidden_pinyin)
    return _replace(text, _outside_fixed_text(text, spans))


def _simple(view: NameView) -> set[str]:
    return name_candidates(view.simple) if view.simple != view.text else set()


class _Typed:
    """Names the asker typed in this message (or that a handler rendered on purpose)."""

    def __init__(self, asked: str, allowed: frozenset[str]) -> None:
        view = name_view(asked)
        self.names = name_candidates(view.text) | name_candidates(view.simple) | allowed
        self.pinyins = set(pinyin_spans(view))

    def name(self, name: str) -> bool:
        return name in self.names or (bool(self.pinyins) and name_pinyin(name) in self.pinyins)

    def pinyin(self, spelt: str, names: frozenset[str]) -> bool:
        return spelt in self.pinyins or bool(names & self.names)


def _claim(view: NameView, names: list[str], hidden: set[str]) -> list[Span]:
    """Longest name first, each place in the text goes to one name: a visible "王芳芳"
    keeps its "王芳", a hidden "韩梅梅" is not cut short by a visible "梅梅"."""
    claimed: list[Span] = []
    redacted: list[Span] = []
    for name in names:
        for span in view.spans(name):
            if any(_overlap(span, other) for other in claimed):
                continue
            claimed.append(span)
            if name in hidden:
                redacted.append(span)
    return redacted


def _claim_pinyin(spelt: dict[str, list[Span]], pinyins: list[str], hidden: set[str]) -> list[Span]:
    claimed: list[Span] = []
    redacted: list[Span] = []
    for pinyin in pinyins:
        for span in spelt[pinyin]:
            if any(_overlap(span, other) for other in claimed):
                continue
            claimed.append(span)
            if pinyin in hidden:
                redacted.append(span)
    return redacted


def _overlap(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


@cache
def _fixed_pieces() -> tuple[str, ...]:
    """The literal pieces of every fixed text that could hold a name (two Chinese characters,
    or a word a pinyin could spell), longest first."""
    pieces = {
        piece
        for template in fixed_texts()
        for piece in re.split(r"\{[^{}]*\}", template)
        if len(re.findall(r"[\u4e00-\u9fff]", piece)) >= 2 or re.search(r"[A-Za-z]{4}", piece)
    }
    return tuple(sorted(pieces, key=len, reverse=True))


def _outside_fixed_text(text: str, spans: list[Span]) -> list[Span]:
    """Drop the spans that lie wholly inside a piece of fixed text: a hidden customer called
    "客户" must not star the word in "没有找到您可查看的对应客户"."""
    if not spans:
        return spans
    fixed: list[Span] = []
    for piece in _fixed_pieces():
        start = text.find(piece)
        while start >= 0:
            fixed.append((start, start + len(piece)))
            start = text.find(piece, start + 1)
    return [s for s in spans if not any(f[0] <= s[0] and s[1] <= f[1] for f in fixed)]


def _replace(text: str, spans: list[Span]) -> str:
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + REDACTED + text[end:]
    return text
