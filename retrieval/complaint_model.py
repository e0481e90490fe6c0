"""Rule 4's learned part: logistic regression over a note's e5 vector and three cue features.

Hand-written cues generalised poorly to notes nobody had tuned them on (precision 0.82,
recall 0.79 on 69 unseen notes): the ways to say "I am leaving" are open-ended, and so are the
contexts that take a risky word back. The note vector carries the sense of the whole note, so
a linear model on it, with the cues as three extra inputs, learns from every labelled note at
once instead of one phrase at a time. It is trained deterministically (Newton's method from
zero) on the labelled notes of `bench/eval_complaints.jsonl` and the example bank, and its
weights ship in complaint_model.npz with a hash of what they were trained on. Inference is
one dot product per note: the note vector is the one the index stores anyway.

`python -m retrieval.complaint_model --build` rewrites the weights after the notes, the bank
or the cues change; a test checks they are reproducible from the training data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from retrieval.complaint_bank import EXAMPLES
from retrieval.complaint_cues import calm, decisive, hits
from retrieval.embeddings import E5_NAME, E5Embeddings

log = logging.getLogger(__name__)

WEIGHTS = Path(__file__).with_name("complaint_model.npz")
NOTES = Path(__file__).parents[1] / "bench" / "eval_complaints.jsonl"
# A contented customer's words, one of the cue features.
CONTENT = ("续存", "续作", "满意", "夸", "认可", "感谢", "挺顺", "开心", "高兴", "追加")
# e5 vectors of any two notes are close (cosine 0.90-0.99), so the centred vector is stretched:
# its weights then cost about as much as the cue weights under the same penalty. Both values
# were chosen by 10-fold cross-validation (bench/eval_complaints.py prints it).
STRETCH = 20.0
PENALTY = 1.0  # L2 on the weights (not the bias): about 300 notes for 387 weights
NEWTON_STEPS = 12  # the loss is convex and smooth: the steps stop changing it well before 12
THRESHOLD = 0.5


def cue_features(text: str) -> list[float]:
    """What the cues say: a risky word stands; risky words all explained away; the note says
    the customer stays or is content."""
    standing = bool(decisive(text))
    explained = bool(hits(text)) and not standing
    content = calm(text) or any(word in text for word in CONTENT)
    return [float(standing), float(explained), float(content)]


@dataclass(frozen=True)
class Model:
    """The mean note vector (for centring), the weights (vector part, then cues) and bias."""

    mean: NDArray[np.float64]
    weights: NDArray[np.float64]
    bias: float

    def probability(
        self, texts: Sequence[str], vectors: NDArray[np.float32]
    ) -> NDArray[np.float64]:
        """The probability that each note is a complaint or says the customer leaves."""
        logits = features(texts, vectors, self.mean) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-logits))


def features(
    texts: Sequence[str], vectors: NDArray[np.float32], mean: NDArray[np.float64]
) -> NDArray[np.float64]:
    """One row per note: the stretched, centred vector, then the cue features."""
    cues = np.array([cue_features(text) for text in texts], dtype=np.float64).reshape(-1, 3)
    return np.hstack([(vectors.astype(np.float64) - mean) * STRETCH, cues])


def train(texts: Sequence[str], vectors: NDArray[np.float32], labels: Sequence[bool]) -> Model:
    """L2-penalised logistic regression by Newton's method from zero: the same data always
    gives the same weights, so the shipped file can be checked against a fresh training."""
    mean = vectors.astype(np.float64).mean(axis=0)
    x = np.hstack([features(texts, vectors, mean), np.ones((len(texts), 1))])
    y = np.asarray(labels, dtype=np.float64)
    penalty = np.eye(x.shape[1]) * PENALTY
    penalty[-1, -1] = 0.0  # the bias is free: the share of complaints is not shrunk to half
    w = np.zeros(x.shape[1])
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        gradient = x.T @ (p - y) + penalty @ w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + penalty
        w -= np.linalg.solve(hessian, gradient)
    return Model(mean, w[:-1], float(w[-1]))


def training_data(notes: Path = NOTES) -> tuple[list[str], list[bool]]:
    """The labelled eval notes, then the bank examples that are not among them."""
    rows = [
        json.loads(line) for line in notes.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    texts = [str(row["text"]) for row in rows]
    labels = [bool(row["complaint"]) for row in rows]
    seen = set(texts)
    for text, label in EXAMPLES:
        if text not in seen:
            texts.append(text)
            labels.append(label)
            seen.add(text)
    return texts, labels


def data_hash(texts: Sequence[str], labels: Sequence[bool]) -> str:
    """What the weights depend on: the model, the settings, the notes, their labels and what
    the cues say of them (so editing a cue makes the shipped weights stale)."""
    settings = [E5_NAME, STRETCH, PENALTY, NEWTON_STEPS]
    cues = [cue_features(text) for text in texts]
    payload = json.dumps([settings, list(texts), list(labels), cues], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def fit(embeddings: E5Embeddings | None = None) -> tuple[Model, str]:
    """The model trained on all labelled notes, and the hash of what it was trained on."""
    texts, labels = training_data()
    vectors = (embeddings or E5Embeddings()).passages(texts)
    return train(texts, vectors, labels), data_hash(texts, labels)


def load(embeddings: E5Embeddings | None = None) -> Model:
    """The shipped weights; trained afresh (with a warning) when the training data in the
    source tree no longer matches them. An installed package has no bench/: trust the file."""
    if WEIGHTS.exists():
        stored = np.load(WEIGHTS)
        fresh = not NOTES.exists() or str(stored["hash"]) == data_hash(*training_data())
        if fresh:
            return Model(stored["mean"], stored["weights"], float(stored["bias"]))
    log.warning("rule 4's model weights are stale: training them (run --build)")
    return fit(embeddings)[0]


def build() -> None:
    """Write complaint_model.npz for the current notes, bank and cues."""
    model, digest = fit()
    np.savez(
        WEIGHTS, mean=model.mean, weights=model.weights, bias=np.array(model.bias),
        hash=np.array(digest),
    )  # fmt: skip
    print(f"wrote {WEIGHTS.name}: {len(model.weights)} weights")


if __name__ == "__main__":  # pragma: no cover - a build step
    if "--build" in sys.argv:
        build()
