"""Rule 4's note classifier: does a note say the customer complains or means to leave?

Never an LLM. Two parts: word cues (`retrieval.complaint_cues`: risky words, each cancelled by
the context that explains it, such as a negation, a reinvestment, a cash need, an estate or a
friend's story) and a logistic regression (`retrieval.complaint_model`) over the note's e5
vector with what the cues found as five more inputs (`retrieval.complaint_target` adds whose
trouble it is and which way the money goes). The model decides: a cue that stands
weighs heavily, but the sense of the whole note can outweigh it, which is what hand-written
cancel lists kept missing on unseen notes. Note vectors are the ones the note index stores.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from retrieval import complaint_model
from retrieval.complaint_cues import decisive
from retrieval.complaint_model import Model
from retrieval.embeddings import E5Embeddings


@dataclass(frozen=True)
class Signal:
    """What the classifier found in one note."""

    complaint: bool
    score: float  # the model's probability that the note is a complaint or a customer leaving
    matched: str  # the cue word, or the note's opening when no cue stands


def keyword_in(text: str) -> str:
    """The first complaint or leaving cue of `text` that its context leaves standing, or ''."""
    return decisive(text)


def _matched(text: str) -> str:
    """What a warning quotes: the standing cue, else the note's opening (an example sentence
    from the training data would quote words the note never said)."""
    return keyword_in(text) or text[:100]


class ComplaintDetector:
    """Cues plus the learned model (its weights are loaded once, on first use)."""

    _lock = threading.Lock()

    def __init__(self, embeddings: E5Embeddings | None = None) -> None:
        self.embeddings = embeddings or E5Embeddings()
        self._model: Model | None = None

    def model(self) -> Model:
        """The shipped model, loaded once per detector."""
        with self._lock:
            if self._model is None:
                self._model = complaint_model.load(self.embeddings)
            return self._model

    def classify(
        self, texts: Sequence[str], vectors: NDArray[np.float32] | None = None
    ) -> list[Signal]:
        """One signal per text; `vectors` are the texts' passage vectors if already known."""
        if not texts:
            return []
        if vectors is None:
            vectors = self.embeddings.passages(list(texts))
        model = self.model()
        probabilities = model.probability(texts, vectors)
        signals: list[Signal] = []
        for text, probability in zip(texts, probabilities.tolist(), strict=True):
            flagged = probability >= model.threshold
            signals.append(Signal(flagged, probability, _matched(text) if flagged else ""))
        return signals
