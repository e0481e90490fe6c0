"""Rule 4's learned part: logistic regression over a note's e5 vector, five cue features and
its character n-grams.

Hand-written cues generalised poorly to notes nobody had tuned them on (precision 0.82,
recall 0.79 on 69 unseen notes): the ways to say "I am leaving" are open-ended, and so are the
contexts that take a risky word back. The note vector carries the sense of the whole note, so
a linear model on it, with the cues as extra inputs, learns from every labelled note at
once instead of one phrase at a time. It is trained deterministically (Newton's method from
zero) on the labelled notes of `bench/eval_complaints.jsonl` and the example bank, and its
weights ship in complaint_model.npz with a hash of what they were trained on. Inference is
one dot product per note: the note vector is the one the index stores anyway.

The decision threshold ships with the weights (in the same file, under the same hash). It is
chosen by leaving one author part out at a time: each part of the eval notes (one author's
notes, `note_parts`) is scored by a model trained on every other part and the bank examples,
which is what the notes of a new author meet. Random 10-fold cross-validation (repeated over
SEEDS; `cross_validated`, `operating_points`) mixed each author's notes into training and read
precision about 0.95 while five unseen sets in a row scored 0.79-0.85; it is kept for
comparison only. The left-out scores are pooled over JUDGED_SPLITS, and the chosen threshold
is the one of THRESHOLDS that clears both targets (precision 0.9, recall 0.8) by the widest
margin.

History, by random folds on the parts then called cue-unseen: 0.70 on 142 notes (precision
0.916 +- 0.006, recall 0.859 +- 0.032); 0.75 on 224 notes with three cue features (0.913,
0.845), then with `elsewhere` and `direction` of `retrieval.complaint_target` and bank
examples of both (0.950, 0.854). The 96 notes written next (tuned-7) scored 0.833 and 0.814.
Leaving one part out, pooled over tuned-4 to tuned-7, with `direction` fixed (the destination
decides; a holding elsewhere is not a move) and `elsewhere` made `aimed` (+1 us, -1 elsewhere,
0 no target): threshold 0.75, precision 0.928, recall 0.853 (per part 1.000/0.706,
0.949/1.000, 0.914/0.889, 0.875/0.814; random folds over the same notes: 0.921 +- 0.010,
0.836 +- 0.011). The 110 notes written next (held out) scored 0.800 and 0.880. A user check
then found plain call notes in bankbot's own shape ("刚和赵敏通话，后天回电") flagged: no
labelled note had that shape. Bank examples of it, routine and complaining, brought those
scores down (0.79 -> 0.37) and the left-out pool to 0.912 and 0.827 at 0.75; the held-out
set, scored once more after that change (made without reading its errors), 0.818 and 0.900.
Sets 7 and 8, written next, scored 0.902/0.841 and 0.864/0.844 unseen; leaving one of the three
parts no input was revised from (tuned-8 to tuned-10) out at a time, no threshold cleared both
targets (0.875/0.806 at 0.8, 0.893/0.777 at 0.85): raising it bought little precision, so
the errors were confident ones. Character 2- and 3-grams as a third kind of input (the
phrase that makes a look-alike, "转到我行", is short, and the vector blurs it into the
topic) moved those parts to 0.913/0.827 at 0.8, and the judged pool at the chosen 0.75 to
0.928/0.851; sets 9 and 10, written next and each scored once by that model, 0.911/0.911
and 0.891/0.911 (0.901/0.911 together).
STRETCH and PENALTY were compared leaving one part out (20 times 0.5, 1, 2,
3, 5; 10, 15, 30 times 1): every pair landed within about one percentage point of margin, so
they stay.

`python -m retrieval.complaint_model --build` rewrites the weights and the threshold after the
notes, the bank or the cues change; a test checks both are reproducible from the training data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from retrieval.complaint_bank import EXAMPLES
from retrieval.complaint_cues import calm, decisive, hits
from retrieval.complaint_target import aimed, direction
from retrieval.embeddings import E5_NAME, E5Embeddings

log = logging.getLogger(__name__)

WEIGHTS = Path(__file__).with_name("complaint_model.npz")
NOTES = Path(__file__).parents[1] / "bench" / "eval_complaints.jsonl"
# A contented customer's words, one of the cue features.
CONTENT = ("续存", "续作", "满意", "夸", "认可", "感谢", "挺顺", "开心", "高兴", "追加")
# e5 vectors of any two notes are close (cosine 0.90-0.99), so the centred vector is stretched:
# its weights then cost about as much as the cue weights under the same penalty. Both values
# were chosen by cross-validation (see the module docstring).
STRETCH = 20.0
PENALTY = 1.0  # L2 on the weights (not the bias): about 400 notes for 389 weights
NEWTON_STEPS = 12  # the loss is convex and smooth: the steps stop changing it well before 12
THRESHOLD = 0.5  # the decision threshold before one is chosen (models trained for scoring)
# Character 2- and 3-grams, present or not, as inputs beside the vector and the cues: the
# vector blurs a note into its topic, and a look-alike ("转到我行", "别家的理财到期转过来")
# sits next to complaints on the same topic; the phrases that tell them apart are short.
# Leaving one author out, pooled over tuned-8 to tuned-10 (the parts no input was revised
# from) at 0.8: precision 0.875 -> 0.913, recall 0.806 -> 0.827 (1024 buckets: 0.907, 0.842;
# stretched 1.5 or 2 times: within a point).
GRAM_SIZES = (2, 3)
GRAM_BUCKETS = 2048
# Random-fold cross-validation, printed by bench/eval_complaints.py for comparison only:
# 10 folds fixed by each seed.
SEEDS = (0, 1, 2, 3, 4)
FOLDS = 10
TARGET_PRECISION = 0.9  # the targets on notes never tuned on
TARGET_RECALL = 0.8
# The parts the threshold is judged on: notes written by authors who never read the rules.
# retrieval/complaint_cues.py has not changed since before tuned-4 was first scored, so for the
# cues these parts are unseen. retrieval/complaint_target.py is not: it was written from a
# description of the errors of tuned-4 to tuned-6 (their left-out precision, about 0.95, is
# flattered by it), and its `direction` and `aimed` were written or revised after
# reading the errors of tuned-7. tuned-8 (round 6) was scored unseen by every input before it
# joined the training data, and so did tuned-9 (round 7) and tuned-10 (round 8), whose errors
# were never read; the character n-grams were chosen leaving one of them out at a time. No
# part is unseen by every input any more: the next held-out set is the honest test.
JUDGED_SPLITS = ("tuned-4", "tuned-5", "tuned-6", "tuned-7", "tuned-8", "tuned-9", "tuned-10")
THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)


def cue_features(text: str) -> list[float]:
    """What the cues say: a risky word stands; risky words all explained away; the note says
    the customer stays or is content; whom the complaint is aimed at (+1 us, -1 someone or
    something else, 0 no complaint or no target named); the money goes out (+1) or comes in
    (-1)."""
    standing = bool(decisive(text))
    explained = bool(hits(text)) and not standing
    content = calm(text) or any(word in text for word in CONTENT)
    return [float(standing), float(explained), float(content), float(aimed(text)),
            float(direction(text))]  # fmt: skip


@dataclass(frozen=True)
class Model:
    """The mean note vector (for centring), the weights (vector part, then cues), the bias and
    the decision threshold."""

    mean: NDArray[np.float64]
    weights: NDArray[np.float64]
    bias: float
    threshold: float = THRESHOLD  # a note is flagged when its probability reaches it

    def probability(
        self, texts: Sequence[str], vectors: NDArray[np.float32]
    ) -> NDArray[np.float64]:
        """The probability that each note is a complaint or says the customer leaves."""
        logits = features(texts, vectors, self.mean) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-logits))


def cue_matrix(texts: Sequence[str]) -> NDArray[np.float64]:
    """The cue features of each text, then its character n-grams, one row per text."""
    rows = [cue_features(text) for text in texts]
    cues = np.array(rows, dtype=np.float64).reshape(-1, len(cue_features("")))
    return np.hstack([cues, gram_matrix(texts)])


def gram_matrix(texts: Sequence[str]) -> NDArray[np.float64]:
    """Which character n-grams (GRAM_SIZES) each text has, hashed into GRAM_BUCKETS columns
    (crc32: the same bucket in every process, unlike Python's salted hash)."""
    grams = np.zeros((len(texts), GRAM_BUCKETS))
    for row, text in enumerate(texts):
        for size in GRAM_SIZES:
            for start in range(len(text) - size + 1):
                grams[row, zlib.crc32(text[start : start + size].encode()) % GRAM_BUCKETS] = 1.0
    return grams


def features(
    texts: Sequence[str], vectors: NDArray[np.float32], mean: NDArray[np.float64]
) -> NDArray[np.float64]:
    """One row per note: the stretched, centred vector, the cue features, the n-grams."""
    return _rows(cue_matrix(texts), vectors, mean)


def _rows(
    cues: NDArray[np.float64], vectors: NDArray[np.float32], mean: NDArray[np.float64]
) -> NDArray[np.float64]:
    return np.hstack([(vectors.astype(np.float64) - mean) * STRETCH, cues])


def train(texts: Sequence[str], vectors: NDArray[np.float32], labels: Sequence[bool]) -> Model:
    """L2-penalised logistic regression by Newton's method from zero: the same data always
    gives the same weights, so the shipped file can be checked against a fresh training."""
    return _train(cue_matrix(texts), vectors, np.asarray(labels, dtype=np.float64))


def _train(
    cues: NDArray[np.float64],
    vectors: NDArray[np.float32],
    y: NDArray[np.float64],
    threshold: float = THRESHOLD,
) -> Model:
    mean = vectors.astype(np.float64).mean(axis=0)
    x = np.hstack([_rows(cues, vectors, mean), np.ones((len(y), 1))])
    penalty = np.eye(x.shape[1]) * PENALTY
    penalty[-1, -1] = 0.0  # the bias is free: the share of complaints is not shrunk to half
    w = np.zeros(x.shape[1])
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        gradient = x.T @ (p - y) + penalty @ w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + penalty
        w -= np.linalg.solve(hessian, gradient)
    return Model(mean, w[:-1], float(w[-1]), threshold)


def folds(count: int, seed: int) -> list[NDArray[np.int64]]:
    """FOLDS disjoint sets of note positions, fixed by `seed`."""
    order = np.random.default_rng(seed).permutation(count)
    return [np.sort(order[i::FOLDS]) for i in range(FOLDS)]


def cross_validated(
    texts: Sequence[str],
    labels: Sequence[bool],
    vectors: NDArray[np.float32],
    notes: int,
    seed: int,
) -> NDArray[np.float64]:
    """The probability of each of the first `notes` texts by a model that never saw it
    (FOLDS folds fixed by `seed`); the rest (bank examples in no eval file) are always trained
    on, never scored."""
    return _scored_apart(texts, labels, vectors, notes, folds(notes, seed))


def note_parts(notes: Path = NOTES) -> list[str]:
    """The author part of each eval note: its "split" ("first-held-out" is tuned-2, none is
    the first part, "tuned")."""
    rows = [json.loads(line) for line in notes.read_text(encoding="utf-8").splitlines() if line]
    splits = [str(row.get("split", "tuned")) for row in rows]
    return ["tuned-2" if split == "first-held-out" else split for split in splits]


def left_out_scores(
    texts: Sequence[str],
    labels: Sequence[bool],
    vectors: NDArray[np.float32],
    parts: Sequence[str],
) -> NDArray[np.float64]:
    """The probability of each of the first len(parts) texts by a model trained on every other
    author part and the bank examples, never on its own part: what a new author's notes get.
    Random folds mix each author's notes into training and read several points too high."""
    owner = np.asarray(parts)
    groups = [np.flatnonzero(owner == part) for part in dict.fromkeys(parts)]
    return _scored_apart(texts, labels, vectors, len(parts), groups)


def _scored_apart(
    texts: Sequence[str],
    labels: Sequence[bool],
    vectors: NDArray[np.float32],
    notes: int,
    groups: Sequence[NDArray[np.int64]],
) -> NDArray[np.float64]:
    """Each group of the first `notes` texts scored by a model trained on everything else."""
    cues = cue_matrix(texts)
    y = np.asarray(labels, dtype=np.float64)
    scores = np.zeros(notes)
    for held in groups:
        keep = np.ones(len(texts), dtype=bool)
        keep[held] = False
        model = _train(cues[keep], vectors[keep], y[keep])
        logits = _rows(cues[held], vectors[held], model.mean) @ model.weights + model.bias
        scores[held] = 1.0 / (1.0 + np.exp(-logits))
    return scores


def precision_recall(flagged: Sequence[bool], truth: Sequence[bool]) -> tuple[float, float]:
    """Precision and recall of `flagged` against `truth` (0 when nothing is flagged)."""
    tp = sum(f and t for f, t in zip(flagged, truth, strict=True))
    fp = sum(f and not t for f, t in zip(flagged, truth, strict=True))
    fn = sum(t and not f for f, t in zip(flagged, truth, strict=True))
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1)


