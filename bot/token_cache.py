"""Platform access tokens shared by every bot process: Redis when configured, else the database.

A token is reused until `margin` before it expires, then fetched again. After the platform
rejects it (WeCom 40014/42001) the caller asks for `refresh(bad)`: the bad value is removed
only if it is still the stored one, so a process that arrives second picks up the token the
first one fetched instead of fetching again. Processes that find no token at the same moment
(several `serve` instances starting together) take a short fetch lock in the shared store
(a Redis lock, or a PostgreSQL advisory lock) and look again once they hold it, so one of
them fetches and the others reuse its token. If the lock cannot be had within
FETCH_LOCK_WAIT seconds, the process fetches anyway: a second valid token (WeCom hands out
the same one while it is valid) is better than no reply. Nothing here loops.
Values are encrypted with the data key before they are stored.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import redis
from redis.exceptions import LockError
from sqlalchemy import delete, select, text
from sqlalchemy.exc import OperationalError

from crm_store.crypto import FieldCipher
from crm_store.db import Database
from crm_store.errors import DataKeyError
from crm_store.models import SharedSecret
from crm_store.upsert import insert_for

REDIS_PREFIX = "bankbot:"
REFRESH_MARGIN_SECONDS = 300
FETCH_LOCK_WAIT = 10.0  # seconds to wait for another process's fetch
FETCH_LOCK_HOLD = 30.0  # a fetch lock expires by itself after this (a process died holding it)
# Deletes the key only while it still holds the value the caller saw (compare-and-delete).
_DELETE_IF_SAME = """
if redis.call('HGET', KEYS[1], 'value') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class StoredToken:
    """A stored value (encrypted form) and when it stops being valid (epoch seconds)."""

    value: str
    expires_at: float


class TokenStore(Protocol):
    """Where tokens live between processes."""

    def load(self, name: str) -> StoredToken | None:
        """The stored token, or None."""
        ...

    def save(self, name: str, token: StoredToken, ttl: float) -> None:
        """Store (or replace) the token; `ttl` is how long it stays valid, in seconds."""
        ...

    def discard(self, name: str, value: str) -> None:
        """Remove the token, but only if it still holds `value`."""
        ...

    def fetching(self, name: str) -> AbstractContextManager[bool]:
        """Held while this process fetches `name`; yields whether it got the lock."""
        ...


class RedisTokenStore:
    """Tokens in Redis hashes under `bankbot:<name>`, expiring with the token itself."""

    def __init__(self, url: str, prefix: str = REDIS_PREFIX) -> None:
        self.client: Any = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.prefix = prefix

    def load(self, name: str) -> StoredToken | None:
        """The stored token, or None."""
        value, expires_at = self.client.hmget(self._key(name), ["value", "expires_at"])
        if value is None or expires_at is None:
            return None
        return StoredToken(value.decode(), float(expires_at))

    def save(self, name: str, token: StoredToken, ttl: float) -> None:
        """Write the hash and let Redis drop it when the token expires."""
        key = self._key(name)
        mapping = {"value": token.value, "expires_at": repr(token.expires_at)}
        self.client.pipeline().hset(key, mapping=mapping).pexpire(key, int(ttl * 1000)).execute()

    def discard(self, name: str, value: str) -> None:
        """Compare-and-delete in one server-side step."""
        self.client.eval(_DELETE_IF_SAME, 1, self._key(name), value)

    @contextmanager
    def fetching(self, name: str) -> Iterator[bool]:
        """A Redis lock (SET NX with a token, expiring by itself), waited for a few seconds."""
        lock = self.client.lock(
            self._key(f"{name}:fetch"), timeout=FETCH_LOCK_HOLD, blocking_timeout=FETCH_LOCK_WAIT
        )
        got = bool(lock.acquire())
        try:
            yield got
        finally:
            if got:
                with suppress(LockError):  # expired while fetching: someone else may hold it
                    lock.release()

    def close(self) -> None:
        """Release the connection pool."""
        self.client.close()

    def _key(self, name: str) -> str:
        return f"{self.prefix}{name}"


