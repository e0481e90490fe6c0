"""The inbox's batch insert: a batch of callbacks' rows in one statement, by batch size.

    python -m bench.bench_inbox_insert [--url postgresql+psycopg://.../scratch] [--rounds 200]

Why: serve stores each batch of callbacks that arrived while the last one committed in one
INSERT (`crm_store/upsert.py` `insert_new`), and the acknowledgements wait for it. On
PostgreSQL psycopg parses a query's placeholders afresh at every execution once it has more
than 50 parameters, which a VALUES list of 6 or more inbox rows has; past that point the rows
now go as one array per column through unnest(), in binary.

Set-up: a fresh store (SQLite in a temp folder, or the scratch PostgreSQL database of `--url`,
dropped and created). For each batch size (1, 5, 10, 50, 200 rows), `--rounds` batches of new
inbox rows, alternating between the shipped path and the baseline, a VALUES list of the same
rows (the path of every size before), each batch with its own autocommit statement as the
inbox runs it. Prints the p50 of the client's CPU time (the thread's: what the event loop
waits for the interpreter lock) and of the wall time per batch, and their ratios to the
baseline. On SQLite both are the VALUES list.

Prints figures only (no assertions on timings); the machine may be shared, so load is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from bench.bench_serve import fresh_store, load_average
from bot.inbox import INBOX
from crm_store import upsert
from crm_store.store import Store

SIZES = (1, 5, 10, 50, 200)
KEY = ("channel", "msg_key")
_keys = itertools.count(1)


def inbox_rows(count: int) -> list[dict[str, Any]]:
    """`count` new inbox rows shaped as a WeCom text callback's."""
    now = datetime.now(UTC)
    return [
        {
            "channel": "wecom",
            "msg_key": str(7_400_000_000_000_000_000 + next(_keys)),
            "sender_id": "wangfang",
            "chat_id": "wangfang",
            "chat_type": "private",
            "text": "第12问：张伟上次聊了什么？",
            "received_at": now,
            "voice": None,
            "status": "pending",
            "attempts": 0,
        }
        for _ in range(count)
    ]


def timed_batch(store: Store, rows: list[dict[str, Any]]) -> tuple[float, float]:
    """One batch as the inbox stores it: (thread CPU ms, wall ms)."""
    cpu, wall = time.thread_time(), time.perf_counter()
    with store.db.one_statement(urgent=True) as conn:
        added = upsert.insert_new(conn, INBOX, rows, key=KEY, returning=(*KEY, "id"))
    assert len(added) == len(rows)
    return (time.thread_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000


@contextlib.contextmanager
def values_list_always() -> Iterator[None]:
    """The baseline: the VALUES list at every size."""
    shipped = upsert.PSYCOPG_CACHED_PARAMS
    upsert.PSYCOPG_CACHED_PARAMS = 10**9
    try:
        yield
    finally:
        upsert.PSYCOPG_CACHED_PARAMS = shipped


def measure(store: Store, size: int, rounds: int) -> dict[str, list[tuple[float, float]]]:
    """Alternating shipped and baseline batches of `size` rows, after a warm-up of each."""
    paths: dict[str, Callable[[], AbstractContextManager[None]]] = {
        "shipped": contextlib.nullcontext,
        "baseline": values_list_always,
    }
    found: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
    for n in range(rounds + 5):
        for name, path in paths.items():
            with path():
                timing = timed_batch(store, inbox_rows(size))
            if n >= 5:
                found[name].append(timing)
    return found


def report(size: int, found: dict[str, list[tuple[float, float]]]) -> None:
    shipped, baseline = found["shipped"], found["baseline"]
    cpu = statistics.median(t[0] for t in shipped), statistics.median(t[0] for t in baseline)
    wall = statistics.median(t[1] for t in shipped), statistics.median(t[1] for t in baseline)
    print(
        f"{size:4} rows: CPU p50 {cpu[0]:.3f} ms (VALUES list {cpu[1]:.3f}): "
        f"{cpu[0] / cpu[1]:.2f}x; wall p50 {wall[0]:.3f} ms (VALUES list {wall[1]:.3f}): "
        f"{wall[0] / wall[1]:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="PostgreSQL URL of a scratch database")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    print(f"load before:         {load_average()}")
    with fresh_store(args.url, False) as (store, _):
        print(f"engine:              {store.db.engine.dialect.name}")
        for size in SIZES:
            report(size, measure(store, size, args.rounds))
    print(f"load after:          {load_average()}")


if __name__ == "__main__":
    main()
