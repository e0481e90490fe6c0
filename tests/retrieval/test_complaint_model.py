"""Rule 4's learned model: the shipped weights are the ones the training data gives, and the
model reads notes it was not trained on. Sentences are written for these tests."""

from __future__ import annotations

import numpy as np

from retrieval import complaint_model
from retrieval.complaint_model import (
    Point,
    choose,
    cue_features,
    cue_unseen,
    data_hash,
    fit,
    margin,
    notes_count,
    operating_points,
    train,
    training_data,
)
from retrieval.complaints import ComplaintDetector
from retrieval.embeddings import E5Embeddings


def test_shipped_weights_match_the_training_data() -> None:
    """Editing the notes, the bank or a cue changes the hash: run --build after it."""
    stored = np.load(complaint_model.WEIGHTS)
    assert str(stored["hash"]) == data_hash(*training_data()), "run --build after editing"
    assert stored["weights"].shape == (384 + len(cue_features("")),)


def test_shipped_weights_are_reproducible(e5: E5Embeddings) -> None:
    stored = np.load(complaint_model.WEIGHTS)
    model, digest = fit(e5)
    assert digest == str(stored["hash"])
    assert np.allclose(model.weights, stored["weights"], atol=1e-3)
    assert abs(model.bias - float(stored["bias"])) < 1e-3
    assert model.threshold == float(stored["threshold"])


def test_shipped_threshold_is_the_one_cross_validation_picks(e5: E5Embeddings) -> None:
    """The selection is deterministic: the same folds, the same figures, the same threshold."""
    texts, labels = training_data()
    vectors = e5.passages(texts)
    first = operating_points(texts, labels, vectors, notes_count(), cue_unseen())
    second = operating_points(texts, labels, vectors, notes_count(), cue_unseen())
    assert [(p.threshold, p.precision.tolist(), p.recall.tolist()) for p in first] == [
        (p.threshold, p.precision.tolist(), p.recall.tolist()) for p in second
    ]
    chosen = choose(first)
    assert margin(chosen) > 0  # clears both targets in cross-validation
    assert chosen.threshold == float(np.load(complaint_model.WEIGHTS)["threshold"])


def _point(threshold: float, precision: float, recall: float) -> Point:
    return Point(threshold, np.array([precision, precision]), np.array([recall, recall]))


def test_choice_clears_both_targets_by_the_widest_margin() -> None:
    points = [
        _point(0.3, 0.85, 0.99),  # misses precision
        _point(0.5, 0.92, 0.90),  # margin 0.02
        _point(0.6, 0.95, 0.85),  # margin 0.05: chosen
        _point(0.7, 0.99, 0.79),  # misses recall
    ]
    assert choose(points).threshold == 0.6
    assert choose([_point(0.5, 0.95, 0.85), _point(0.6, 0.95, 0.85)]).threshold == 0.6


def test_training_is_deterministic_and_separates_its_data(e5: E5Embeddings) -> None:
    texts = ["客户说要把钱全部转到别的银行。", "客户很满意，续存了一年。"] * 3
    labels = [True, False] * 3
    vectors = e5.passages(texts)
    first, second = train(texts, vectors, labels), train(texts, vectors, labels)
    assert np.array_equal(first.weights, second.weights)
    assert (first.probability(texts, vectors) >= 0.5).tolist() == labels


def test_unseen_leaving_and_staying_notes(e5: E5Embeddings) -> None:
    """Leaving is flagged; a risky word in a calm note is not. Leaving said with no cue word
    at all ranks above the calm note but, at the shipped threshold, may fall short of it:
    the threshold trades such notes for precision (the module docstring has the figures)."""
    detector = ComplaintDetector(e5)
    leaving = [
        "客户说下个月把存款都挪到招行去，那边利息高。",
        "客户这次定期到期没续，说先放别家看看。",
    ]
    quiet_leaving = "客户说以后工资就不往我们这张卡里打了，那边给的条件好。"
    staying = "客户问销户和挂失有什么区别，听完说只是了解一下。"
    flagged = detector.classify([*leaving, quiet_leaving, staying])
    assert [s.complaint for s in flagged[:2]] == [True, True] and not flagged[3].complaint
    assert flagged[2].score > flagged[3].score
    assert flagged[0].matched and detector.model().threshold <= flagged[0].score <= 1.0
