"""Scale-out: one `bankbot serve` process against two, on PostgreSQL and a Chroma server.

    python -m bench.bench_scaleout [--messages 300] [--clients 50]

Set-up (tests/deployment/cluster.py, as the deployment test): a scratch PostgreSQL database
(created and dropped here), `chroma run` on a temp folder, Redis database 13, the fake WeCom
API, and the OpenAI-compatible stub LLM answering at once (model `stub-normal`, delay 0). The
test bank and its notes (tests/retrieval/conftest.py `record_notes`), applied to the Chroma
server, and bench_serve's four bound WeCom users.

Each round starts the serve processes as real `python -m bot.cli serve` processes, answers one
warm-up question per sender and text, then sends `--messages` question callbacks (bench_serve's
questions, distinct MsgIds) from `--clients` keep-alive clients, spread round-robin over the
processes. Figures: acknowledgement p50/p99, end-to-end messages/s (first callback sent to the
last reply at the fake), and CPU seconds per message (the serve processes' user+sys from /proc
over the measured burst). Then retrieval p95 by role (RM, team lead, branch head): the scoped
search through the Chroma server path (`NoteIndex.search` with the actor's visible customers
from SQL, no in-process vector cache on a server). Prints figures only; no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import redis

from bench.bench_serve import (
    QUESTIONS,
    SENDERS,
    TimedFake,
    bind_senders,
    callbacks,
    close_clients,
    fire,
    load_average,
    open_clients,
    pct,
)
from crm_store import schema
from crm_store.crypto import FieldCipher, decode_key
from crm_store.db import Database, make_engine
from crm_store.permissions import load_actor, visible_customer_ids
from crm_store.store import Store
from retrieval.config import IndexSettings
from retrieval.connect import open_index
from retrieval.sync import drain_outbox
from tests.chroma_server import running_chroma
from tests.conftest import TEST_KEY, make_settings, scratch_pg_database
from tests.deployment.cluster import (
    REDIS_URL,
    Process,
    deployment_env,
    serve_process,
    stopped_at_exit,
    wait_healthy,
)
from tests.retrieval.conftest import QUERIES, record_notes
from tests.retrieval_llm.stub_llm import StubLLM

ROLES = (("RM", "rm1"), ("team lead", "lead1"), ("branch head", "head2"))


@dataclass(frozen=True)
class Round:
    """One burst's figures."""

    processes: int
    ack_ms: list[float]
    seconds: float
    replies: int
    cpu_seconds: float


@contextmanager
def environment(folder: Path) -> Iterator[tuple[Store, dict[str, str], TimedFake, StubLLM]]:
    """Database, Chroma server, fakes and the serve environment, torn down at the end."""
    fake, stub = TimedFake(), StubLLM()
    fake.start()
    stub.start()
    agent_id = 4_000_000 + os.getpid() % 1_000_000
    try:
        with (
            scratch_pg_database(f"bench_scaleout_{os.getpid()}") as url,
            running_chroma(folder) as chroma_url,
        ):
            engine = make_engine(url)
            schema.upgrade(engine)
            store = Store(
                make_settings(folder, url), Database(engine), FieldCipher(decode_key(TEST_KEY))
            )
            record_notes(store)
            bind_senders(store)
            config = IndexSettings(_env_file=None, CHROMA_URL=chroma_url)  # type: ignore[call-arg]
            with open_index(store.settings, config=config) as index:
                drain_outbox(store, index)
            env = deployment_env(
                home=folder,
                database_url=url,
                data_key=TEST_KEY,
                chroma_url=chroma_url,
                wecom_url=fake.base_url,
                telegram_url="http://127.0.0.1:9",
                agent_id=agent_id,
                LLM_BASE_URL=stub.url,
                LLM_MODEL="stub-normal",
                LLM_API_KEY="bench-key",
                LLM_MAX_RETRIES="0",
            )
            for key in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_API_BASE_URL"):
                env.pop(key)
            try:
                yield store, env, fake, stub
            finally:
                store.close()
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        client.delete(f"bankbot:wecom:token:ww1234567890abcdef:{agent_id}")
        client.close()
        stub.stop()
        fake.stop()


def wait_for(fake: TimedFake, count: int, timeout: float) -> None:
    """Until the fake has `count` replies (or `timeout` s)."""
    deadline = time.monotonic() + timeout
    while len(fake.sent_at) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def burst(urls: list[str], n_clients: int, messages: int, first_id: int) -> list[float]:
    """The callbacks from `n_clients` clients split evenly over the urls; (start, ack ms) of
    each, flattened."""

    async def run() -> list[tuple[float, float]]:
        clients = []
        for k, url in enumerate(urls):
            share = n_clients // len(urls) + (1 if k < n_clients % len(urls) else 0)
            clients.extend(await open_clients(url, share))
        calls, _ = callbacks(messages, first_id)
        try:
            samples = await fire(clients, calls)  # each client its share, all at once
        finally:
            await close_clients(clients)
        return [(s.started, s.ms) for s in samples]

    return [value for pair in asyncio.run(run()) for value in pair]