class DatabaseTokenStore:
    """Tokens in the `shared_secret` table (SQLite or PostgreSQL)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def load(self, name: str) -> StoredToken | None:
        """The stored row, if any."""
        with self.db.read() as session:
            row = session.execute(
                select(SharedSecret.value, SharedSecret.expires_at).where(SharedSecret.name == name)
            ).first()
        if row is None:
            return None
        return StoredToken(row.value, row.expires_at.timestamp())

    def save(self, name: str, token: StoredToken, ttl: float) -> None:
        """Upsert the row (`ttl` is implied by `expires_at` here)."""
        expires_at = datetime.fromtimestamp(token.expires_at, UTC)
        with self.db.write() as session:
            statement = insert_for(session, SharedSecret).values(
                name=name, value=token.value, expires_at=expires_at
            )
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=["name"], set_={"value": token.value, "expires_at": expires_at}
                )
            )

    def discard(self, name: str, value: str) -> None:
        """Delete the row if it still holds `value`."""
        with self.db.write() as session:
            session.execute(
                delete(SharedSecret).where(SharedSecret.name == name, SharedSecret.value == value)
            )

    @contextmanager
    def fetching(self, name: str) -> Iterator[bool]:
        """On PostgreSQL a transaction-level advisory lock on the token's name, held on one
        connection for the fetch; SQLite serves one machine, where the in-process lock and
        the write lock are enough."""
        if self.db.is_sqlite:
            yield True
            return
        with self.db.engine.connect() as conn, conn.begin():
            wait = f"{int(FETCH_LOCK_WAIT * 1000)}ms"
            conn.execute(text("SELECT set_config('lock_timeout', :wait, true)"), {"wait": wait})
            try:
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:n))"), {"n": name})
            except OperationalError:  # lock_timeout: fetch without it
                yield False
                return
            yield True


Fetch = Callable[[], tuple[str, int]]  # -> (access_token, expires_in seconds)


class AccessTokens:
    """One named token in a shared store, fetched through `fetch` when missing or expiring."""

    def __init__(
        self,
        store: TokenStore,
        name: str,
        cipher: FieldCipher,
        *,
        margin: float = REFRESH_MARGIN_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.name = name
        self.cipher = cipher
        self.margin = margin
        self.clock = clock
        self._lock = threading.Lock()  # one fetch at a time within this process

    def get(self, fetch: Fetch) -> str:
        """A token valid for at least `margin` more seconds; fetched only when needed."""
        token = self._usable()
        if token is not None:
            return token
        with self._lock, self.store.fetching(self.name):
            token = self._usable()  # another thread or process may have fetched meanwhile
            return token if token is not None else self._fetch(fetch)

    def refresh(self, rejected: str, fetch: Fetch) -> str:
        """After the platform rejected `rejected`: a different token, fetched at most once."""
        with self._lock:
            stored = self.store.load(self.name)
            if stored is not None:
                current = self._decrypt(stored.value)
                if current is not None and current != rejected and self._fresh(stored):
                    return current  # another process or thread already replaced it
                self.store.discard(self.name, stored.value)
            return self._fetch(fetch)

    def _usable(self) -> str | None:
        stored = self.store.load(self.name)
        if stored is None or not self._fresh(stored):
            return None
        return self._decrypt(stored.value)

    def _fresh(self, stored: StoredToken) -> bool:
        return stored.expires_at - self.clock() > self.margin

    def _fetch(self, fetch: Fetch) -> str:
        token, expires_in = fetch()
        blob = base64.b64encode(self.cipher.encrypt(token)).decode()
        self.store.save(self.name, StoredToken(blob, self.clock() + expires_in), expires_in)
        return token

    def _decrypt(self, value: str) -> str | None:
        try:
            return self.cipher.decrypt(base64.b64decode(value))
        except (DataKeyError, ValueError):
            return None  # written with another data key, or damaged: fetch a new one
