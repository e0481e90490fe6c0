"""Opening the store: settings, database and field cipher in one object."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from crm_store import schema
from crm_store.crypto import FieldCipher, decode_key, read_key_file, write_key_file
from crm_store.db import Database, make_engine
from crm_store.errors import DataKeyError, NotInitialised
from crm_store.key_check import record_key_check, verify_key
from crm_store.private_files import private_file, tighten_home
from crm_store.settings import Settings


@dataclass
class Store:
    """Everything a request needs from the data layer."""

    settings: Settings
    db: Database
    cipher: FieldCipher

    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()


def _is_embedded(settings: Settings) -> bool:
    return settings.db_url.startswith("sqlite")


def load_key(settings: Settings, *, create: bool = False) -> tuple[bytes, bool]:
    """The data key from BANKBOT_DATA_KEY or the key file; (key, whether it was just made)."""
    if settings.bankbot_data_key is not None:
        return decode_key(settings.bankbot_data_key.get_secret_value()), False
    if settings.key_file.exists():
        return decode_key(read_key_file(settings.key_file)), False
    if create and _is_embedded(settings):
        return decode_key(write_key_file(settings.key_file)), True
    if create:
        raise DataKeyError("set BANKBOT_DATA_KEY (a server database never gets a generated key)")
    raise NotInitialised("no data key: run `bankbot init` or set BANKBOT_DATA_KEY")


def init_store(settings: Settings) -> tuple[Store, bool]:
    """Create the data folder, key and schema, or upgrade them; (store, key_was_generated)."""
    tighten_home(settings.home)
    key, generated = load_key(settings, create=True)
    if not settings.database_url:
        private_file(settings.home / "bankbot.db")  # before SQLite creates it with the umask
    engine = make_engine(settings.db_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    schema.upgrade(engine)
    store = Store(settings, Database(engine), FieldCipher(key))
    try:
        with store.db.write() as session:
            _verify(session, store)
            record_key_check(session, store.cipher, datetime.now(UTC))
    except DataKeyError:
        store.close()
        raise
    return store, generated


def open_store(settings: Settings) -> Store:
    """Open an initialised store, or say clearly that `bankbot init` is needed."""
    if not settings.database_url and not (settings.home / "bankbot.db").exists():
        raise NotInitialised(f"no data in {os.fspath(settings.home)}: run `bankbot init`")
    key, _ = load_key(settings)
    engine = make_engine(settings.db_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    if not schema.is_current(engine):
        engine.dispose()
        raise NotInitialised("the database schema is missing or old: run `bankbot init`")
    store = Store(settings, Database(engine), FieldCipher(key))
    try:
        with store.db.read() as session:
            _verify(session, store)
    except DataKeyError:
        store.close()
        raise
    return store


def pending_key_file(settings: Settings) -> Path:
    """Where `bankbot key rotate` writes the new key before it commits (embedded default)."""
    return settings.key_file.with_name(settings.key_file.name + ".new")


def _verify(session: Session, store: Store) -> None:
    """The key check; after an interrupted rotation, say which file holds the new key."""
    try:
        verify_key(session, store.cipher)
    except DataKeyError as exc:
        pending = pending_key_file(store.settings)
        if store.settings.bankbot_data_key is None and pending.exists():
            raise DataKeyError(
                f"{exc}; a key rotation was interrupted: move {pending.name} to "
                f"{store.settings.key_file.name}"
            ) from None
        raise
