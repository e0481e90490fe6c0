"""The `bankbot` entry point: short commands run in a warm command server when one is up.

A Python CLI on SQLAlchemy, pydantic and our store pays about a second of imports before it
reads one row (bench/bench_cli.py). Quick commands (`ask`, `staff`, `audit`, `reminders`,
`export`) are therefore handed to a per-user command server (bot/cli_server.py) that has
those modules imported and forks one child per command, the way Mercurial's chg and Rails'
spring do. The child gets this process's standard input, output and error (passed as file
descriptors), its environment, working directory and arguments, and reads its settings as
a fresh process would; the server itself holds no settings, key, data or connection.

Nothing but the standard library is imported here. When no server answers, the command
runs in this process as before and a server is started in the background for the next
call. `BANKBOT_CLI_SERVER=off` turns all of this off.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
from pathlib import Path
from typing import TYPE_CHECKING

# The rest of the standard library is imported where it is used: `bankbot --help` and the
# long commands go straight to bot.cli and should not pay for sockets or subprocesses.
if TYPE_CHECKING:
    import socket
    from collections.abc import Iterator

# Commands worth a warm start: short, run by people and scripts many times a day. `serve`,
# `scheduler` and `chat` are long-lived or interactive and always run in their own process.
QUICK_COMMANDS = frozenset({"ask", "staff", "audit", "reminders", "export"})
SWITCH_ENV = "BANKBOT_CLI_SERVER"  # "off" runs every command in its own process
RUN_DIR_ENV = "BANKBOT_RUN_DIR"  # where the server's socket lives (default: a private /tmp dir)
TRACE_ENV = "BANKBOT_CLI_TRACE"  # "1" says on stderr which way a command ran
HEADER = struct.Struct("!I")
STALE = 0  # the pid a server sends when its code changed under it: run here instead


def main() -> None:
    """Run `bankbot` with this process's arguments; exit with the command's status."""
    argv = sys.argv[1:]
    if not _wanted(argv):
        _run_here()
    path = socket_path()
    if _safe_dir(path.parent):
        code = _run_in_server(path, argv)
        if code is not None:
            _trace("ran in the command server")
            sys.exit(code)
    _trace("ran in this process")
    try:
        _run_here()
    finally:
        _start_server(path)


def _wanted(argv: list[str]) -> bool:
    enabled = os.environ.get(SWITCH_ENV, "on").strip().lower() not in {"off", "0", "false", "no"}
    return enabled and bool(argv) and argv[0] in QUICK_COMMANDS


def _run_here() -> None:
    from bot.cli import main as cli_main

    cli_main()
    sys.exit(0)


def _trace(message: str) -> None:
    if os.environ.get(TRACE_ENV) == "1":
        print(f"bankbot: {message}", file=sys.stderr)


def socket_path() -> Path:
    """This user's socket for this installation (interpreter and project folder)."""
    import hashlib

    folder = os.environ.get(RUN_DIR_ENV) or f"/tmp/bankbot-cli-{os.getuid()}"
    install = f"{sys.executable}\0{Path(__file__).resolve().parent.parent}"
    return Path(folder) / f"cli-{hashlib.sha256(install.encode()).hexdigest()[:16]}.sock"


def make_run_dir(folder: Path) -> None:
    """Create the socket folder private to this user (0700), as ssh-agent and tmux do."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)


@contextlib.contextmanager
def unix_address(path: Path) -> Iterator[str]:
    """An address for `path` that fits a Unix socket's 107 bytes however deep its folder.

    A long folder (a deep BANKBOT_RUN_DIR or home) is reached through an open descriptor
    of it, /proc/self/fd/N/NAME, which Linux resolves like the folder itself."""
    if len(os.fsencode(path)) < 100:
        yield str(path)
        return
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{folder}/{path.name}"
    finally:
        os.close(folder)


def _safe_dir(folder: Path) -> bool:
    """Only a folder this user owns and nobody else may enter: another user's server (or a
    planted socket) would otherwise receive our environment, data key included."""
    import stat

    try:
        info = folder.lstat()
    except FileNotFoundError:
        return False
    safe = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
    if safe and info.st_mode & 0o077 == 0:
        return True
    _trace(f"not using the command server: {folder} is not private to this user")
    return False


def _run_in_server(path: Path, argv: list[str]) -> int | None:
    """The command's exit status from the server, or None when no server took it."""
    import socket

    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with unix_address(path) as address:
            client.connect(address)
        _send_request(client, argv)
        pid = _read_int(client)
    except OSError:
        client.close()
        return None
    if pid is None or pid == STALE:
        client.close()
        return None
    return _wait_for_child(client, pid)


def _send_request(client: socket.socket, argv: list[str]) -> None:
    import json
    import socket

    request = {
        "argv": argv,
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "encoding": sys.stdout.encoding or "utf-8",
    }
    body = json.dumps(request).encode()
    socket.send_fds(client, [HEADER.pack(len(body)) + body], [0, 1, 2])


def _wait_for_child(client: socket.socket, pid: int) -> int:
    """Forward Ctrl-C and termination to the child; return its status."""
    import signal

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    try:
        code = _read_int(client)
    finally:
        client.close()
    return 1 if code is None else code


def _read_int(client: socket.socket) -> int | None:
    data = b""
    while len(data) < HEADER.size:
        chunk = client.recv(HEADER.size - len(data))
        if not chunk:
            return None
        data += chunk
    return int(HEADER.unpack(data)[0])


def _start_server(path: Path) -> None:
    """Start a server in the background for the next quick command (never fails a command)."""
    import subprocess

    try:
        make_run_dir(path.parent)
        if not _safe_dir(path.parent):
            return
        # Its errors (a failed start-up) go to a log beside the socket, private like it.
        log = os.open(path.with_suffix(".log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            subprocess.Popen(
                [sys.executable, "-m", "bot.cli_server", str(path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,  # not killed with this terminal's process group
                close_fds=True,
            )
        finally:
            os.close(log)
    except OSError as exc:
        _trace(f"could not start the command server: {exc}")
