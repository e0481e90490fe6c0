"""Processes that find no access token at the same moment fetch it once between them.

Each `AccessTokens` below stands for one process (its own in-process lock, its own store
client); the fetch is slow, so without the shared fetch lock every one of them would fetch.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import pytest

from bot.token_cache import AccessTokens, DatabaseTokenStore, RedisTokenStore, TokenStore
from crm_store.crypto import FieldCipher, decode_key
from crm_store.store import Store
from tests.conftest import TEST_KEY
from tests.wecom.fakes import REDIS_TEST_URL

CIPHER = FieldCipher(decode_key(TEST_KEY))
PROCESSES = 4


def race(stores: list[TokenStore], name: str) -> tuple[int, set[str]]:
    """Every 'process' asks for the token at once; (fetches made, tokens handed out)."""
    fetches: list[int] = []
    got: list[str] = []
    start = threading.Barrier(len(stores))

    def fetch() -> tuple[str, int]:
        fetches.append(1)
        time.sleep(0.3)  # the platform's round trip
        return f"token-{len(fetches)}", 7200

    def one(store: TokenStore) -> Callable[[], None]:
        def run() -> None:
            start.wait()
            got.append(AccessTokens(store, name, CIPHER).get(fetch))

        return run

    threads = [threading.Thread(target=one(s)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return len(fetches), set(got)


def test_processes_starting_together_share_one_fetch_through_redis() -> None:
    name = f"wecom:token:race-{uuid.uuid4().hex[:8]}"
    stores = [RedisTokenStore(REDIS_TEST_URL) for _ in range(PROCESSES)]
    try:
        assert race(list(stores), name) == (1, {"token-1"})
    finally:
        stores[0].client.delete(f"bankbot:{name}", f"bankbot:{name}:fetch")
        for store in stores:
            store.close()


def test_processes_starting_together_share_one_fetch_through_postgresql(
    store: Store, engine_name: str
) -> None:
    if engine_name == "sqlite":
        pytest.skip("SQLite serves one machine's processes; its fetch is not locked across them")
    stores: list[TokenStore] = [DatabaseTokenStore(store.db) for _ in range(PROCESSES)]
    assert race(stores, "wecom:token:race") == (1, {"token-1"})
