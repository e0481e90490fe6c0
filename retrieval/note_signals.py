"""Classifying notes for churn rule 4 as they are indexed, reusing the index's vectors."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray

from crm_store.note_signals import save_signals
from crm_store.store import Store
from retrieval.complaints import ComplaintDetector
from retrieval.embeddings import E5Embeddings
from retrieval.entries import NoteEntry
from retrieval.index import NoteIndex

log = logging.getLogger(__name__)
_detector: ComplaintDetector | None = None
_lock = threading.Lock()


def detector() -> ComplaintDetector:
    """One detector per process (its example vectors are embedded once)."""
    global _detector
    with _lock:
        if _detector is None:
            _detector = ComplaintDetector()
        return _detector


def stored_vectors(index: NoteIndex, ids: list[str]) -> NDArray[np.float32] | None:
    """The passage vectors the index holds for `ids` (e5 only), in order; None if any lacks."""
    if not isinstance(index.embeddings, E5Embeddings) or not ids:
        return None
    got = index.collection.get(ids=ids, include=["embeddings"])
    embeddings = got["embeddings"]
    if embeddings is None:
        return None
    by_id = dict(zip(got["ids"], embeddings, strict=False))
    if any(i not in by_id for i in ids):
        return None
    return np.asarray([by_id[i] for i in ids], dtype=np.float32)


def classify_entries(
    store: Store, index: NoteIndex, entries: Sequence[NoteEntry], now: datetime | None = None
) -> int:
    """Classify freshly indexed notes and store their signals; the number stored.

    A failure here never fails indexing: the note is searchable, rule 4 just misses it
    until the next reindex."""
    if not entries:
        return 0
    try:
        ids = [e.note_id for e in entries]
        signals = detector().classify([e.document() for e in entries], stored_vectors(index, ids))
        rows = [(i, s.complaint, s.score, s.matched) for i, s in zip(ids, signals, strict=True)]
        with store.db.write() as session:
            return save_signals(session, rows, now or datetime.now(UTC))
    except Exception:  # the index is the job here; the signal is a bonus retried on reindex
        log.exception("classifying %d notes for churn warnings failed", len(entries))
        return 0
