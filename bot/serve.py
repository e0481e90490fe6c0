"""`bankbot serve`: wire the configured platforms, the inbox and the reminder timer into one
ASGI app, and run it under uvicorn."""

from __future__ import annotations

import base64
import gc
import logging
import threading
import time
from collections.abc import Callable

import uvicorn
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette

from bot import logs
from bot.answer_worker import AnswerProcesses
from bot.dispatch import Dispatcher
from bot.inbox import Inbox
from bot.index_upkeep import IndexUpkeep, requests_folder, want_index, withdraw_want
from bot.intake_journal import IntakeJournal, journal_path
from bot.intake_mark import IntakeMark
from bot.quiet_gc import QuietCollector
from bot.voice.hear import AudioSource, VoiceNotes
from bot.web import PlatformAdapter, build_app
from bot.wiring import build_formatter, build_retriever, build_router, delivery_channels
from crm_store.store import Store
from handlers.contracts import Channel
from retrieval.errors import RetrievalError
from retrieval.search import Retriever
from scheduler.timer import ReminderTimer

log = logging.getLogger(__name__)


def platform_adapters(store: Store, *, telegram_polling: bool = False) -> list[PlatformAdapter]:
    """An adapter for each platform whose settings are present."""
    adapters: list[PlatformAdapter] = []
    settings = store.settings
    if settings.wecom_configured:
        from bot.wecom import WeComAdapter

        adapters.append(WeComAdapter.from_settings(store))
    if settings.telegram_configured:
        from bot.telegram_bot import TelegramAdapter

        adapters.append(TelegramAdapter.from_settings(store, polling=telegram_polling))
    return adapters


def build_server(
    store: Store,
    *,
    telegram_polling: bool = False,
    with_timer: bool = True,
    retriever: Retriever | None = None,
    answer_here: bool = True,
    answers_alive: Callable[[], int] | None = None,
) -> Starlette:
    """The whole service: platforms, inbox, dispatcher and (by default) the reminder timer;
    questions over the notes when a `retriever` (see `open_retriever`) is given.
    `answer_here=False`: acknowledge only; answer processes answer (bot/answer_worker.py)."""
    adapters = platform_adapters(store, telegram_polling=telegram_polling)
    channels: dict[str, Channel] = {a.name: a.channel for a in adapters}
    voice = voice_notes(adapters)
    dispatcher = Dispatcher(store, retriever=retriever, voice=voice)
    # Callbacks are stored sealed: in the journal on SQLite, in the inbox elsewhere.
    inbox = Inbox(
        store,
        dispatcher,
        channels,
        answer_here=answer_here,
        journal=open_journal(store),
        seal=True,
    )
    timer = None
    if with_timer:
        router = build_router(store, delivery_channels(store, channels))
        timer = ReminderTimer(store, router, build_formatter(store))
    if not adapters:
        log.warning("no WeCom or Telegram settings: serving health and metrics only")
    count = retriever.index.count if retriever is not None else None
    cache = retriever.index.cache_state if retriever is not None else None
    return build_app(
        store,
        inbox,
        adapters,
        timer,
        index_count=count,
        cache_state=cache,
        answers_alive=answers_alive,
    )


def open_journal(store: Store) -> IntakeJournal | None:
    """The intake journal of a file SQLite database (bot/intake_journal.py), else None."""
    path = journal_path(store.settings.db_url)
    if path is None:
        return None
    try:
        return IntakeJournal(path, busy_timeout_ms=store.settings.sqlite_busy_timeout_ms)
    except (OSError, SQLAlchemyError) as exc:  # unreadable, not a database, no space
        reason = getattr(exc, "orig", None) or exc
        raise RuntimeError(
            f"the intake journal {path} cannot be opened ({reason}). It holds messages "
            "acknowledged but not yet moved into the inbox: restore it from a backup, or move "
            "it aside to start with a new one"
        ) from None


def voice_notes(adapters: list[PlatformAdapter]) -> VoiceNotes:
    """Voice messages as TRANSCRIBE_* configures them, with each platform's audio source."""
    sources: dict[str, AudioSource] = {}
    for adapter in adapters:
        source = getattr(adapter, "voice_source", None)
        if source is not None:
            sources[adapter.name] = source
    return VoiceNotes.from_settings(sources)


