"""The data folder is its owner's alone: folders 0700, files 0600, whatever the umask.

`bankbot init` makes the home private and tightens what an older version left readable; each
file bankbot creates later (the SQLite file before SQLite opens it, the delivery log, the key
file, the Chroma folder) is created private. SQLite gives its -wal and -shm files the mode of
the database file, and nothing under a 0700 folder is reachable by another local user anyway.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
# Left by older versions with the umask's modes; tightened by `bankbot init`.
HOME_FILES = (
    "bankbot.db",
    "bankbot.db-wal",
    "bankbot.db-shm",
    "bankbot.intake.db",  # serve's intake journal (bot/intake_journal.py), and its -wal/-shm
    "bankbot.intake.db-wal",
    "bankbot.intake.db-shm",
    "deliveries.jsonl",
    "data.key",
)
HOME_DIRS = ("chroma",)


def private_dir(path: Path) -> Path:
    """Create the folder (and parents) if needed; the folder itself ends up 0700."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create the file empty if it does not exist; either way it ends up 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def tighten_home(home: Path) -> None:
    """The home 0700; the files and folders bankbot keeps there 0600 and 0700, recursively."""
    private_dir(home)
    for name in HOME_FILES:
        if (home / name).is_file():
            os.chmod(home / name, FILE_MODE)
    for name in HOME_DIRS:
        if (home / name).is_dir():
            _tighten_tree(home / name)


def _tighten_tree(folder: Path) -> None:
    os.chmod(folder, DIR_MODE)
    for root, dirs, files in os.walk(folder):
        for d in dirs:
            os.chmod(Path(root) / d, DIR_MODE)
        for f in files:
            os.chmod(Path(root) / f, FILE_MODE)
