"""Several appliers of the index outbox at once (answer threads, the upkeep, other processes
on a Chroma server) split the queued notes instead of each embedding all of them."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from crm_store.index_outbox import mark_processed, pending
from crm_store.store import Store
from retrieval import sync
from retrieval.entries import NoteEntry
from tests.retrieval.conftest import NOTES, record_notes


class CountingIndex:
    """Stands in for NoteIndex: counts every note written, slowly enough for threads to meet."""

    def __init__(self) -> None:
        self.written: Counter[str] = Counter()
        self._lock = threading.Lock()

    def upsert(self, notes: Sequence[NoteEntry]) -> None:
        threading.Event().wait(0.05)  # as an embedding takes a while
        with self._lock:
            self.written.update(n.note_id for n in notes)

    def delete(self, ids: Sequence[str]) -> None:
        pass


@pytest.fixture(autouse=True)
def _no_classifier(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync, "classify_entries", lambda *a, **k: 0)


def test_threads_applying_at_once_write_each_note_once(store: Store) -> None:
    ids = record_notes(store)
    index: Any = CountingIndex()
    threads = [threading.Thread(target=sync.process_outbox, args=(store, index)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert index.written == Counter(ids)  # before: six threads wrote all seven notes each


def test_rows_another_process_is_applying_are_skipped(store: Store, engine_name: str) -> None:
    if engine_name != "postgresql":
        pytest.skip("SQLite has one writer: one process holds the embedded index")
    ids = record_notes(store)
    index: Any = CountingIndex()
    with store.db.write() as session:  # another process's applier, mid-way through 3 rows
        held = pending(session, 3, claim=True)
        assert sync.process_outbox(store, index) == len(NOTES) - 3
        mark_processed(session, [row_id for row_id, _, _ in held])
    assert set(index.written) == set(ids) - {note_id for _, note_id, _ in held}
    assert sync.process_outbox(store, index) == 0  # the other applier marked its 3 done
