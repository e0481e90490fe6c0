"""Opening the note index: embedded Chroma under BANKBOT_HOME (locked), or a Chroma server."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import chromadb
from chromadb.api import ClientAPI
from chromadb.config import Settings as ChromaSettings
from langchain_core.embeddings import Embeddings

from crm_store.db import Database
from crm_store.private_files import private_dir
from crm_store.settings import Settings
from retrieval.change_feed import ChangeFeed
from retrieval.config import IndexSettings, chroma_folder
from retrieval.embeddings import make_embeddings
from retrieval.errors import IndexUnavailable
from retrieval.index import NoteIndex
from retrieval.lock import acquire


def _chroma_settings() -> ChromaSettings:
    # No telemetry (no network here) and no `reset()` of the whole server from our code.
    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def embedded_client(folder: Path) -> ClientAPI:
    """A PersistentClient on `folder`; take the folder's lock first."""
    return chromadb.PersistentClient(path=str(folder), settings=_chroma_settings())


def server_client(url: str) -> ClientAPI:
    """An HttpClient for CHROMA_URL such as http://127.0.0.1:8000."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise IndexUnavailable(f"CHROMA_URL must look like http://host:port, not {url!r}")
    if parts.path not in ("", "/"):
        raise IndexUnavailable(f"CHROMA_URL takes no path: {url!r}")
    ssl = parts.scheme == "https"
    port = parts.port or (443 if ssl else 8000)
    try:
        client = chromadb.HttpClient(
            host=parts.hostname, port=port, ssl=ssl, settings=_chroma_settings()
        )
        client.heartbeat()
    except Exception as exc:  # the client raises plain ValueError/ConnectError alike
        raise IndexUnavailable(f"the Chroma server at {url} cannot be reached: {exc}") from exc
    return client


def open_index(
    settings: Settings,
    *,
    config: IndexSettings | None = None,
    embeddings: Embeddings | None = None,
    db: Database | None = None,
) -> NoteIndex:
    """The note index the settings point at; close it when done (it holds a lock).

    On a Chroma server, `db` (the store's database) carries the change log: this process logs
    its writes there and keeps a vector cache that follows everyone's. Every product path
    passes it; without it the index neither logs nor caches."""
    config = config or IndexSettings()
    embeddings = embeddings or make_embeddings(config)
    if config.chroma_url:
        feed = ChangeFeed(db) if db is not None else None
        client = server_client(config.chroma_url)
        precision = config.vector_cache_precision
        return NoteIndex(client, embeddings, owns_client=True, feed=feed, cache_precision=precision)
    folder = private_dir(chroma_folder(settings))  # 0700: the notes' text is in there
    lock = acquire(folder)
    try:
        client = embedded_client(folder)
        precision = config.vector_cache_precision
        return NoteIndex(client, embeddings, lock=lock, owns_client=True, cache_precision=precision)
    except BaseException:
        lock.release()
        raise
