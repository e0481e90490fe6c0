"""Keeping the note index current in a long-running process (`serve`, `scheduler`).

Imports and other processes write notes to SQL and queue them in the index outbox; the
process that holds the index applies them. Before, that happened only after an incoming
message, so a quiet `serve` left imported notes unsearchable for minutes. Now a thread looks
every DRAIN_EVERY_SECONDS, and at start-up rebuilds an index that is empty while SQL has notes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.index_requests import Answer
    from crm_store.store import Store
    from retrieval.index import NoteIndex
    from retrieval.search import Retriever

log = logging.getLogger(__name__)

# A look at an empty outbox is one indexed query (well under a millisecond), so looking every
# 2 s costs nothing and keeps the lag from an import's commit to searchable within seconds.
DRAIN_EVERY_SECONDS = 2.0
PRUNE_EVERY = 3600.0  # the change log keeps a day; pruning it hourly is plenty


class IndexUpkeep:
    """A daemon thread that applies the index outbox every few seconds until `stop()`."""

    def __init__(
        self,
        store: Store,
        index: NoteIndex,
        *,
        requests: Path | None = None,
        every: float = DRAIN_EVERY_SECONDS,
        questions: Retriever | None = None,
    ) -> None:
        """`requests`: the embedded index's folder, whose `reindex`/`check` requests from the
        CLI this process answers (bot/index_requests.py); None on a Chroma server.
        `questions`: the retriever over `index` that answers `bankbot ask`'s questions
        (bot/holder_questions.py); None where there is none (a scheduler)."""
        self.store = store
        self.index = index
        self.requests = requests
        self.questions = questions
        self.every = every
        self.applied = 0  # outbox rows applied since start (for tests and the log)
        self._stop = threading.Event()
        self._pruned = time.monotonic()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Catch up once, then drain on the timer, in the background."""
        if self.requests is not None:
            from bot.index_requests import announce

            announce(self.requests)
        self._thread = threading.Thread(target=self._run, name="index-upkeep", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current pass."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        if self.requests is not None:
            from bot.index_requests import withdraw_announcement

            withdraw_announcement(self.requests)

    def _run(self) -> None:
        from retrieval.sync import catch_up

        try:
            done = catch_up(self.store, self.index)
            if done.count:
                log.info("%s", done.describe())
        except Exception:  # the timer below tries again
            log.exception("note index catch-up failed")
        while not self._stop.wait(self.every):
            self.drain_once()
            self.follow_once()
            self.answer_requests()

    def answer_requests(self) -> int:
        """Run the CLI's waiting index requests; how many were answered."""
        if self.requests is None:
            return 0
        from bot.index_requests import serve_requests

        try:
            return serve_requests(self.requests, self._run_request)
        except Exception:
            log.exception("could not answer the index requests; trying again shortly")
            return 0

    def _run_request(self, request: dict[str, Any]) -> Answer:
        from bot.holder_questions import answer_question
        from bot.index_requests import ASK, run_action

        if request.get("action") == ASK:
            return answer_question(self.store, self.questions, request)
        return run_action(self.store, self.index, str(request.get("action", "")))

    def follow_once(self) -> int:
        """On a Chroma server: apply the index writes other processes logged to this
        process's vector cache, and prune the log hourly; changes applied."""
        try:
            done = self.index.follow_changes()
            if self.index.feed is not None and time.monotonic() - self._pruned > PRUNE_EVERY:
                self._pruned = time.monotonic()
                self.index.feed.prune()
        except Exception:
            log.exception("could not follow the index change log; trying again shortly")
            return 0
        return done

    def drain_once(self) -> int:
        """Apply what is queued now; rows applied (0 after a failure: the next pass retries)."""
        from retrieval.sync import drain_outbox

        try:
            done = drain_outbox(self.store, self.index)
        except Exception:
            log.exception("could not apply the index outbox; trying again shortly")
            return 0
        if done:
            self.applied += done
            log.info("applied %s queued note changes to the index", done)
        return done


class OwnedUpkeep:
    """For a process that opens the index itself (`bankbot scheduler`): open it and keep it
    current, or, when another process holds the embedded index, leave the work to that one.

    The embedded index belongs to one process, and `serve` needs it to answer questions, so
    this one gives it up when a `serve` asks for it (`want_index`) and takes it back only when
    nobody holds it: a scheduler started a moment before `serve` no longer leaves serve
    without questions."""

    def __init__(self, store: Store, *, every: float = DRAIN_EVERY_SECONDS) -> None:
        self.store = store
        self.every = every
        self.upkeep: IndexUpkeep | None = None
        self.folder = requests_folder(store)  # None on a Chroma server: nobody to give way to
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._last_try = time.monotonic()

    def __enter__(self) -> OwnedUpkeep:
        self._take(log_busy=True)
        if self.folder is not None:
            self._watcher = threading.Thread(target=self._watch, name="index-owner", daemon=True)
            self._watcher.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=60)
        self._give_up()

    def _take(self, *, log_busy: bool = False) -> None:
        from retrieval.config import chroma_folder
        from retrieval.connect import open_index
        from retrieval.errors import IndexBusy, RetrievalError
        from retrieval.lock import holder_pid

        self._last_try = time.monotonic()
        try:
            index = open_index(self.store.settings, db=self.store.db)
        except IndexBusy:
            if log_busy:
                pid = holder_pid(chroma_folder(self.store.settings))
                log.info("the note index is held by process %s, which keeps it current", pid)
            return
        except RetrievalError as exc:
            log.warning("the note index is not kept current here: %s", exc)
            return
        self.upkeep = IndexUpkeep(self.store, index, requests=self.folder, every=self.every)
        self.upkeep.start()

    def _give_up(self) -> None:
        if self.upkeep is not None:
            self.upkeep.stop()
            self.upkeep.index.close()
            self.upkeep = None

    def _watch(self) -> None:
        assert self.folder is not None
        while not self._stop.wait(self.every):
            wanted = wanted_by(self.folder)
            if self.upkeep is not None and wanted is not None:
                self._give_up()
                log.info("gave the note index to process %s (bankbot serve)", wanted)
            elif (
                self.upkeep is None
                and wanted is None
                and time.monotonic() - self._last_try > RETAKE_EVERY_SECONDS
            ):
                self._take()  # serve has gone: keep the index current again


