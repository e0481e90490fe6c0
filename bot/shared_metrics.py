"""One `/metrics` for serve and its answer processes.

With ANSWER_PROCESSES (1 by default) the answers run in processes of their own, so replies,
LLM calls, voice messages and, on PostgreSQL, what each sealed WeCom callback turned out to
be are counted there, where nothing scrapes them. prometheus_client's multiprocess mode keeps
each process's counters in files of the folder PROMETHEUS_MULTIPROC_DIR names, and serve's
`/metrics` adds them up at every scrape (bot/metrics.py). The variable must be set before
prometheus_client is first imported, as it picks how to keep values then: `bankbot serve`
sets it first thing, and its answer processes inherit it.

Each serve has a folder of its own (`metrics/serve-<pid>` in BANKBOT_HOME), so two serve
processes on one machine are two Prometheus targets, each counting its own work. A start
removes the folders of serve processes no longer running: a restarted serve counts from zero,
as Prometheus expects of a restarted target. An answer process restarted by serve keeps
adding to the same folder, and the counts of one that died stay in the sum.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

log = logging.getLogger(__name__)

FOLDER_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "serve-"


def share_with_answer_processes(home: Path) -> Path | None:
    """This serve's counters folder, named in the environment its answer processes inherit;
    None when prometheus_client was imported already (its counters stay in this process)."""
    if "prometheus_client" in sys.modules:
        log.warning("metrics: counted in this process only (prometheus_client loaded early)")
        return None
    mine = counters_folder(home)
    os.environ[FOLDER_VARIABLE] = str(mine)
    return mine


def counters_folder(home: Path) -> Path:
    """This process's new, empty counters folder; those of processes gone are removed."""
    root = home / "metrics"
    root.mkdir(mode=0o700, exist_ok=True)
    for folder in root.glob(f"{PREFIX}*"):
        if not _running(folder.name.removeprefix(PREFIX)):
            shutil.rmtree(folder, ignore_errors=True)
    mine = root / f"{PREFIX}{os.getpid()}"
    shutil.rmtree(mine, ignore_errors=True)  # a pid reused: not this process's counts
    mine.mkdir(mode=0o700)
    return mine


def _running(pid: str) -> bool:
    """Whether a process of this pid is running (a name that is no pid is not)."""
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: leave its folder alone
    return True
