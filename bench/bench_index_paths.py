"""The two scoped search paths of `NoteIndex` against scope size, to place EXACT_MAX_CUSTOMERS.

    python -m bench.bench_index_paths [--notes 10000] [--per-customer 10] [--queries 30]

Fills an embedded Chroma in a temp folder with random unit vectors (no embedding: only
Chroma's side is measured), ~`per-customer` notes per customer, then times
`search_vector` per scope size through the exact path (the scope's own vectors + numpy) and
through Chroma's `$in` filter, next to an unfiltered query. Prints p50/p95 in ms. Figures only.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from retrieval.connect import embedded_client
from retrieval.embeddings import E5Embeddings
from retrieval.index import NoteIndex

SCOPES = (1, 3, 10, 20, 30, 100, 300, 1000)


def fill(index: NoteIndex, notes: int, per_customer: int, rng: np.random.Generator) -> None:
    customers = max(1, notes // per_customer)
    vectors = rng.standard_normal((notes, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for start in range(0, notes, 2_000):
        ids = range(start, min(notes, start + 2_000))
        index.collection.upsert(
            ids=[f"N{i}" for i in ids],
            embeddings=vectors[start : start + len(ids)],
            metadatas=[
                {
                    "customer_id": f"c{i % customers}",
                    "owner_staff_id": f"rm{(i % customers) // 25}",
                    "team_id": "T1",
                    "branch_id": "B1",
                    "occurred_on": 20260101 + i % 28,
                    "staff_id": "rm1",
                }
                for i in ids
            ],
            documents=[f"客户想了解基金定投，下周回访 {i}" for i in ids],
        )


def timed(action: Callable[[], object], runs: int) -> tuple[float, float]:
    action()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=10_000)
    parser.add_argument("--per-customer", type=int, default=10)
    parser.add_argument("--queries", type=int, default=30)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as folder:
        index = NoteIndex(embedded_client(Path(folder)), E5Embeddings(), owns_client=True)
        started = time.perf_counter()
        fill(index, args.notes, args.per_customer, rng)
        print(f"{args.notes} notes inserted in {time.perf_counter() - started:.1f} s")
        query = rng.standard_normal(384).astype(np.float32)
        query /= np.linalg.norm(query)
        p50, p95 = timed(lambda: index.search_vector(query, customer_ids=None, k=5), args.queries)
        print(f"unfiltered: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
        customers = max(1, args.notes // args.per_customer)
        print("customers  notes  exact p50/p95 ms  $in-filter p50/p95 ms")
        for size in (s for s in SCOPES if s <= customers):
            scope = [f"c{i}" for i in range(size)]
            figures = []
            for limit in (size, 0):  # exact path, then the filter
                index.exact_max_customers = limit
                figures.append(
                    timed(partial(index.search_vector, query, customer_ids=scope), args.queries)
                )
            (e50, e95), (f50, f95) = figures
            notes = size * args.per_customer
            print(f"{size:9d}  {notes:5d}  {e50:6.1f} / {e95:6.1f}   {f50:6.1f} / {f95:6.1f}")
        index.close()


if __name__ == "__main__":
    main()
