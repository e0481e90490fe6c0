"""Everywhere a typed text can end up: the reply, the audit log, the notes table, follow-ups,
the Chroma documents and the LLM's requests. The tables assert that nothing leaks into any."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from sqlalchemy import select

from bot.dispatch import Dispatcher
from crm_store.models import AuditLog, FollowUp, Interaction
from crm_store.store import Store
from retrieval.index import NoteIndex
from retrieval.llm import LlmSettings, make_chat_model
from retrieval.search import Retriever
from retrieval.sync import drain_outbox
from tests.assistant import Assistant
from tests.retrieval_llm.stub_llm import StubLLM
from tests.world import NOW

_NUMERALS = str.maketrans("零〇一二三四五六七八九幺", "001234567891")
_SEPARATORS = dict.fromkeys(map(ord, " .()_-"))


def assistant(
    store: Store, index: NoteIndex, stub: StubLLM, mode: str = "adversarial"
) -> Assistant:
    """The console assistant with the note index and a real ChatOpenAI against the stub."""
    settings = LlmSettings(  # type: ignore[call-arg]
        _env_file=None, LLM_BASE_URL=stub.url, LLM_MODEL=f"stub-{mode}", LLM_API_KEY="k"
    )
    bot = Assistant(store, NOW)
    retriever = Retriever(index, make_chat_model(settings))
    bot.dispatcher = Dispatcher(store, clock=lambda: bot.now, retriever=retriever)
    return bot


def surfaces(store: Store, index: NoteIndex, stub: StubLLM, replies: list[str]) -> dict[str, str]:
    """Every stored or sent copy, by where it is, after the index outbox is applied."""
    drain_outbox(store, index)
    with store.db.read() as s:
        audit = [f"{r.text_masked}\n{r.detail}" for r in s.scalars(select(AuditLog))]
        notes = list(s.scalars(select(Interaction.content)))
        summaries = list(s.scalars(select(FollowUp.summary)))
    requests: list[Any] = stub.requests
    return {
        "reply": "\n".join(replies),
        "audit": "\n".join(audit),
        "note": "\n".join(notes),
        "followup": "\n".join(summaries),
        "chroma": "\n".join(doc for _, _, doc in index.entries()),
        "llm_prompt": json.dumps(requests, ensure_ascii=False),
    }


def digits_view(text: str) -> str:
    """The text as a number finder reads it: NFKC, no format characters, Chinese numerals as
    digits, no separators. A full number typed any way shows up here as its digits."""
    kept = "".join(c for c in text if unicodedata.category(c) != "Cf")
    return unicodedata.normalize("NFKC", kept).translate(_NUMERALS).translate(_SEPARATORS)
