"""The acknowledgement's own CPU: a WeCom callback against the bare route, in one process.

    python -m bench.bench_ack_cpu [--callbacks 900] [--rounds 5] [--at-once 50] [--no-journal]
        [--no-seal] [--url postgresql+psycopg://.../scratch_db]

Why: in bench_serve's burst every client sends its next callback once the last is
acknowledged, so about `--at-once` callbacks wait on serve's one event loop at a time, each for
the CPU of those before it. Its ack floor (the bare route's p99 under the same load plus one
durable commit) prices the bare route's CPU, not the callback's; this bench measures how far
apart the two are.

Set-up: a fresh SQLite store in a temp BANKBOT_HOME, or the PostgreSQL database of `--url`
(dropped and created afresh), WeCom configured (its API unreachable, the senders unbound:
nothing is answered, `answer_here=False` as with answer processes), the app `bankbot serve`
builds for it (WeComAdapter; on SQLite the inbox with its intake journal unless
`--no-journal`; callbacks stored sealed unless `--no-seal`) plus a bare POST route returning
200. The ASGI app is called in-process,
`--at-once` requests in flight, so HTTP parsing (uvicorn's, the same for both) is left out.

1. Baseline: `--callbacks` requests to the bare route, process CPU time per request.
2. Callbacks: `--callbacks` encrypted, signed text callbacks (distinct MsgIds, prepared before
   the clock): verify, the durable intake row (sealed: in the journal, whose move decrypts
   and parses it between rounds, or without one in the inbox, opened by no one here; with
   `--no-seal`: decrypted and parsed first), the metrics,
   the 200; CPU time per callback of the event loop's thread and of the process, and their
   ratios to the baseline's. Alternating, `--rounds` times, after a warm-up round of each and
   with the garbage collector as serve runs it.

Prints figures only (no assertions on timings); the machine may be shared, so load is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.bench_serve import (
    Call,
    bench_settings,
    callbacks,
    fresh_store,
    load_average,
)
from bot.dispatch import Dispatcher
from bot.inbox import Inbox
from bot.quiet_gc import NEVER
from bot.serve import open_journal
from bot.web import build_app
from bot.wecom import CALLBACK_PATH, WeComAdapter
from crm_store.store import Store

BARE_PATH = "/bench/bare"
UNREACHABLE_API = "http://127.0.0.1:9"  # nothing is sent: no answer runs here


async def asgi_post(app: Starlette, path: str, params: dict[str, str], body: bytes) -> int:
    """One POST through the ASGI app as uvicorn hands it over; the response status."""
    query = "&".join(f"{key}={value}" for key, value in params.items()).encode()
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:  # the app never reads past the body; this would be a disconnect
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    status: list[int] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(int(message["status"]))

    await app(scope, receive, send)
    return status[0]


@dataclass(frozen=True)
class Cpu:
    """CPU time per request (ms): the event loop's thread, which the callbacks queue on, and
    the whole process (with the store's and the move's threads)."""

    loop: float
    process: float


async def cpu_per_request(
    calls: list[Call], at_once: int, post: Callable[[Call], Awaitable[int]]
) -> tuple[Cpu, set[int]]:
    """CPU time per request with `at_once` in flight, and the statuses seen."""
    slots = asyncio.Semaphore(at_once)

    async def one(call: Call) -> int:
        async with slots:
            return await post(call)

    loop_started, started = time.thread_time(), time.process_time()
    statuses = await asyncio.gather(*(one(call) for call in calls))
    per = 1000 / len(calls)
    loop_ms = (time.thread_time() - loop_started) * per
    return Cpu(loop_ms, (time.process_time() - started) * per), set(statuses)


def build(store: Store, journal: bool, seal: bool) -> tuple[Starlette, Inbox]:
    """The app `bankbot serve` builds for WeCom alone, plus the bare route."""
    adapter = WeComAdapter.from_settings(store)
    inbox = Inbox(
        store,
        Dispatcher(store),
        {},
        answer_here=False,
        journal=open_journal(store) if journal and seal else None,
        seal=seal,
    )
    app = build_app(store, inbox, [adapter])

    async def bare(_: Request) -> Response:
        return Response(status_code=200)

    app.router.routes.insert(0, Route(BARE_PATH, bare, methods=["POST"]))
    return app, inbox


async def measure(app: Starlette, args: argparse.Namespace) -> None:
    rounds = args.rounds
    calls, _ = callbacks(args.callbacks * (rounds + 1), 50_000_000)
    warm, timed = calls[: args.callbacks], calls[args.callbacks :]

    async def callback(call: Call) -> int:
        return await asgi_post(app, CALLBACK_PATH, call.params, call.body)

    async def bare(call: Call) -> int:
        return await asgi_post(app, BARE_PATH, call.params, call.body)

    await cpu_per_request(warm, args.at_once, callback)  # first-use costs out of the figures
    await cpu_per_request(warm, args.at_once, bare)
    # The collector as serve runs it: start-up frozen, no automatic full collections (they
    # wait for a quiet intake, bot/quiet_gc.py). Without this, a full collection lands in
    # every third round or so and doubles its figure.
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, NEVER)
    ratios, process_ratios = [], []
    for n in range(rounds):
        share = timed[n * args.callbacks : (n + 1) * args.callbacks]
        bare_cpu, _ = await cpu_per_request(share, args.at_once, bare)
        callback_cpu, statuses = await cpu_per_request(share, args.at_once, callback)
        ratios.append(callback_cpu.loop / bare_cpu.loop)
        process_ratios.append(callback_cpu.process / bare_cpu.process)
        print(
            f"round {n + 1}: event loop: bare route {bare_cpu.loop:.3f} ms CPU, callback "
            f"{callback_cpu.loop:.3f} ms per request: {ratios[-1]:.1f}x; process: "
            f"{bare_cpu.process:.3f} / {callback_cpu.process:.3f} ms: {process_ratios[-1]:.1f}x "
            f"(callback statuses {sorted(statuses)})"
        )
        await asyncio.sleep(0.2)  # the move opens and moves this round's callbacks meanwhile
    print(
        f"median ratio over {rounds} rounds: event loop {statistics.median(ratios):.1f}x, "
        f"process {statistics.median(process_ratios):.1f}x"
    )
    print(
        f"with {args.at_once} callbacks waiting at once, the last waits for the others' CPU: "
        f"{args.at_once} x the callback's CPU, against {args.at_once} x the bare route's in "
        "the floor"
    )


def run(args: argparse.Namespace) -> None:
    print(f"load before:         {load_average()}")
    with fresh_store(args.url, keep=False) as (store, settings):
        key = settings.bankbot_data_key.get_secret_value()  # type: ignore[union-attr]
        wecom = bench_settings(str(settings.home), settings.db_url, key, UNREACHABLE_API)
        bench_store = Store(wecom, store.db, store.cipher)
        app, inbox = build(bench_store, journal=not args.no_journal, seal=not args.no_seal)
        journal = "on" if inbox.journal is not None else "off"
        sealed = "off (--no-seal)" if args.no_seal else "on"
        print(
            f"store:               {store.db.engine.dialect.name}, intake journal {journal}, "
            f"stored sealed {sealed}; {args.at_once} at once"
        )
        try:
            asyncio.run(measure(app, args))
        finally:
            inbox.close()
    print(f"load after:          {load_average()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callbacks", type=int, default=900)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--at-once", type=int, default=50)
    parser.add_argument("--no-journal", action="store_true", help="store straight into the inbox")
    parser.add_argument(
        "--no-seal", action="store_true", help="decrypt and parse before storing (no journal)"
    )
    parser.add_argument("--url", default=None, help="PostgreSQL URL of a scratch database")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