@dataclass(frozen=True)
class Point:
    """Cross-validated precision and recall at one threshold: mean and spread over SEEDS."""

    threshold: float
    precision: NDArray[np.float64]  # one figure per seed
    recall: NDArray[np.float64]


def operating_points(
    texts: Sequence[str],
    labels: Sequence[bool],
    vectors: NDArray[np.float32],
    notes: int,
    judged: NDArray[np.bool_] | None = None,
) -> list[Point]:
    """Cross-validated precision and recall at each of THRESHOLDS, one figure per seed; every
    note is trained on, only the `judged` ones (default: all) are scored."""
    judged = np.ones(notes, dtype=bool) if judged is None else judged
    truth = [bool(label) for label, j in zip(labels[:notes], judged, strict=True) if j]
    scored = [cross_validated(texts, labels, vectors, notes, seed)[judged] for seed in SEEDS]
    points = []
    for threshold in THRESHOLDS:
        figures = [precision_recall((s >= threshold).tolist(), truth) for s in scored]
        points.append(Point(threshold, *(np.array(f) for f in zip(*figures, strict=True))))
    return points


def part_points(
    scores: NDArray[np.float64], labels: Sequence[bool], judged: NDArray[np.bool_]
) -> list[Point]:
    """Precision and recall at each of THRESHOLDS of left-out `scores`, pooled over the
    `judged` notes (one figure each: leaving one part out has no seed)."""
    truth = [bool(label) for label, j in zip(labels[: len(scores)], judged, strict=True) if j]
    points = []
    for threshold in THRESHOLDS:
        precision, recall = precision_recall((scores[judged] >= threshold).tolist(), truth)
        points.append(Point(threshold, np.array([precision]), np.array([recall])))
    return points


