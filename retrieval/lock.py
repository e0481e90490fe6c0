"""One process at a time on the embedded Chroma folder.

Embedded Chroma is not process-safe (a second process may read stale results or corrupt the
folder), so opening it takes an exclusive `flock` on `<folder>/.bankbot.lock`. The kernel drops
the lock when the process exits, however it exits. Within one process the lock is shared:
opening the index twice is fine (Chroma shares one system per path in a process too).
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from retrieval.errors import IndexBusy

LOCK_NAME = ".bankbot.lock"
BUSY_MESSAGE = (
    "the embedded index is open in another process; "
    "set CHROMA_URL to use a Chroma server for several processes"
)

_held: dict[Path, tuple[int, int]] = {}  # lock file -> (descriptor, users in this process)
_guard = threading.Lock()


class IndexLock:
    """A held lock on one embedded index folder; `release()` once when done."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._released = False

    def release(self) -> None:
        """Give the lock back (the file stays; it is only a lock)."""
        if self._released:
            return
        self._released = True
        with _guard:
            fd, users = _held[self.path]
            if users > 1:
                _held[self.path] = (fd, users - 1)
                return
            del _held[self.path]
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def acquire(folder: Path) -> IndexLock:
    """Lock `folder` for this process, or raise IndexBusy at once if another holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = (folder / LOCK_NAME).resolve()
    with _guard:
        if path in _held:
            fd, users = _held[path]
            _held[path] = (fd, users + 1)
            return IndexLock(path)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise IndexBusy(BUSY_MESSAGE) from None
        # The holder's pid, for a person looking at the folder.
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        _held[path] = (fd, 1)
        return IndexLock(path)


def holder_pid(folder: Path) -> int | None:
    """The pid written by the process holding `folder`'s lock (None if unknown)."""
    try:
        text = (folder / LOCK_NAME).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
