"""A real `chroma run` on loopback, for tests and benches that need the Chroma server path."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class ChromaNotStarted(RuntimeError):
    """The `chroma` command is missing, or the server exited or never listened."""


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chroma_binary() -> str | None:
    """The `chroma` command next to this Python, else on PATH."""
    return shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")


@contextmanager
def running_chroma(folder: Path, timeout: float = 60.0) -> Iterator[str]:
    """`chroma run --path folder/server` on a free loopback port until the block ends; yields
    its URL once it answers its heartbeat. The server's output goes to folder/chroma.log."""
    binary = chroma_binary()
    if binary is None:
        raise ChromaNotStarted("the `chroma` command is not installed next to this Python")
    port = free_port()
    log = folder / "chroma.log"
    args = [binary, "run", "--path", str(folder / "server"), "--host", "127.0.0.1"]
    with log.open("wb") as out:
        try:
            proc = subprocess.Popen([*args, "--port", str(port)], stdout=out, stderr=out)
        except OSError as exc:
            raise ChromaNotStarted(f"chroma server cannot start: {exc}") from exc
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_heartbeat(proc, url, log, timeout)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_for_heartbeat(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            why = log.read_text(errors="replace")[-2000:]
            raise ChromaNotStarted(f"chroma server exited with {proc.returncode}: {why}")
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise ChromaNotStarted(f"chroma server did not answer within {timeout:g} s")
        time.sleep(0.2)
