"""Index work asked of the process that holds the embedded index (`bankbot serve`).

The embedded index belongs to one process. An admin's `bankbot reindex` or `index check`
while `serve` runs writes a request file into the index folder's `requests/`; serve's
upkeep thread (bot/index_upkeep.py) runs it and writes the answer beside it. So does a
question through `bankbot ask`: the holder answers it through the same dispatcher as a
chat, as that staff member, audited as the console's. The folder is the data folder's own
(mode 0700), so only whoever may run bankbot there (and so read the database) may ask.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crm_store.store import Store
    from retrieval.index import NoteIndex
    from retrieval.sync import Drift

FOLDER = "requests"
ASK = "ask"  # a question through `bankbot ask`: {"staff", "text", "now"}
ACTIONS = ("reindex", "check", "repair", ASK)
NO_QUESTIONS = 3  # the exit code of an "ask" the holder cannot answer (no retriever there)
SERVING = "serving"  # the pid of the process answering requests


@dataclass(frozen=True)
class Answer:
    """What the holder did: the lines to print and the exit code."""

    lines: list[str]
    code: int


def _folder(index_folder: Path) -> Path:
    folder = index_folder / FOLDER
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def submit(index_folder: Path, action: str, **fields: str | None) -> str:
    """Queue `action` (with a question's `fields`) for the holder; the request id."""
    if action not in ACTIONS:
        raise ValueError(f"unknown index request {action!r}")
    request_id = uuid.uuid4().hex
    folder = _folder(index_folder)
    temporary = folder / f".{request_id}.tmp"
    temporary.write_text(json.dumps({**fields, "action": action}, ensure_ascii=False))
    os.replace(temporary, folder / f"{request_id}.request")  # appears whole or not at all
    return request_id


def announce(index_folder: Path) -> None:
    """Say that this process answers requests (the holder's upkeep, at its start)."""
    (_folder(index_folder) / SERVING).write_text(f"{os.getpid()}\n")


def withdraw_announcement(index_folder: Path) -> None:
    """This process answers no more requests."""
    (index_folder / FOLDER / SERVING).unlink(missing_ok=True)


def serving_pid(index_folder: Path) -> int | None:
    """The pid of the process that announced it answers requests, if any."""
    try:
        text = (index_folder / FOLDER / SERVING).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal sent: only whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        pass
    return True


def wait(
    index_folder: Path,
    request_id: str,
    *,
    holder: int | None,
    sleep: Callable[[float], None] = time.sleep,
) -> Answer | None:
    """The holder's answer, however long the work takes; None (the request withdrawn) when
    the process holding the index (`holder`) does not answer requests or has gone."""
    folder = _folder(index_folder)
    answer = folder / f"{request_id}.answer"
    try:
        while not answer.exists():
            gone = holder is None or serving_pid(index_folder) != holder or not _alive(holder)
            if gone and _withdraw(folder, request_id):
                return None
            sleep(0.2)
    except BaseException:  # Ctrl-C: do not leave the request behind
        _withdraw(folder, request_id)
        raise
    body = json.loads(answer.read_text())
    answer.unlink(missing_ok=True)
    return Answer(list(body["lines"]), int(body["code"]))


def _withdraw(folder: Path, request_id: str) -> bool:
    """Remove a request not yet taken; False if the holder took it already."""
    try:
        (folder / f"{request_id}.request").unlink()
    except FileNotFoundError:
        return False
    return True


def serve_requests(index_folder: Path, run: Callable[[dict[str, str]], Answer]) -> int:
    """Run every waiting request with `run(request)`; how many were answered."""
    folder = index_folder / FOLDER
    if not folder.is_dir():
        return 0
    answered = 0
    for request in sorted(folder.glob("*.request")):
        request_id = request.stem
        taken = folder / f"{request_id}.taken"
        try:
            os.replace(request, taken)  # claimed: the asker no longer withdraws it
        except FileNotFoundError:  # withdrawn meanwhile
            continue
        try:
            request = json.loads(taken.read_text())
            action = request.get("action", "")
            result = (
                run(request) if action in ACTIONS else Answer([f"unknown request {action!r}"], 2)
            )
        except Exception as exc:  # the asker gets one line; the log has the rest
            result = Answer([f"the index request failed: {type(exc).__name__}: {exc}"], 1)
        temporary = folder / f".{request_id}.answer.tmp"
        temporary.write_text(json.dumps({"lines": result.lines, "code": result.code}))
        os.replace(temporary, folder / f"{request_id}.answer")
        taken.unlink(missing_ok=True)
        answered += 1
    return answered


def run_action(store: Store, index: NoteIndex, action: str) -> Answer:
    """Do one index action and say what was done, as the CLI would print it."""
    from retrieval.sync import check, reindex

    if action == "reindex":
        done = reindex(store, index, progress=False)
        return Answer([f"indexed {done} notes ({index.model})"], 0)
    drift = check(store, index, repair=action == "repair")
    return Answer(*drift_report(drift, index.count(), repaired=action == "repair"))


SHOWN_IDS = 10


def _listed(label: str, ids: list[str]) -> str:
    more = f" (+{len(ids) - SHOWN_IDS} more)" if len(ids) > SHOWN_IDS else ""
    return f"{label}: {len(ids)}\t{' '.join(ids[:SHOWN_IDS])}{more}".rstrip()


def drift_report(drift: Drift, count: int, *, repaired: bool) -> tuple[list[str], int]:
    """The lines and exit code of `index check`."""
    lines = [
        _listed("missing", drift.missing),
        _listed("extra", drift.extra),
        _listed("stale", drift.stale),
    ]
    if drift.total == 0:
        return [*lines, f"index matches SQL ({count} notes)"], 0
    if repaired:
        return [*lines, f"repaired {drift.total} notes"], 0
    return lines, 1
