"""The semantic router: which example phrasing a message is closest to, with the bundled e5.

The example vectors are computed once, when the package is built (`--build` writes
examples.npz beside examples.tsv), and checked against the examples' hash when loaded; a stale
file is recomputed in memory with a warning. A message costs one query embedding, which a
question over the notes reuses for its search, so the router adds no second embedding call.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

EXAMPLES = Path(__file__).with_name("examples.tsv")
VECTORS = Path(__file__).with_name("examples.npz")
_lock = threading.Lock()


@dataclass(frozen=True)
class Score:
    """One intent's best similarity to the message."""

    name: str
    score: float


@dataclass(frozen=True)
class Ranking:
    """The two best intents for a message, and the message's query vector."""

    best: Score
    runner_up: Score
    vector: Any


def examples() -> list[tuple[str, str]]:
    """(intent, phrasing) pairs of examples.tsv, comments skipped."""
    pairs = []
    for line in EXAMPLES.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            intent, phrase = line.split("\t", 1)
            pairs.append((intent.strip(), phrase.strip()))
    return pairs


def examples_hash() -> str:
    """What the shipped vectors were computed from (the model name and the examples)."""
    from retrieval.embeddings import E5_NAME

    return hashlib.sha256((E5_NAME + EXAMPLES.read_text(encoding="utf-8")).encode()).hexdigest()


def _embed_examples(pairs: list[tuple[str, str]]) -> Any:
    from retrieval.embeddings import E5Embeddings

    embeddings = E5Embeddings()
    model = embeddings._get_model()
    with embeddings._model_lock:
        import numpy as np

        return np.vstack([np.asarray(model.query(p), dtype=np.float32) for _, p in pairs])


@cache
def _bank() -> tuple[list[str], Any]:
    """Intent of each example and the example vectors (rows, L2-normalised)."""
    import numpy as np

    pairs = examples()
    names = [intent for intent, _ in pairs]
    if VECTORS.exists():
        stored = np.load(VECTORS)
        if str(stored["hash"]) == examples_hash():
            return names, stored["vectors"].astype(np.float32)
    log.warning("router example vectors are stale: computing them (run --build)")
    return names, _embed_examples(pairs)


def message_vector(text: str) -> Any:
    """The message's e5 query vector (the same form the note search uses)."""
    from retrieval.embeddings import E5Embeddings

    return E5Embeddings().query_vector(text)


def rank(text: str) -> Ranking | None:
    """The best two intents for `text`; None when the bundled model cannot be loaded."""
    try:
        with _lock:
            names, bank = _bank()
        vector = message_vector(text)
    except Exception:  # an unusable model leaves the rules' reading, never a failed request
        log.exception("semantic router unavailable")
        return None
    scores = bank @ vector
    best: dict[str, float] = {}
    for name, score in zip(names, scores.tolist(), strict=True):
        best[name] = max(best.get(name, -1.0), float(score))
    ordered = sorted(best.items(), key=lambda kv: kv[1], reverse=True)
    return Ranking(Score(*ordered[0]), Score(*ordered[1]), vector)


def build() -> None:
    """Write examples.npz for the current examples and model."""
    import numpy as np

    vectors = _embed_examples(examples())
    np.savez(VECTORS, vectors=vectors.astype(np.float16), hash=np.array(examples_hash()))
    print(f"wrote {VECTORS.name}: {len(vectors)} example vectors")


if __name__ == "__main__":  # pragma: no cover - a build step
    if "--build" in sys.argv:
        build()