# `serve` waiting for the embedded index writes its pid here; a scheduler holding the index
# sees it within DRAIN_EVERY_SECONDS and lets go.
WANTED_NAME = ".bankbot.wanted"
RETAKE_EVERY_SECONDS = 30.0  # how often a scheduler that gave the index away looks again


def want_index(folder: Path) -> None:
    """Say that this process waits for the embedded index in `folder`."""
    (folder / WANTED_NAME).write_text(f"{os.getpid()}\n")


def withdraw_want(folder: Path) -> None:
    """This process no longer waits (it has the index, or gave up)."""
    if wanted_by(folder, include_self=True) == os.getpid():
        (folder / WANTED_NAME).unlink(missing_ok=True)


def wanted_by(folder: Path, *, include_self: bool = False) -> int | None:
    """The live process waiting for the index in `folder`, if any (not this one by default)."""
    try:
        text = (folder / WANTED_NAME).read_text().strip()
    except OSError:
        return None
    if not text.isdigit():
        return None
    pid = int(text)
    if pid == os.getpid() and not include_self:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # it died waiting: nobody wants it now
    except PermissionError:
        pass
    return pid


def requests_folder(store: Store) -> Path | None:
    """The embedded index's folder, where the CLI leaves requests; None with CHROMA_URL."""
    from retrieval.config import IndexSettings, chroma_folder

    return None if IndexSettings().chroma_url else chroma_folder(store.settings)
