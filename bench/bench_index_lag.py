"""Lag from an import's commit to the note being searchable, while `bankbot serve` runs.

    python -m bench.bench_index_lag [--rounds 20]

Builds the demo bank's branches, staff and customers in a temp BANKBOT_HOME (SQLite, the
embedded index), starts `bankbot serve` on a free loopback port (no platform configured:
health, metrics, the timer and the index upkeep), and waits until /healthz reports the index.
Then, each round: one new note for 张伟 (C00001, S001) is written to a CSV and imported here
with `import_file`, as `bankbot import interactions` does (serve holds the index, so the
import only queues it); the clock starts when the import's transaction has committed and
stops when serve's /healthz counts the note in the index (polled every 20 ms). A random
pause of 0-3 s between rounds samples every phase of serve's 2 s drain timer.

Baseline, measured here in the same run: what applying one note costs at the least, the
e5 passage embedding plus the Chroma upsert (`NoteIndex.upsert`) on a scratch index.
Prints p50/p95/max of the lag, the baseline, the ratio and the load average. Figures only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import date
from functools import partial
from pathlib import Path

from bot.cli_common import store_from_env
from crm_store.demo import write_demo_files
from crm_store.importer import import_file
from crm_store.store import Store
from retrieval.connect import embedded_client
from retrieval.embeddings import E5Embeddings
from retrieval.entries import NoteEntry
from retrieval.index import NoteIndex

HEADER = "interaction_id,customer_id,staff_id,occurred_at,channel,content,next_followup_on\n"
TARGET_P95 = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def indexed(port: int) -> int | None:
    """The note count serve's /healthz reports, None until the index is ready."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as reply:
            body = json.loads(reply.read())
    except OSError as exc:
        body = json.loads(exc.read()) if hasattr(exc, "read") else {}
    state = str(body.get("index", ""))
    if not state.startswith("ready ("):
        return None
    return int(state.removeprefix("ready (").split()[0])


def count_is(port: int, wanted: int) -> bool:
    """Whether serve's index holds `wanted` notes."""
    return indexed(port) == wanted


def wait_until(condition: Callable[[], bool], limit: float = 300.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("serve did not get there in time")
        time.sleep(0.02)


def import_note(store: Store, folder: Path, n: int) -> None:
    path = folder / f"note{n}.csv"
    text = f"第{n}次回访：张伟想了解国债逆回购和大额存单，约下周再谈。"
    path.write_text(
        f"{HEADER}LAG{n:04d},C00001,S001,2026-11-20T10:00:00+08:00,phone,{text},\n",
        encoding="utf-8",
    )
    import_file(store, "interactions", path)


def baseline(rounds: int) -> float:
    """Median seconds of the least a drain must do for one note: embed and upsert it."""
    with tempfile.TemporaryDirectory() as folder:
        index = NoteIndex(embedded_client(Path(folder)), E5Embeddings())
        samples = []
        for n in range(rounds + 1):
            text = f"第{n}次回访：张伟想了解国债逆回购和大额存单，约下周再谈。"
            entry = NoteEntry(f"B{n}", "C00001", "S001", "T01", "B002", "S001", 20261120, text)
            started = time.perf_counter()
            index.upsert([entry])
            samples.append(time.perf_counter() - started)
        index.close()
    return statistics.median(samples[1:])  # the first loads the model


def main() -> None:
    """Serve, import, time, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "BANKBOT_HOME": home, "DATABASE_URL": "", "BANKBOT_DATA_KEY": ""}
        env.update({"CHROMA_URL": "", "LLM_BASE_URL": "", "REMINDER_CHANNEL": "console"})
        os.environ.update(env)
        bankbot = str(Path(sys.executable).parent / "bankbot")
        subprocess.run([bankbot, "init"], env=env, check=True, capture_output=True)
        store = store_from_env()
        files = write_demo_files(Path(home) / "demo", today=date(2026, 11, 28))
        for kind in ("branches", "staff", "customers"):
            import_file(store, kind, files[kind])
        port = free_port()
        log = open(Path(home) / "serve.log", "wb")  # noqa: SIM115 - closed below
        server = subprocess.Popen(
            [bankbot, "serve", "--port", str(port)], env=env, stdout=log, stderr=log
        )
        lags: list[float] = []
        try:
            wait_until(lambda: indexed(port) is not None)
            import_note(store, Path(home), 0)  # warm-up: serve loads the model once
            wait_until(lambda: indexed(port) == 1)
            for n in range(1, args.rounds + 1):
                time.sleep(random.uniform(0.0, 3.0))
                import_note(store, Path(home), n)
                committed = time.perf_counter()
                wait_until(partial(count_is, port, n + 1))
                lags.append(time.perf_counter() - committed)
        finally:
            server.terminate()
            server.wait(timeout=60)
            log.close()
            store.close()
    base = baseline(5)
    lags.sort()
    p95 = lags[max(0, round(0.95 * len(lags)) - 1)]
    verdict = "met" if p95 < TARGET_P95 else "NOT met"
    print(f"load average {os.getloadavg()[0]:.1f}; {len(lags)} imports of one note each")
    print(
        f"import commit -> searchable in serve: p50 {statistics.median(lags):.2f} s, "
        f"p95 {p95:.2f} s, max {lags[-1]:.2f} s (target p95 < {TARGET_P95:.0f} s: {verdict})"
    )
    print(
        f"baseline, embed + upsert one note: {base * 1000:.0f} ms; p95 / baseline {p95 / base:.0f}x"
    )


if __name__ == "__main__":
    main()
