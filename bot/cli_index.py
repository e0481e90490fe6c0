"""`bankbot reindex` and `bankbot index ...`, and the index work other commands do.

The embedded index belongs to one process. When `bankbot serve` holds it, `reindex` and
`index check` are asked of serve (bot/index_requests.py), `index sync` and `import` leave
the queued rows to serve's timer, and a question through `ask` is asked of serve too
(bot/holder_questions.py).
Heavy modules (chromadb, langchain, the model) load inside the functions, on use.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli_common import fail, one_line_errors, store_from_env
from bot.cli_help import typer_app

if TYPE_CHECKING:
    from datetime import datetime

    from crm_store.store import Store
    from retrieval.index import NoteIndex
    from retrieval.search import Retriever

app = typer_app(no_args_is_help=True, help="The search index of interaction notes (Chroma).")


def held_by(store: Store) -> str:
    """Who holds the embedded index, for a one-line message."""
    from retrieval.config import chroma_folder
    from retrieval.lock import holder_pid

    pid = holder_pid(chroma_folder(store.settings))
    return f"process {pid}" if pid else "another process"


@contextmanager
def _opened(store: Store) -> Iterator[NoteIndex | None]:
    """The index, or None when another process holds the embedded one; other errors fail."""
    from retrieval.connect import open_index
    from retrieval.errors import IndexBusy, RetrievalError

    try:
        index = open_index(store.settings, db=store.db)
    except IndexBusy:
        yield None
        return
    except RetrievalError as exc:
        raise fail(str(exc)) from None
    try:
        yield index
    except RetrievalError as exc:
        raise fail(str(exc)) from None
    finally:
        index.close()


def _ask_holder(store: Store, action: str, doing: str) -> None:
    """Have the holder (serve) do `action`; print its answer, exit with its code."""
    from bot import index_requests
    from retrieval.config import chroma_folder
    from retrieval.lock import holder_pid

    folder = chroma_folder(store.settings)
    holder = held_by(store)
    print(f"the note index is held by {holder}; asked it to {doing}", file=sys.stderr)
    asked = index_requests.submit(folder, action)
    answer = index_requests.wait(folder, asked, holder=holder_pid(folder))
    if answer is None:
        raise fail(
            f"the note index is held by {holder}, which takes no requests (only bankbot serve "
            "does): close it and run this again, or set CHROMA_URL to share the index"
        )
    for line in answer.lines:
        print(line)
    if answer.code:
        raise typer.Exit(answer.code)


@one_line_errors
def reindex_command(
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress lines.")] = False,
) -> None:
    """Drop the note index and rebuild it from SQL (safe to run at any time)."""
    from retrieval.sync import reindex

    store = store_from_env()
    try:
        with _opened(store) as index:
            if index is None:
                _ask_holder(store, "reindex", "rebuild it from SQL")
                return
            done = reindex(store, index, progress=not quiet)
            print(f"indexed {done} notes ({index.model})")
    finally:
        store.close()


@app.command("check")
@one_line_errors
def check_command(
    repair: Annotated[bool, typer.Option("--repair", help="Fix what differs.")] = False,
) -> None:
    """Compare the index with SQL; exit 1 if they differ and --repair was not given."""
    from bot.index_requests import drift_report
    from crm_store.index_outbox import pending_count
    from retrieval.sync import check

    store = store_from_env()
    try:
        with _opened(store) as index:
            if index is None:
                action, doing = (
                    ("repair", "check and repair it") if repair else ("check", "check it")
                )
                _ask_holder(store, action, doing)
                return
            with store.db.read() as session:
                queued = pending_count(session)
            drift = check(store, index, repair=repair)
            lines, code = drift_report(drift, index.count(), repaired=repair)
    finally:
        store.close()
    for line in lines[:3]:
        print(line)
    if queued:
        print(f"outbox rows not yet applied: {queued} (`bankbot index sync` applies them)")
    for line in lines[3:]:
        print(line)
    if code:
        raise typer.Exit(code)


@app.command("sync")
@one_line_errors
def sync_command() -> None:
    """Apply every queued note change to the index now."""
    from crm_store.index_outbox import pending_count
    from retrieval.sync import drain_outbox

    store = store_from_env()
    try:
        with _opened(store) as index:
            if index is None:
                with store.db.read() as session:
                    queued = pending_count(session)
                print(
                    f"the note index is held by {held_by(store)}, which applies queued changes "
                    f"itself within seconds ({queued} queued now)"
                )
                return
            print(f"applied {drain_outbox(store, index, progress=True)} outbox rows")
    finally:
        store.close()


def update_index(store: Store) -> str | None:
    """After an import: apply the notes it queued (building the index if there is none), with
    progress; one line saying what happened, or None when nothing was queued."""
    from crm_store.index_outbox import pending_count
    from retrieval.connect import open_index
    from retrieval.errors import IndexBusy, RetrievalError
    from retrieval.sync import catch_up

    with store.db.read() as session:
        queued = pending_count(session)
    if not queued:
        return None
    try:
        index = open_index(store.settings, db=store.db)
    except IndexBusy:
        return (
            f"queued {queued} note changes for {held_by(store)} (bankbot serve), which holds "
            "the note index and applies them within seconds"
        )
    except RetrievalError as exc:
        return f"the note index was not updated ({exc}); run `bankbot index sync` later"
    try:
        return catch_up(store, index, progress=True).describe()
    except RetrievalError as exc:
        return f"the note index was not updated ({exc}); run `bankbot index sync` later"
    finally:
        index.close()


def needs_index(store: Store, staff_id: str, text: str, now: datetime) -> bool:
    """Whether `ask TEXT` may search the notes: the message reads as a question (a number
    picking one from "which did you mean?" included), or the reading is unsure and an LLM
    may turn it into one. Look-ups, lists and notes never search, so they never load the
    index or its model."""
    from bot.console import console_message
    from bot.identity import resolve_actor
    from handlers import intents
    from handlers.context import Context
    from handlers.router import chosen_question, read
    from retrieval.llm import LlmSettings

    message = console_message(staff_id, text, now)
    with store.db.read() as session:
        actor = resolve_actor(session, channel=message.channel, sender_id=message.sender_id)
        if actor is None:
            return False
        ctx = Context(
            session, actor, message, now, store.settings.bankbot_lang, None, store.settings
        )
        reading = chosen_question(ctx, read(ctx))
    if reading.intent.name == intents.QUESTION:
        return True
    return not reading.sure and LlmSettings().configured


def open_for_chat(store: Store, *, progress: bool = True) -> Retriever | None:
    """The index and LLM for `ask`/`chat`, brought level with SQL first (built if missing).

    Raises IndexBusy when another process holds the embedded index; other index errors
    print one warning line and give None (look-ups still work).
    """
    from bot.wiring import build_retriever
    from retrieval.errors import IndexBusy, RetrievalError
    from retrieval.sync import catch_up

    try:
        retriever = build_retriever(store)
    except IndexBusy:
        raise
    except RetrievalError as exc:
        print(f"warning: questions over notes are off: {exc}", file=sys.stderr)
        return None
    if retriever is None:
        return None
    try:
        done = catch_up(store, retriever.index, progress=progress)
    except RetrievalError as exc:
        print(f"warning: the note index could not be updated: {exc}", file=sys.stderr)
        return retriever
    if done.rebuilt:
        print(done.describe(), file=sys.stderr)
    return retriever
