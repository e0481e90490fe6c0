"""What the reply guard asks the database about names: which pinyin spells a customer the
actor may see, and which names the actor has written themselves (so they are never redacted
for them: a reply must not tell the asker which of their own words are hidden customers)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from itertools import product
from typing import Any

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.orm import Session

from crm_store.models import AuditLog, Customer, Interaction
from crm_store.name_view import name_view, pinyin_spans, tra2sim_table
from crm_store.permissions import Actor, customer_scope
from crm_store.pinyin import name_pinyin
from crm_store.sql_lists import one_of

# Rows read back per name to confirm a LIKE hit (which may be spread over a long text).
_ROWS_CHECKED = 200


@dataclass(frozen=True)
class PinyinNames:
    """The customers whose name is spelt by one pinyin: their names, and whether the actor
    may see at least one of them."""

    names: frozenset[str]
    visible: bool


def pinyins_in_scope(
    session: Session, *, actor: Actor | None, today: date, pinyins: set[str]
) -> dict[str, PinyinNames]:
    """For each of `pinyins` that spells a customer's name: those names and their visibility."""
    if not pinyins:
        return {}
    visible = func.max(case((customer_scope(actor, today), 1), else_=0))
    query = (
        select(Customer.name_pinyin, Customer.name, visible)
        .where(one_of(session, Customer.name_pinyin, pinyins))
        .group_by(Customer.name_pinyin, Customer.name)
    )
    names: dict[str, set[str]] = {}
    seen: dict[str, bool] = {}
    for spelt, name, in_scope in session.execute(query):
        names.setdefault(spelt, set()).add(name)
        seen[spelt] = seen.get(spelt, False) or bool(in_scope)
    return {p: PinyinNames(frozenset(names[p]), seen[p]) for p in names}


def written_by(session: Session, staff_id: str, names: set[str]) -> set[str]:
    """Those of `names` the staff member has typed: in a note they wrote or in any message
    (the audit log keeps each one redacted), however spaced, traditional or in pinyin."""
    found: set[str] = set()
    for name in names:
        for column, author in (
            (Interaction.content, Interaction.staff_id),
            (AuditLog.text_masked, AuditLog.actor_staff_id),
        ):
            rows = session.scalars(
                select(column)
                .where(author == staff_id, or_(*_patterns(column, name)))
                .limit(_ROWS_CHECKED)
            )
            if any(_names_in(text, name) for text in rows):
                found.add(name)
                break
    return found


def _patterns(column: Any, name: str) -> list[ColumnElement[bool]]:
    """LIKE patterns that any spelling of `name` matches: each character simplified or
    traditional with anything in between, or its pinyin syllables in any case."""
    spread = ["%" + "%".join(chars) + "%" for chars in product(*map(_spellings, name))]
    syllables = "%" + "%".join(_syllables(name)) + "%"
    return [
        *(column.like(p) for p in spread),
        func.lower(column).like(syllables),
    ]


def _names_in(text: str, name: str) -> bool:
    """Whether `text`, normalised, really holds `name` (a LIKE hit may be spread apart)."""
    view = name_view(text)
    return name in view.text or name in view.simple or name_pinyin(name) in pinyin_spans(view)


@cache
def _traditional() -> dict[str, frozenset[str]]:
    """Simplified character -> its traditional spellings (from the one-to-one table)."""
    spellings: dict[str, set[str]] = {}
    for tra, sim in tra2sim_table().items():
        spellings.setdefault(sim, set()).add(chr(tra))
    return {sim: frozenset(tras) for sim, tras in spellings.items()}


def _spellings(ch: str) -> list[str]:
    return sorted({ch, *_traditional().get(ch, ())})


def _syllables(name: str) -> list[str]:
    from pypinyin import Style, lazy_pinyin

    return [s.lower() for s in lazy_pinyin(name, style=Style.NORMAL, errors="default")]
