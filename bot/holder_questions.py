"""`bankbot ask` while `serve` holds the embedded index: the question is asked of serve.

A question over the notes needs the index, which belongs to one process. Rather than tell
the admin to use a phone, `ask` writes the question as a request (bot/index_requests.py) and
the holder answers it through the same dispatcher as every channel, as that staff member on
the console channel: the same permission checks, masking and audit row as a chat. Whoever
may write the request folder (0700, in the data folder) may already read the database.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.index_requests import ASK, NO_QUESTIONS, Answer, serving_pid, submit, wait

if TYPE_CHECKING:
    from crm_store.store import Store
    from retrieval.search import Retriever


def answer_question(store: Store, retriever: Retriever | None, request: dict[str, Any]) -> Answer:
    """The holder's side: one line of JSON with the reply and its events."""
    if retriever is None:
        return Answer(["this process answers no questions"], NO_QUESTIONS)
    from bot.console import console_message
    from bot.dispatch import Dispatcher

    now = request.get("now")
    fixed = datetime.fromisoformat(now) if now else None
    dispatcher = Dispatcher(store, clock=(lambda: fixed) if fixed else None, retriever=retriever)
    message = console_message(
        str(request.get("staff", "")), str(request.get("text", "")), dispatcher.clock()
    )
    reply = asyncio.run(dispatcher.handle(message))
    body = {"reply": reply.text, "events": [event.as_dict() for event in reply.events]}
    return Answer([json.dumps(body, ensure_ascii=False)], 0)


def ask_holder(
    store: Store, staff_id: str, text: str, now: datetime | None
) -> tuple[str, list[dict[str, Any]]] | None:
    """The asker's side: the holder's reply and events; None when the holder takes no
    questions (a scheduler, an import) or went away meanwhile."""
    from retrieval.config import chroma_folder
    from retrieval.lock import holder_pid

    folder = chroma_folder(store.settings)
    holder = holder_pid(folder)
    if holder is None or serving_pid(folder) != holder:
        return None
    asked = submit(folder, ASK, staff=staff_id, text=text, now=now.isoformat() if now else None)
    answer = wait(folder, asked, holder=holder)
    if answer is None or answer.code == NO_QUESTIONS:
        return None
    if answer.code:
        from bot.cli_common import fail

        raise fail(answer.lines[0] if answer.lines else "the question failed")
    body = json.loads(answer.lines[0])
    return str(body["reply"]), list(body["events"])
