"""Permission-trimmed retrieval: the scope comes from SQL, and every hit is re-checked in SQL.

The index is only a way to find candidates. What enters a prompt is read back from SQL at the
moment of asking: the note must still be live and its customer still visible to the asker, so
a customer reassigned a second ago (and not yet reindexed) is already out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.masking import mask_text
from crm_store.models import Customer, Interaction
from crm_store.permissions import Actor, customer_scope, visible_customer_ids
from crm_store.redaction import redact_secrets
from crm_store.sql_lists import one_of
from retrieval.answer import Lang, NoteForPrompt
from retrieval.entries import Hit
from retrieval.llm_gate import LlmGate

if TYPE_CHECKING:
    # Types only: numpy costs a CLI look-up ~0.1 s of imports it never uses.
    import numpy as np
    from langchain_core.language_models import BaseChatModel
    from numpy.typing import NDArray

    from retrieval.index import NoteIndex  # chromadb and langchain: not for a look-up

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")
SEE_ALL_ROLES = frozenset({"compliance"})


@dataclass(frozen=True)
class Retriever:
    """What question answering needs: the note index, the chat model (None: retrieval-only)."""

    index: NoteIndex
    model: BaseChatModel | None = None
    timeout: float = 20.0
    lang: Lang = "zh"
    allowed_link_hosts: frozenset[str] = frozenset()
    # Where the model's calls run, and how many at once (LLM_MAX_CONCURRENCY).
    gate: LlmGate = field(default_factory=LlmGate)

    def close(self) -> None:
        """Release the index (and its embedded lock) and stop the LLM calls' loop."""
        self.gate.close()
        self.index.close()


def search_scope(
    session: Session, actor: Actor | None, today: date, customer_id: str | None = None
) -> list[str] | None:
    """The customer ids a search may cover; None only for a see-all role, [] for nothing."""
    visible = visible_customer_ids(session, actor, today)
    if customer_id is not None:
        return [customer_id] if customer_id in visible else []
    if not visible:
        return []
    if actor is not None and actor.role in SEE_ALL_ROLES:
        return None  # compliance sees every customer: no point listing them all
    return sorted(visible)


def search_notes(
    session: Session,
    index: NoteIndex,
    *,
    actor: Actor | None,
    today: date,
    question: str,
    customer_id: str | None = None,
    k: int = 5,
    tz: tzinfo = DEFAULT_TZ,
) -> list[NoteForPrompt]:
    """The notes most relevant to `question` that `actor` may see now, most relevant first."""
    scope = search_scope(session, actor, today, customer_id)
    return search_in_scope(
        session, index, scope, actor=actor, today=today, question=question, k=k, tz=tz
    )


def search_in_scope(
    session: Session,
    index: NoteIndex,
    scope: list[str] | None,
    *,
    actor: Actor | None,
    today: date,
    question: str,
    k: int = 5,
    tz: tzinfo = DEFAULT_TZ,
    vector: NDArray[np.float32] | None = None,
    min_score: float | None = None,
) -> list[NoteForPrompt]:
    """`search_notes` over a scope the caller computed with `search_scope` just before.

    `vector`: the question's query vector when the caller has it already (the message
    reader embeds each message once); `min_score`: hits below this similarity are dropped.
    """
    if scope is not None and not scope:
        return []  # no accessible customers: the index is never asked
    if vector is None:
        vector = index.query_vector(question)
    hits = index.search_vector(vector, customer_ids=scope, k=k)
    if min_score is not None:
        hits = [h for h in hits if h.score >= min_score]
    return recheck(session, hits, actor=actor, today=today, scope=scope, tz=tz)


def recheck(
    session: Session,
    hits: Sequence[Hit],
    *,
    actor: Actor | None,
    today: date,
    scope: list[str] | None,
    tz: tzinfo = DEFAULT_TZ,
) -> list[NoteForPrompt]:
    """Hits as SQL says they are now: live notes of customers still visible, text from SQL."""
    ids = list(dict.fromkeys(h.note_id for h in hits))
    if not ids:
        return []
    query = (
        select(
            Interaction.id,
            Interaction.customer_id,
            Interaction.occurred_at,
            Interaction.content,
            Customer.name,
        )
        .join(Customer, Customer.id == Interaction.customer_id)
        .where(
            Interaction.id.in_(ids),
            Interaction.undone_at.is_(None),
            customer_scope(actor, today),
        )
    )
    if scope is not None:  # one bound value, however large the scope (a branch: 12k ids)
        query = query.where(one_of(session, Customer.id, scope))
    rows = {row.id: row for row in session.execute(query)}
    scores = {h.note_id: h.score for h in hits}
    notes: list[NoteForPrompt] = []
    for note_id in ids:  # keep the index's relevance order
        row = rows.get(note_id)
        if row is None:
            continue
        notes.append(
            NoteForPrompt(
                note_id=row.id,
                customer_id=row.customer_id,
                customer_name=row.name,
                occurred_on=row.occurred_at.astimezone(tz).date(),
                text=redact_secrets(mask_text(row.content)),
                score=scores.get(note_id, 0.0),
            )
        )
    return notes
