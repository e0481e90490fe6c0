"""The warm command server behind `bankbot`'s quick commands (see bot/cli_client.py).

    python -m bot.cli_server SOCKET      (started by the `bankbot` command itself)

It imports what the quick commands use, then forks one child per command. The child takes
the caller's standard streams, environment, working directory and arguments, runs the
command exactly as `bankbot` would, and reports the exit status. The server reads no
settings, opens no database and holds no key: every child does that itself, from the
caller's environment. It only serves its own user (peer credentials), exits after
`IDLE_SECONDS` without a command, when its socket is taken over or removed, and when the
installed code changes (the next command then runs cold and starts a fresh server).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import importlib
import json
import os
import selectors
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, NoReturn

from bot.cli_client import HEADER, STALE, make_run_dir, unix_address

IDLE_SECONDS = 900  # a quarter of an hour without a command: the server goes
TICK_SECONDS = 5.0  # how often it checks its socket and idleness
REQUEST_TIMEOUT = 5.0  # a client that connects and sends nothing is dropped
MAX_REQUEST = 4 * 1024 * 1024
# What the quick commands import (measured with a card look-up, `staff list`, `audit tail`,
# `reminders status`, `export`). Never the note index (chromadb, langchain, the model): its
# threads and sessions must not be forked, and a question opens it in the child.
PRELOAD = (
    "bot.cli",
    "bot.cli_staff",
    "bot.cli_staff_moves",
    "bot.cli_reminders",
    "bot.cli_export",
    "bot.cli_index",
    "bot.console",
    "bot.dispatch",
    "bot.audit_view",
    "crm_store.audit",
    "crm_store.store",
    "crm_store.importer",
    "sqlalchemy.dialects.sqlite",
    "handlers.understanding.decide",
)
PACKAGES = ("bot", "handlers", "retrieval", "crm_store", "scheduler")


def main() -> None:
    """Serve on the socket named by the one argument."""
    preload()
    server = CommandServer(Path(sys.argv[1]))
    signal.signal(signal.SIGTERM, server.stop)
    server.serve()


def preload() -> None:
    """Import the quick commands' modules; refuse to serve if that started a thread."""
    for name in PRELOAD:
        importlib.import_module(name)
    if threading.active_count() != 1:
        raise SystemExit("bankbot command server: a preloaded module started a thread")
    gc.freeze()  # children share the imported objects' pages instead of copying them


def code_stamp() -> str:
    """Changes whenever our code or the installed libraries change."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for package in PACKAGES:
        for folder, dirs, files in os.walk(root / package):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                info = os.stat(os.path.join(folder, name))
                digest.update(f"{folder}/{name}:{info.st_mtime_ns}:{info.st_size}\n".encode())
    site = Path(importlib.import_module("sqlalchemy").__file__ or "").parent.parent
    digest.update(str(site.stat().st_mtime_ns).encode())  # a pip install changes it
    return digest.hexdigest()


class CommandServer:
    """Accepts commands on a Unix socket and runs each in a forked child."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stamp = code_stamp()
        self.stopping = False
        self.listener = self._bind()
        self.inode = path.stat().st_ino
        self.pid_file = path.with_suffix(".pid")
        self.pid_file.write_text(f"{os.getpid()}\n")

    def _bind(self) -> socket.socket:
        """Bind beside the final name, then rename: a racing server simply replaces us."""
        make_run_dir(self.path.parent)
        spare = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        spare.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with unix_address(spare) as address:
            listener.bind(address)
        os.chmod(spare, 0o600)
        listener.listen(64)
        os.replace(spare, self.path)
        return listener

    def serve(self) -> None:
        """Run until idle, replaced, stale or terminated."""
        last_command = time.monotonic()
        with selectors.DefaultSelector() as selector:
            selector.register(self.listener, selectors.EVENT_READ)
            while not self.stopping:
                ready = selector.select(TICK_SECONDS)
                _reap_children()
                if ready:
                    self._take_one()
                    last_command = time.monotonic()
                elif time.monotonic() - last_command > IDLE_SECONDS or not self._still_ours():
                    break
        self._close()

    def stop(self, _signum: int = 0, _frame: object = None) -> None:
        """Finish after the current command (SIGTERM)."""
        self.stopping = True

    def _still_ours(self) -> bool:
        try:
            return self.path.stat().st_ino == self.inode
        except FileNotFoundError:
            return False

    def _close(self) -> None:
        self.listener.close()
        if self._still_ours():
            self.path.unlink(missing_ok=True)
            self.pid_file.unlink(missing_ok=True)

    def _take_one(self) -> None:
        conn, _ = self.listener.accept()
        fds: list[int] = []
        try:
            if not _same_user(conn):
                return
            if code_stamp() != self.stamp:
                conn.sendall(HEADER.pack(STALE))
                self.stopping = True
                return
            request, fds = _receive(conn)
            if os.fork() == 0:
                _run_child(conn, self.listener, request, fds)
        except (OSError, ValueError):
            pass  # a client that went away or sent garbage: it runs the command itself
        finally:
            for fd in fds:
                os.close(fd)
            conn.close()


def _same_user(conn: socket.socket) -> bool:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return bool(uid == os.getuid())


def _receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """The request and the caller's three standard file descriptors."""
    conn.settimeout(REQUEST_TIMEOUT)
    data, fds, _flags, _addr = socket.recv_fds(conn, 65536, 3)
    if len(fds) != 3 or len(data) < HEADER.size:
        for fd in fds:
            os.close(fd)
        raise ValueError("not a bankbot request")
    (length,) = HEADER.unpack(data[: HEADER.size])
    if length > MAX_REQUEST:
        raise ValueError("request too large")
    body = data[HEADER.size :]
    while len(body) < length:
        chunk = conn.recv(length - len(body))
        if not chunk:
            raise ValueError("request cut short")
        body += chunk
    conn.settimeout(None)
    return json.loads(body), fds


def _reap_children() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def _run_child(
    conn: socket.socket, listener: socket.socket, request: dict[str, Any], fds: list[int]
) -> NoReturn:
    """In the forked child: become the caller's `bankbot` process, run, report, exit."""
    code = 1
    try:
        listener.close()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _take_over_caller(request, fds)
        conn.sendall(HEADER.pack(os.getpid()))  # the caller forwards Ctrl-C to us
        code = _run_command()
    except BaseException:  # the caller must get a status whatever happened
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        with contextlib.suppress(OSError):
            conn.sendall(HEADER.pack(code))
    os._exit(code)


def _take_over_caller(request: dict[str, Any], fds: list[int]) -> None:
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()  # TZ may differ from the server's
    os.chdir(request["cwd"])
    sys.argv = ["bankbot", *request["argv"]]
    encoding = request.get("encoding") or "utf-8"
    sys.stdin = open(0, encoding=encoding, closefd=False)  # noqa: SIM115 - lives to exit
    line = 1 if os.isatty(1) else -1  # line-buffered on a terminal, as Python's own stdout
    sys.stdout = open(1, "w", buffering=line, encoding=encoding, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding=encoding, closefd=False)  # noqa: SIM115


def _run_command() -> int:
    from bot.cli import main as cli_main

    try:
        cli_main()
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            return done.code or 0
        print(done.code, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    main()
