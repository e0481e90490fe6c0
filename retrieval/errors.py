"""Typed errors of the retrieval room; the CLI and chat turn them into one short line."""


class RetrievalError(Exception):
    """Base class for errors the index or the embeddings report to a person."""


class IndexBusy(RetrievalError):
    """The embedded Chroma folder is held by another process."""


class IndexUnavailable(RetrievalError):
    """The Chroma server cannot be reached, or the index was built differently."""


class EmbeddingsUnavailable(RetrievalError):
    """The configured embeddings cannot be used (missing package or setting)."""
