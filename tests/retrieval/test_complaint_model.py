"""Rule 4's learned model: the shipped weights are the ones the training data gives, and the
model reads notes it was not trained on. Sentences are written for these tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from retrieval import complaint_model
from retrieval.complaint_model import (
    GRAM_BUCKETS,
    Point,
    choose,
    cue_features,
    data_hash,
    fit,
    gram_matrix,
    judged_notes,
    left_out_scores,
    margin,
    note_parts,
    part_points,
    train,
    training_data,
)
from retrieval.complaint_target import aimed, direction, elsewhere
from retrieval.complaints import ComplaintDetector
from retrieval.embeddings import E5Embeddings


def test_shipped_weights_match_the_training_data() -> None:
    """Editing the notes, the bank or a cue changes the hash: run --build after it."""
    stored = np.load(complaint_model.WEIGHTS)
    assert str(stored["hash"]) == data_hash(*training_data()), "run --build after editing"
    assert stored["weights"].shape == (384 + len(cue_features("")) + GRAM_BUCKETS,)


def test_shipped_weights_are_reproducible(e5: E5Embeddings) -> None:
    stored = np.load(complaint_model.WEIGHTS)
    model, digest = fit(e5)
    assert digest == str(stored["hash"])
    assert np.allclose(model.weights, stored["weights"], atol=1e-3)
    assert abs(model.bias - float(stored["bias"])) < 1e-3
    assert model.threshold == float(stored["threshold"])


def test_shipped_threshold_is_the_one_leaving_one_part_out_picks(e5: E5Embeddings) -> None:
    """The selection is deterministic: the same parts, the same figures, the same threshold."""
    texts, labels = training_data()
    vectors = e5.passages(texts)
    first = left_out_scores(texts, labels, vectors, note_parts())
    second = left_out_scores(texts, labels, vectors, note_parts())
    assert np.array_equal(first, second)
    chosen = choose(part_points(first, labels, judged_notes()))
    assert margin(chosen) > 0  # clears both targets on the parts left out
    assert chosen.threshold == float(np.load(complaint_model.WEIGHTS)["threshold"])


def test_leaving_one_part_out_never_trains_on_the_part_it_scores(e5: E5Embeddings) -> None:
    """Two parts with opposite labels for the same kind of note: each is scored by a model
    trained on the other only, so each reads its own notes the other way round."""
    texts = ["客户说要把钱全部转到别的银行。", "客户很满意，续存了一年。"] * 2
    labels = [True, False, False, True]
    scores = left_out_scores(texts, labels, e5.passages(texts), ["a", "a", "b", "b"])
    assert scores[0] < 0.5 < scores[1] and scores[2] > 0.5 > scores[3]


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
    """Leaving is flagged, also when said with no cue word at all; a risky word in a calm note
    is not. (With tuned-8 in the training data and before the character n-grams, the quiet
    "定期到期没续，说先放别家看看" scored about 0.5, below the threshold; it scores 0.87 now.)"""
    detector = ComplaintDetector(e5)
    leaving = "客户说下个月把存款都挪到招行去，那边利息高。"
    quiet_leaving = [
        "客户这次定期到期没续，说先放别家看看。",
        "客户说以后工资就不往我们这张卡里打了，那边给的条件好。",
    ]
    staying = "客户问销户和挂失有什么区别，听完说只是了解一下。"
    flagged = detector.classify([leaving, *quiet_leaving, staying])
    assert [signal.complaint for signal in flagged] == [True, True, True, False]
    assert flagged[0].matched and detector.model().threshold <= flagged[0].score <= 1.0


def test_elsewhere_is_a_complaint_aimed_at_someone_or_something_else() -> None:
    assert elsewhere("客户抱怨装修队拖工期，这周没空来网点。")
    assert elsewhere("客户吐槽这几天一直下雨，基金的事下次再谈。")
    assert elsewhere("客户说工行的理财经理很敷衍，对那边挺不满意。")
    assert not elsewhere("客户抱怨我行手机银行又升级失败。")  # ours
    assert not elsewhere("客户对柜员的态度很不满。")
    assert not elsewhere("客户问了定投的扣款日。")  # no complaint at all


def test_aimed_says_whom_the_complaint_is_about() -> None:
    assert aimed("客户抱怨我行手机银行又升级失败。") == 1
    assert aimed("客户说工行的理财经理很敷衍，对那边挺不满意。") == -1
    assert aimed("客户抱怨最近菜价涨得厉害。") == 0  # no target of ours or anyone's named
    assert aimed("客户问了定投的扣款日。") == 0  # no complaint


def test_direction_of_the_money() -> None:
    assert direction("客户下周把存款转到平安银行。") == 1
    assert direction("客户把理财赎回后挪到自己在中信银行的账户。") == 1
    assert direction("客户的公司已经和浦发银行签了代发工资。") == 1
    assert direction("客户从建设银行转入50万存定期。") == -1
    assert direction("客户打算把他行的钱转到我行。") == -1
    assert direction("客户说不会转出，先放着。") == 0  # negated
    assert direction("客户咨询基金的申购费。") == 0
    assert direction("客户的公司打算把招行的代发也迁到我行。") == -1  # the source, not the goal
    assert direction("客户说炒股用的是自己在券商开的户。") == 0  # a holding, not a move
    assert direction("客户把闲钱分几次转到自己在建行的卡上。") == 1


def test_the_new_inputs_move_the_real_models_score(e5: E5Embeddings) -> None:
    """The same note scores higher when its complaint is aimed at us and lower when aimed
    elsewhere, higher when its money goes out and lower when it comes in: the shipped weights
    of both inputs point so."""
    model = ComplaintDetector(e5).model()
    cues = len(cue_features(""))
    assert len(model.weights) == 384 + cues + GRAM_BUCKETS
    target, flow = model.weights[384 + cues - 2], model.weights[384 + cues - 1]
    assert target > 0 and flow > 0


def test_a_notes_character_grams_land_in_the_same_columns_in_every_process() -> None:
    """The shipped weights are read by other processes: the n-gram columns must not depend on
    Python's per-process string hash."""
    text = "客户说别家利率高，想把存款转走"
    here = np.flatnonzero(gram_matrix([text])[0]).tolist()
    code = (
        "from retrieval.complaint_model import gram_matrix; import numpy as np; "
        f"print(np.flatnonzero(gram_matrix([{text!r}])[0]).tolist())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == here
    assert len(here) >= len(text) - 1  # 2- and 3-grams of 14 characters, a few collisions at most
