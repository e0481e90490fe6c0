"""Rule 4's note classifier: does a note say the customer complains or means to leave?

Two signals, never an LLM: word cues (`retrieval.complaint_cues`: risky words, each cancelled
by the context that explains it, such as a negation, a reinvestment, a cash need, an estate or
a friend's story) and similarity to a bank of labelled example notes, both complaints and
their look-alikes (a solved problem, a happy customer). A note is flagged when a cue stands;
when cues were found but all explained away, it is not; with no cue at all, it is flagged when
its nearest examples are all complaints and nothing in it says the customer stays.
Example vectors are embedded once per process; note vectors are the ones the note index
already stores.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from retrieval.complaint_bank import EXAMPLES
from retrieval.complaint_cues import calm, decisive, hits
from retrieval.embeddings import E5Embeddings

# A note saying one of these is a contented customer: its neighbours alone do not flag it.
CONTENT = ("续存", "续作", "满意", "夸", "认可", "感谢", "挺顺", "开心", "高兴", "追加")
# e5 similarities are compressed (0.90-0.99 between any two notes here), so one threshold on
# the best match separates poorly; a vote of the nearest labelled examples does much better.
# With the first 93 examples, the 3 nearest all being complaints beat 4 of 5 on the tuning notes
# (a wider vote let unrelated life events, such as a parent in hospital, ride on its edge).
NEIGHBOURS = 3
VOTES = 3  # of the NEIGHBOURS nearest examples must be complaints
SAME_TEXT = 0.9999  # an example identical to the note does not vote on it


@dataclass(frozen=True)
class Signal:
    """What the classifier found in one note."""

    complaint: bool
    score: float  # share of the nearest examples that are complaints
    matched: str  # the keyword, or the example sentence, that decided it


def keyword_in(text: str) -> str:
    """The first complaint or leaving cue of `text` that its context leaves standing, or ''."""
    return decisive(text)


def _calm(text: str) -> bool:
    """The similarity vote is not asked: the note says the customer stays or is content."""
    return calm(text) or any(word in text for word in CONTENT)


class ComplaintDetector:
    """Keywords plus similarity to the example bank (embedded once, passage form)."""

    _lock = threading.Lock()

    def __init__(self, embeddings: E5Embeddings | None = None) -> None:
        self.embeddings = embeddings or E5Embeddings()
        self._bank: NDArray[np.float32] | None = None
        self._labels = np.array([label for _, label in EXAMPLES], dtype=bool)

    def _examples(self) -> NDArray[np.float32]:
        with self._lock:
            if self._bank is None:
                self._bank = self.embeddings.passages([text for text, _ in EXAMPLES])
            return self._bank

    def _vote(self, similarities: NDArray[np.float32]) -> tuple[float, int]:
        """(share of complaint votes, index of the nearest complaint example or -1)."""
        order = [int(i) for i in np.argsort(-similarities) if similarities[i] < SAME_TEXT]
        nearest = order[:NEIGHBOURS]
        votes = [i for i in nearest if self._labels[i]]
        return len(votes) / max(len(nearest), 1), (votes[0] if votes else -1)

    def classify(
        self, texts: Sequence[str], vectors: NDArray[np.float32] | None = None
    ) -> list[Signal]:
        """One signal per text; `vectors` are the texts' passage vectors if already known."""
        if not texts:
            return []
        if vectors is None:
            vectors = self.embeddings.passages(list(texts))
        similarities = vectors @ self._examples().T
        signals: list[Signal] = []
        for i, text in enumerate(texts):
            share, nearest = self._vote(similarities[i])
            word = keyword_in(text)
            if word:
                signals.append(Signal(True, share, word))
            elif hits(text):  # risky words all explained away: the cues have decided
                signals.append(Signal(False, share, ""))
            elif share >= VOTES / NEIGHBOURS and not _calm(text):
                signals.append(Signal(True, share, EXAMPLES[nearest][0][:100]))
            else:
                signals.append(Signal(False, share, ""))
        return signals