def measure(
    folder: Path,
    env: dict[str, str],
    fake: TimedFake,
    count: int,
    n_clients: int,
    messages: int,
    first_id: int,
) -> Round:
    """Start `count` serve processes, warm them, time one burst, stop them."""
    processes: list[Process] = [
        serve_process(folder, env, f"bench-serve-{k}") for k in range(count)
    ]
    with stopped_at_exit(processes):
        for p in processes:
            p.start()
        for p in processes:
            wait_healthy(p, timeout=300)
        urls = [p.url for p in processes]
        warm = len(SENDERS) * len(QUESTIONS) * count
        fake.sent_at.clear()
        burst(urls, count, warm, first_id)
        wait_for(fake, warm, 300)
        fake.sent_at.clear()
        cpu_before = sum(p.cpu_seconds() for p in processes)
        flat = burst(urls, n_clients, messages, first_id + 10_000)
        starts, acks = flat[0::2], flat[1::2]
        wait_for(fake, messages, 600)
        cpu = sum(p.cpu_seconds() for p in processes) - cpu_before
        last = max(fake.sent_at, default=min(starts))
        return Round(count, acks, last - min(starts), len(fake.sent_at), cpu)


def retrieval_by_role(
    store: Store, env: dict[str, str], rounds: int = 40
) -> dict[str, list[float]]:
    """Scoped searches through the Chroma server, ms, by the asker's role."""
    config = IndexSettings(_env_file=None, CHROMA_URL=env["CHROMA_URL"])  # type: ignore[call-arg]
    timings: dict[str, list[float]] = {}
    today = datetime.now(store.settings.tz).date()
    with open_index(store.settings, config=config) as index:
        vectors = [index.query_vector(q) for q in QUERIES]
        for role, staff_id in ROLES:
            with store.db.read() as session:
                scope = sorted(visible_customer_ids(session, load_actor(session, staff_id), today))
            samples = []
            for n in range(rounds):
                started = time.perf_counter()
                index.search_vector(vectors[n % len(vectors)], customer_ids=scope, k=5)
                samples.append((time.perf_counter() - started) * 1000)
            timings[f"{role} ({staff_id}, {len(scope)} customers)"] = samples
    return timings


def show(result: Round) -> None:
    """One round's line."""
    acks = sorted(result.ack_ms)
    rate = result.replies / result.seconds if result.seconds > 0 else 0.0
    print(
        f"{result.processes} serve: ack p50 {statistics.median(acks):.1f} ms, "
        f"p99 {pct(acks, 0.99):.1f} ms; {result.replies} replies in {result.seconds:.2f} s = "
        f"{rate:.1f} messages/s; CPU {result.cpu_seconds / max(1, result.replies) * 1000:.1f} ms "
        "per message (serve processes, user+sys)"
    )


def main() -> None:
    """Parse arguments, run one and two processes, print."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    print(f"load before: {load_average()}")
    with (
        tempfile.TemporaryDirectory(prefix="bench_scaleout_") as tmp,
        environment(Path(tmp)) as (
            store,
            env,
            fake,
            _,
        ),
    ):
        one = measure(Path(tmp), env, fake, 1, args.clients, args.messages, 7_600_000_000)
        show(one)
        two = measure(Path(tmp), env, fake, 2, args.clients, args.messages, 7_700_000_000)
        show(two)
        ratio = (two.replies / two.seconds) / (one.replies / one.seconds)
        cpu_ratio = (two.cpu_seconds / two.replies) / (one.cpu_seconds / one.replies)
        print(
            f"two / one: throughput {ratio:.2f}x, ack p99 "
            f"{pct(sorted(two.ack_ms), 0.99) / pct(sorted(one.ack_ms), 0.99):.2f}x, "
            f"CPU per message {cpu_ratio:.2f}x ({os.cpu_count()} cores)"
        )
        for role, samples in retrieval_by_role(store, env).items():
            ordered = sorted(samples)
            print(
                f"retrieval via Chroma server, {role}: p50 {statistics.median(ordered):.1f} ms, "
                f"p95 {pct(ordered, 0.95):.1f} ms"
            )
    print(f"load after: {load_average()}")


if __name__ == "__main__":
    main()
