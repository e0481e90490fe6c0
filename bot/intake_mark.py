"""When `serve` last took a callback in, as its answer processes can see it: a file's mtime.

Answers in serve's own process start once no callback has arrived for ACK_QUIET (bot/inbox.py):
a burst is stored and acknowledged before answers take the cores. Answer processes
(ANSWER_PROCESSES) could not see the burst and claimed at once, and on 2 cores their work
pushed the acknowledgements' p99 to 5-14x the floor with instant answers. serve touches this
file as callbacks arrive (at most every MARK_EVERY seconds); an answer process reads its mtime
(one stat) before it starts an answer; so does the quiet collector (bot/quiet_gc.py). A
missing or unreadable file means quiet.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from crm_store.private_files import private_file

NAME = ".bankbot.intake"
MARK_EVERY = 0.005  # a burst of a thousand callbacks a second touches it 200 times


class IntakeMark:
    """The mark of one BANKBOT_HOME."""

    def __init__(self, home: Path) -> None:
        self.path = home / NAME
        self._touched = 0.0

    def touch(self) -> None:
        """A callback arrived now (serve)."""
        now = time.time()
        if now - self._touched < MARK_EVERY:
            return
        self._touched = now
        try:
            os.utime(self.path, (now, now))
        except FileNotFoundError:
            private_file(self.path)
        except OSError:
            return  # a read-only home: answers start without waiting, as before

    def last(self) -> float:
        """time.time() of the latest mark (0 when there is none)."""
        try:
            return os.stat(self.path).st_mtime
        except OSError:
            return 0.0
