"""`bankbot reindex` and `bankbot index ...`: rebuild the note index from SQL, check its drift."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from bot.cli_common import fail, one_line_errors, store_from_env
from bot.cli_help import typer_app
from bot.wiring import build_retriever
from crm_store.index_outbox import pending_count
from crm_store.store import Store
from retrieval.connect import open_index
from retrieval.errors import RetrievalError
from retrieval.index import NoteIndex
from retrieval.search import Retriever
from retrieval.sync import check, drain_outbox, reindex

app = typer_app(no_args_is_help=True, help="The search index of interaction notes (Chroma).")

SHOWN_IDS = 10


@contextmanager
def _opened() -> Iterator[tuple[Store, NoteIndex]]:
    store = store_from_env()
    try:
        index = open_index(store.settings)
    except RetrievalError as exc:
        store.close()
        raise fail(str(exc)) from None
    try:
        yield store, index
    except RetrievalError as exc:
        raise fail(str(exc)) from None
    finally:
        index.close()
        store.close()


@one_line_errors
def reindex_command(
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Drop the note index and rebuild it from SQL (safe to run at any time)."""
    with _opened() as (store, index):
        done = reindex(store, index, progress=not quiet)
        print(f"indexed {done} notes ({index.model})")


def _show(label: str, ids: list[str]) -> None:
    more = f" (+{len(ids) - SHOWN_IDS} more)" if len(ids) > SHOWN_IDS else ""
    print(f"{label}: {len(ids)}\t{' '.join(ids[:SHOWN_IDS])}{more}".rstrip())


@app.command("check")
@one_line_errors
def check_command(
    repair: Annotated[bool, typer.Option("--repair", help="Fix what differs.")] = False,
) -> None:
    """Compare the index with SQL; exit 1 if they differ and --repair was not given."""
    with _opened() as (store, index):
        with store.db.read() as session:
            queued = pending_count(session)
        drift = check(store, index, repair=repair)
        _show("missing", drift.missing)
        _show("extra", drift.extra)
        _show("stale", drift.stale)
        if queued:
            print(f"outbox rows not yet applied: {queued} (`bankbot index sync` applies them)")
        if drift.total == 0:
            print(f"index matches SQL ({index.count()} notes)")
        elif repair:
            print(f"repaired {drift.total} notes")
        else:
            raise typer.Exit(1)


@app.command("sync")
@one_line_errors
def sync_command() -> None:
    """Apply every queued note change to the index now."""
    with _opened() as (store, index):
        print(f"applied {drain_outbox(store, index)} outbox rows")


def retriever_for_chat(store: Store) -> Retriever | None:
    """The index and LLM for a console `ask`/`chat`, if an index exists; else None (and why)."""
    try:
        return build_retriever(store, only_existing=True)
    except RetrievalError as exc:
        print(f"warning: questions over notes are off: {exc}", file=sys.stderr)
        return None


def reindex_store(store: Store) -> int:
    """Rebuild the index from SQL with a progress bar (after `seed-demo`); notes indexed."""
    try:
        index = open_index(store.settings)
    except RetrievalError as exc:
        raise fail(str(exc)) from None
    try:
        return reindex(store, index, progress=True)
    finally:
        index.close()
