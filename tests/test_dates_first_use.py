"""The date parser's first use from several threads at once (answer threads just after a
start): every note gets its follow-up date, and the process's stdout and stderr stay its
own. Run in a fresh interpreter, where jionlp is not yet loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_USE = """
import json, sys, threading
from datetime import datetime
from handlers.dates import find_followup_date

now = datetime(2026, 12, 8, 5, 9)
found = []
together = threading.Barrier(6)

def read_note():
    together.wait()
    day = find_followup_date("刚和张伟通话，他想了解大额存单，下周二回访", now)
    found.append(day.on.isoformat() if day else None)

threads = [threading.Thread(target=read_note) for _ in range(6)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"found": found, "stdout": sys.stdout is sys.__stdout__,
                  "stderr": sys.stderr is sys.__stderr__}))
"""


def test_six_threads_reading_their_first_dates_at_once_all_get_them() -> None:
    run = subprocess.run(
        [sys.executable, "-c", FIRST_USE], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"found": ["2026-12-15"] * 6, "stdout": True, "stderr": True}
