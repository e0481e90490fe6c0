"""Memory and ranking time of one process's vector cache at 100k and 1M notes, by precision.

    python -m bench.bench_cache_memory [--sizes 100000,1000000] [--queries 40]

Each (notes, precision) runs in a fresh interpreter so its memory is its own: it pages
synthetic notes into a `VectorCache` as a load from Chroma does (384-d unit vectors, a
distinct masked text of 30-70 characters per note, the metadata `NoteEntry` writes; two
notes per customer, 400 RMs in teams of 8 and branches of 50), then ranks the scope of an
RM, a team lead and a branch head. It prints the resident memory after the load (and its
peak while loading, which includes the regroup's copy), the vector matrix's share, and p50 /
p95 of `top_k` with the bfloat16 / float32 ratio of the same run. The baseline is the
float32 cache; the target is 1M notes under 2 GB per process. Figures only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator

import numpy as np

RMS, RMS_PER_TEAM, RMS_PER_BRANCH = 400, 8, 50
PAGE = 5_000
TEXT = "客户咨询大额存单和理财产品到期续作事宜手机尾号****已核实对收益率有疑问约下周面谈"


def rss_mb() -> float:
    """Resident memory of this process now, in MB (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def pages(notes: int) -> Iterator[tuple[list[str], object, list[dict[str, object]], list[str]]]:
    customers = notes // 2
    rng = np.random.default_rng(1)
    for start in range(0, notes, PAGE):
        count = min(PAGE, notes - start)
        vectors = rng.standard_normal((count, 384)).astype(np.float32)
        ids, metas, docs = [], [], []
        for n in range(start, start + count):
            customer = n % customers
            rm = customer * RMS // customers
            ids.append(f"I{n:010d}")
            metas.append(
                {
                    "customer_id": f"C{customer:07d}",
                    "owner_staff_id": f"S{rm:04d}",
                    "team_id": f"T{rm // RMS_PER_TEAM:03d}",
                    "branch_id": f"B{rm // RMS_PER_BRANCH:02d}",
                    "occurred_on": 20250101 + n % 28,
                }
            )
            docs.append(f"{TEXT[: 30 + n % 40]}{n}")  # distinct objects, as Chroma returns
        yield ids, vectors, metas, docs


def scope(role: str, notes: int) -> list[str]:
    customers = notes // 2
    rms = {"rm": 1, "team lead": RMS_PER_TEAM, "branch head": RMS_PER_BRANCH}[role]
    return [f"C{c:07d}" for c in range(customers) if c * RMS // customers < rms]


def measure(notes: int, half: bool, queries: int) -> dict[str, object]:
    """In this (fresh) process: load, then rank; the figures as a dict."""
    from retrieval.vector_cache import VectorCache

    before = rss_mb()
    cache = VectorCache("bench", half=half)
    started = time.perf_counter()
    assert cache.ensure_loaded(lambda: pages(notes))
    figures: dict[str, object] = {
        "load_s": time.perf_counter() - started,
        "rss_mb": rss_mb() - before,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before,
        "matrix_mb": cache.nbytes / 2**20,
    }
    rng = np.random.default_rng(2)
    for role in ("rm", "team lead", "branch head"):
        ids = scope(role, notes)
        samples = []
        for n in range(queries + 3):
            query = rng.standard_normal(384).astype(np.float32)
            began = time.perf_counter()
            cache.top_k(query, ids, 5)
            if n >= 3:  # the first rounds warm the caches
                samples.append((time.perf_counter() - began) * 1000)
        samples.sort()
        figures[role] = (statistics.median(samples), samples[round(0.95 * (len(samples) - 1))])
    return figures


def main() -> None:
    """Run each case in a child process and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        notes, precision = args.child.split(":")
        print(json.dumps(measure(int(notes), precision == "bfloat16", args.queries)))
        return
    print(f"load average {os.getloadavg()[0]:.1f}; top_k p50 / p95 in ms, k=5")
    for notes in (int(size) for size in args.sizes.split(",")):
        results = {p: child(notes, p, args.queries) for p in ("float32", "bfloat16")}
        for precision, figures in results.items():
            print(line(notes, precision, figures, results["float32"]))


def child(notes: int, precision: str, queries: int) -> dict[str, object]:
    argv = [sys.executable, "-m", "bench.bench_cache_memory", "--child", f"{notes}:{precision}"]
    done = subprocess.run([*argv, "--queries", str(queries)], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    return dict(json.loads(done.stdout.splitlines()[-1]))


def line(notes: int, precision: str, got: dict[str, object], base: dict[str, object]) -> str:
    text = (
        f"{notes:>9,} notes {precision:8s} resident {got['rss_mb']:6.0f} MB "
        f"(peak {got['peak_mb']:6.0f}, vectors {got['matrix_mb']:5.0f}) load {got['load_s']:5.1f} s"
    )
    for role in ("rm", "team lead", "branch head"):
        p50, p95 = _pair(got[role])
        ratio = p95 / _pair(base[role])[1]
        text += f" | {role} {p50:.2f}/{p95:.2f} ({ratio:.1f}x)"
    return text


def _pair(value: object) -> tuple[float, float]:
    assert isinstance(value, list | tuple)  # (p50, p95), a list once through JSON
    return float(value[0]), float(value[1])


if __name__ == "__main__":
    main()