def margin(point: Point) -> float:
    """How far the point clears the nearer of the two targets (negative: it misses one)."""
    precision = float(point.precision.mean()) - TARGET_PRECISION
    return min(precision, float(point.recall.mean()) - TARGET_RECALL)


def choose(points: Sequence[Point]) -> Point:
    """The point that clears both targets by the widest margin (the stricter threshold among
    equals): unseen notes scored below their cross-validated figures so far, and this leaves
    room on both sides rather than spending all of it on recall."""
    return max(points, key=lambda p: (round(margin(p), 9), p.threshold))


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
    """What the weights and the threshold depend on: the model, the settings, the notes, their
    labels and parts, and what the cues say of them (editing a cue makes them stale)."""
    targets = (TARGET_PRECISION, TARGET_RECALL)
    settings = [E5_NAME, STRETCH, PENALTY, NEWTON_STEPS, targets, THRESHOLDS, JUDGED_SPLITS]
    settings += [GRAM_SIZES, GRAM_BUCKETS]
    settings.append(note_parts())  # which notes leave-one-part-out holds out together
    cues = [cue_features(text) for text in texts]
    payload = json.dumps([settings, list(texts), list(labels), cues], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def judged_notes(notes: Path = NOTES) -> NDArray[np.bool_]:
    """Which eval notes the threshold is judged on (JUDGED_SPLITS)."""
    rows = [json.loads(line) for line in notes.read_text(encoding="utf-8").splitlines() if line]
    return np.array([row.get("split") in JUDGED_SPLITS for row in rows], dtype=bool)


def notes_count(notes: Path = NOTES) -> int:
    """How many of the training texts are eval notes (the ones cross-validation scores)."""
    return sum(1 for line in notes.read_text(encoding="utf-8").splitlines() if line.strip())


def fit(embeddings: E5Embeddings | None = None) -> tuple[Model, str]:
    """The model trained on all labelled notes with the threshold cross-validation chooses,
    and the hash of what it was trained on."""
    texts, labels = training_data()
    vectors = (embeddings or E5Embeddings()).passages(texts)
    scores = left_out_scores(texts, labels, vectors, note_parts())
    threshold = choose(part_points(scores, labels, judged_notes())).threshold
    model = train(texts, vectors, labels)
    return Model(model.mean, model.weights, model.bias, threshold), data_hash(texts, labels)


def load(embeddings: E5Embeddings | None = None) -> Model:
    """The shipped weights; trained afresh (with a warning) when the training data in the
    source tree no longer matches them. An installed package has no bench/: trust the file."""
    if WEIGHTS.exists():
        stored = np.load(WEIGHTS)
        fresh = not NOTES.exists() or str(stored["hash"]) == data_hash(*training_data())
        if fresh:
            return Model(
                stored["mean"], stored["weights"], float(stored["bias"]),
                float(stored["threshold"]),
            )  # fmt: skip
    log.warning("rule 4's model weights are stale: training them (run --build)")
    return fit(embeddings)[0]


def build() -> None:
    """Write complaint_model.npz for the current notes, bank and cues."""
    model, digest = fit()
    np.savez(
        WEIGHTS, mean=model.mean, weights=model.weights, bias=np.array(model.bias),
        threshold=np.array(model.threshold), hash=np.array(digest),
    )  # fmt: skip
    print(f"wrote {WEIGHTS.name}: {len(model.weights)} weights, threshold {model.threshold}")


if __name__ == "__main__":  # pragma: no cover - a build step
    if "--build" in sys.argv:
        build()
