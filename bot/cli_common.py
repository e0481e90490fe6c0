"""Helpers shared by the CLI commands: settings, store opening, one-line errors."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import typer

# Only typer at the top: `bankbot --help` must not pay for pydantic, SQLAlchemy or the store
# (see bench/bench_cli.py); each command imports what it uses when it runs.
if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from crm_store.settings import Settings
    from crm_store.store import Store

P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line to stderr and return the exit to raise."""
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(code)


def one_line_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Bad input gets a short error and a non-zero exit, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from pydantic import ValidationError
        from sqlalchemy.exc import OperationalError

        from crm_store.errors import StoreError

        try:
            return func(*args, **kwargs)
        except StoreError as exc:
            raise fail(str(exc)) from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"]).upper()
            raise fail(f"bad setting {where}: {first['msg']}") from None
        except OperationalError as exc:
            raise fail(f"database unavailable: {str(exc.orig).splitlines()[0]}") from None
        except OSError as exc:
            raise fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from None

    return wrapper


def load_settings() -> Settings:
    """Settings from the environment and `.env`."""
    from crm_store.settings import Settings

    return Settings()


def store_from_env() -> Store:
    """The initialised store, or a clear 'run bankbot init' error."""
    from crm_store.store import open_store

    return open_store(load_settings())


def parse_now(value: str | None, settings: Settings) -> datetime | None:
    """`--now` as an aware datetime; a naive value is business time."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"--now must be ISO 8601, e.g. 2026-11-28T09:00:00, not {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=settings.tz)


@contextmanager
def store_session(*, write: bool) -> Iterator[Session]:
    """Open the store, give one session (a write transaction if asked), close everything."""
    store = store_from_env()
    try:
        with store.db.write() if write else store.db.read() as session:
            yield session
    finally:
        store.close()
