"""`bankbot key rotate`: move every encrypted row to a new data key in one transaction.

The new key comes from `--new-key-file PATH` (a 0600 file holding the key text), else from
the environment variable BANKBOT_NEW_DATA_KEY; on the embedded default (key file, no
BANKBOT_DATA_KEY) a fresh key is generated when neither is given. With a key file, the new
key is written beside it as `data.key.new` (0600, on disk) before the transaction, and moved
over `data.key` after the commit: a crash in between leaves either the old key matching the
database, or `data.key.new` matching it, which the next command names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from bot.cli_common import fail, load_settings, one_line_errors
from bot.cli_help import typer_app

app = typer_app(no_args_is_help=True, help="The data key: rotate it.")
NEW_KEY_ENV = "BANKBOT_NEW_DATA_KEY"


@app.callback()
def key_group() -> None:
    """The data key: rotate it."""  # a group with one command stays a group: `key rotate`


@app.command("rotate")
@one_line_errors
def rotate_command(
    new_key_file: Annotated[
        Path | None,
        typer.Option("--new-key-file", metavar="PATH", help="File (0600) with the new key."),
    ] = None,
) -> None:
    """Re-encrypt every phone/ID number and stored token under a new data key (all or none)."""
    from datetime import UTC, datetime

    from crm_store.crypto import FieldCipher, decode_key, new_key_text, read_key_file
    from crm_store.key_rotation import rotate_key
    from crm_store.store import open_store, pending_key_file

    settings = load_settings()
    uses_key_file = settings.bankbot_data_key is None
    if new_key_file is not None:
        new_text = read_key_file(new_key_file)
    elif os.environ.get(NEW_KEY_ENV, "").strip():
        new_text = os.environ[NEW_KEY_ENV].strip()
    elif uses_key_file:
        new_text = new_key_text()
    else:
        raise fail(f"give the new key with --new-key-file PATH or {NEW_KEY_ENV}", 2)
    new = FieldCipher(decode_key(new_text))
    store = open_store(settings)  # refuses a current key that does not match the database
    pending = pending_key_file(settings)
    try:
        if uses_key_file:
            _write_pending(pending, new_text)
        try:
            done = rotate_key(store.db, store.cipher, new, datetime.now(UTC))
        except BaseException:
            pending.unlink(missing_ok=True)
            raise
    finally:
        store.close()
    if uses_key_file:
        os.replace(pending, settings.key_file)
        _sync_dir(settings.key_file.parent)
    print(
        f"re-encrypted {done.customers} customers and {done.secrets} stored tokens "
        f"({done.secrets_dropped} unreadable tokens dropped, {done.codes_cancelled} unused "
        "bind codes cancelled)"
    )
    if uses_key_file:
        print(f"the new key is in {settings.key_file} (mode 0600); back it up now")
    else:
        print("set BANKBOT_DATA_KEY to the new key before the next command")


def _write_pending(pending: Path, key_text: str) -> None:
    from crm_store.crypto import write_key_file
    from crm_store.errors import DataKeyError

    if pending.exists():
        raise DataKeyError(f"{pending.name} exists: a rotation was interrupted; check it first")
    write_key_file(pending, key_text)


def _sync_dir(folder: Path) -> None:
    """The rename is durable once the folder's entry is on disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
