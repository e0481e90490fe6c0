"""The semantic router: shipped example vectors match the examples, and the model agrees."""

from __future__ import annotations

import numpy as np

from handlers.understanding import semantic


def test_shipped_vectors_match_the_examples_and_the_model() -> None:
    stored = np.load(semantic.VECTORS)
    assert str(stored["hash"]) == semantic.examples_hash(), "run --build after editing"
    assert stored["vectors"].shape == (len(semantic.examples()), 384)


def test_router_ranks_typical_phrasings_first() -> None:
    for text, intent in [
        ("今天都有啥事要办", "today"),
        ("哪个客户说过想换汇", "question"),
        ("下周二提醒我联系李强", "remind"),
    ]:
        ranking = semantic.rank(text)
        assert ranking is not None and ranking.best.name == intent, text
        assert ranking.vector.shape == (384,)