def serve(store: Store, *, host: str, port: int, telegram_polling: bool = False) -> None:
    """Run the service until interrupted."""
    log_config = logs.configure()
    logs.register_secrets(service_secrets(store))
    workers = answer_processes(store, telegram_polling)
    retriever = open_retriever(store) if workers is None else None  # else the workers hold it
    upkeep = None
    if retriever is not None:
        warm_up(retriever)
        # Imports and other processes queue note changes; apply them every few seconds.
        upkeep = IndexUpkeep(
            store, retriever.index, requests=requests_folder(store), questions=retriever
        )
        upkeep.start()
    app = build_server(
        store,
        telegram_polling=telegram_polling,
        retriever=retriever,
        answer_here=workers is None,
        answers_alive=workers.alive if workers is not None else None,
    )
    # Objects made at start-up never die: keep the collector from pausing the event loop
    # (150-190 ms) to scan them while callbacks wait for their acknowledgement.
    gc.collect()
    gc.freeze()
    collector = QuietCollector(IntakeMark(store.settings.home))
    collector.start()
    try:
        if workers is not None:
            workers.start()
        uvicorn.run(app, host=host, port=port, proxy_headers=True, log_config=log_config)
    finally:
        collector.stop()
        if workers is not None:
            workers.stop()
        if upkeep is not None:
            upkeep.stop()
        if retriever is not None:
            retriever.close()


def answer_processes(store: Store, telegram_polling: bool) -> AnswerProcesses | None:
    """The answer processes ANSWER_PROCESSES asks for (not started), or None: answer here."""
    from retrieval.config import IndexSettings

    count = store.settings.answer_processes
    if count == 0:
        return None
    if count > 1 and not IndexSettings().chroma_url:
        raise ValueError(
            "ANSWER_PROCESSES above 1 needs CHROMA_URL: the embedded note index belongs to "
            "one process"
        )
    return AnswerProcesses(count, telegram_polling=telegram_polling)


def service_secrets(store: Store) -> list[str]:
    """Every secret this process knows, for the log scrubber (bot/logs.py)."""
    from bot.voice.settings import VoiceSettings
    from crm_store.store import load_key
    from retrieval.config import IndexSettings
    from retrieval.llm import LlmSettings

    key = base64.urlsafe_b64encode(load_key(store.settings)[0]).decode()
    models = (store.settings, IndexSettings(), LlmSettings(), VoiceSettings())
    return [*logs.secrets_of(*models), key, key.rstrip("=")]


def warm_up(retriever: Retriever) -> threading.Thread:
    """Load the note index's vector cache in the background while the service starts."""

    def load() -> None:
        started = time.perf_counter()
        try:
            ready = retriever.index.warm_up()
        except Exception as exc:  # the first question loads it instead
            log.warning("note index warm-up failed: %s", type(exc).__name__)
            return
        if ready:
            log.info("note vectors loaded in %.1f s", time.perf_counter() - started)

    thread = threading.Thread(target=load, name="index-warm-up", daemon=True)
    thread.start()
    return thread


def open_retriever(store: Store) -> Retriever | None:
    """The note index and LLM for questions; without them the rest of the service runs.

    When another process holds the embedded index (a `bankbot scheduler` started first, an
    import applying its notes), ask for it and wait up to INDEX_WAIT_SECONDS: a scheduler
    gives it up within seconds, a command finishes."""
    from retrieval.errors import IndexBusy

    try:
        return build_retriever(store)
    except IndexBusy as exc:
        return _wait_for_index(store, exc)
    except RetrievalError as exc:
        log.error("questions over notes are off: %s", exc)
        return None


INDEX_WAIT_SECONDS = 60.0


def _wait_for_index(store: Store, busy: RetrievalError) -> Retriever | None:
    from retrieval.config import chroma_folder
    from retrieval.errors import IndexBusy
    from retrieval.lock import holder_pid

    folder = chroma_folder(store.settings)
    log.warning(
        "the note index is held by process %s; asked for it, waiting up to %.0f s",
        holder_pid(folder),
        INDEX_WAIT_SECONDS,
    )
    want_index(folder)
    deadline = time.monotonic() + INDEX_WAIT_SECONDS
    try:
        while time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                return build_retriever(store)
            except RetrievalError as exc:
                busy = exc
                if not isinstance(exc, IndexBusy):
                    break
    finally:
        withdraw_want(folder)
    log.error("questions over notes are off: %s", busy)
    return None
