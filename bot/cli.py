"""`bankbot`: set up the store, import data, talk to the assistant, read the audit log."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot import cli_export, cli_help
from bot.cli_common import fail, load_settings, one_line_errors, parse_now, store_from_env
from bot.cli_lazy import LazyTyperGroup

# Only typer and our light CLI modules load here: each command imports what it uses, so
# `--help` and a look-up never pay for the note index (chromadb, langchain, the model).
# tests/test_cli_startup.py keeps it so; bench/bench_cli.py measures it.
if TYPE_CHECKING:
    from crm_store.store import Store

app = cli_help.typer_app(cls=LazyTyperGroup, no_args_is_help=True, pretty_exceptions_enable=False)
audit_app = cli_help.typer_app(no_args_is_help=True, help="Read the audit log.")
app.add_typer(audit_app, name="audit")  # staff, reminders, index, key: bot/cli_lazy.py
app.command("export")(cli_export.export_command)

KINDS = ("branches", "staff", "customers", "holdings", "interactions")
DEMO_USER = "S001"


@app.command()
@one_line_errors
def init() -> None:
    """Create or upgrade the data folder, data key and schema (safe to run twice)."""
    from crm_store.store import init_store

    store, generated = init_store(load_settings())
    settings = store.settings
    if generated:
        print(f"generated a data key in {settings.key_file} (mode 0600); back it up:")
        print("without it the stored phone and ID numbers cannot be read.")
    print(f"schema is current at {_shown_url(settings.db_url)}")
    store.close()


def _shown_url(url: str) -> str:
    return url.split("@")[-1] if "@" in url else url


@app.command("import")
@one_line_errors
def import_command(
    kind: Annotated[
        str, typer.Argument(help="branches, staff, customers, holdings or interactions")
    ],
    path: Annotated[
        Path, typer.Argument(help=".csv/.tsv/.txt (UTF-8, UTF-16 or GB18030) or .xlsx file")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate only; write nothing.")
    ] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Business date of the file's AUM (default today).")
    ] = None,
) -> None:
    """Import one file as an upsert by id, all rows or none; then update the note index."""
    from bot.cli_index import update_index
    from crm_store.importer import import_file

    if kind not in KINDS:
        raise fail(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}", 2)
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise fail(f"--as-of {as_of!r} is not a date (YYYY-MM-DD)", 2) from None
    store = store_from_env()
    try:
        report = import_file(store, kind, path, dry_run=dry_run, progress=True, as_of=day)
        print(report.summary())
        if not dry_run:
            store.db.analyze()
            indexed = update_index(store)  # notes written or moved: searchable at once
            if indexed:
                print(indexed)
    finally:
        store.close()


@app.command("seed-demo")
@one_line_errors
def seed_demo(
    today: Annotated[
        str | None,
        typer.Option(
            metavar="YYYY-MM-DD", help="Business date the demo is built around; default today."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Seed again even if the demo bank is there.")
    ] = False,
) -> None:
    """Load a realistic demo data set (branches, staff, ~300 customers, notes) and index it."""
    import tempfile

    from bot.cli_index import update_index
    from crm_store.demo import DEMO_KINDS, write_demo_files
    from crm_store.demo_retention import seed_retention_demo
    from crm_store.importer import import_file

    store = store_from_env()
    try:
        present = _demo_present(store)
        if present and not force:
            print(f"the demo bank is already here ({present}); --force seeds it again")
        else:
            day = date.fromisoformat(today) if today else datetime.now(store.settings.tz).date()
            # The CSVs hold 300 plain phone and ID numbers: written in a private temporary
            # folder (0700) and removed once imported; an older version's demo/ goes too.
            with tempfile.TemporaryDirectory(dir=store.settings.home, prefix=".demo-") as tmp:
                files = write_demo_files(Path(tmp), today=day)
                for kind in DEMO_KINDS:
                    report = import_file(store, kind, files[kind], progress=True)
                    print(f"imported {report.rows} {kind}")
            warned = seed_retention_demo(store, day)
            print(f"added churn-warning history for {len(warned)} customers")
            _remove_old_demo_files(store.settings.home / "demo", DEMO_KINDS)
            store.db.analyze()
        print(update_index(store) or "the note index is up to date")
    finally:
        store.close()
    print(f"demo ready; try: bankbot chat --as {DEMO_USER}")


def _remove_old_demo_files(folder: Path, kinds: tuple[str, ...]) -> None:
    for kind in kinds:
        (folder / f"{kind}.csv").unlink(missing_ok=True)
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def _demo_present(store: Store) -> str | None:
    """'N customers, M notes' when the demo user and notes exist; else None."""
    from sqlalchemy import func, select

    from crm_store.models import Customer, Interaction, Staff

    with store.db.read() as session:
        if session.get(Staff, DEMO_USER) is None:
            return None
        customers = session.scalar(select(func.count()).select_from(Customer)) or 0
        notes = session.scalar(select(func.count()).select_from(Interaction)) or 0
    return f"{customers} customers, {notes} notes" if customers and notes else None


def _require_staff(store: Store, staff_id: str) -> None:
    from crm_store.models import Staff

    with store.db.read() as session:
        if session.get(Staff, staff_id) is None:
            raise fail(f"unknown staff id {staff_id!r}", 2)


@app.command()
@one_line_errors
def ask(
    text: Annotated[str, typer.Argument(help="The message, as typed in a chat.")],
    staff_id: Annotated[str, typer.Option("--as", help="Staff id of the asker.")],
    now: Annotated[str | None, typer.Option(help="Clock for this message (ISO 8601).")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print reply and events as JSON.")
    ] = False,
) -> None:
    """Send one message through the same dispatcher every channel uses."""
    import asyncio
    import json

    from bot.cli_index import held_by, needs_index, open_for_chat
    from bot.console import console_message
    from bot.dispatch import Dispatcher
    from bot.holder_questions import ask_holder
    from retrieval.errors import IndexBusy

    store = store_from_env()
    retriever = None
    try:
        _require_staff(store, staff_id)
        clock_value = parse_now(now, store.settings)
        asked_at = clock_value or datetime.now(store.settings.tz)
        answered = None
        if needs_index(store, staff_id, text, asked_at):  # a look-up never loads the index
            try:
                retriever = open_for_chat(store)
            except IndexBusy:  # serve holds it: serve answers (bot/holder_questions.py)
                answered = ask_holder(store, staff_id, text, clock_value)
                if answered is None:
                    raise fail(
                        f"the note index is held by {held_by(store)}, which answers no "
                        "questions: ask this in WeCom or Telegram, or set CHROMA_URL to share "
                        "the index"
                    ) from None
        if answered is None:
            clock = (lambda: clock_value) if clock_value else None
            dispatcher = Dispatcher(store, clock=clock, retriever=retriever)
            message = console_message(staff_id, text, dispatcher.clock())
            reply = asyncio.run(dispatcher.handle(message))
            answered = reply.text, [e.as_dict() for e in reply.events]
    finally:
        if retriever is not None:
            retriever.close()
        store.close()
    reply_text, events = answered
    if as_json:
        print(json.dumps({"reply": reply_text, "events": events}, ensure_ascii=False))
    else:
        print(reply_text)


@app.command()
@one_line_errors
def chat(staff_id: Annotated[str, typer.Option("--as", help="Staff id of the asker.")]) -> None:
    """An interactive console chat (Ctrl-D or /quit to leave)."""
    import asyncio

    from rich.console import Console

    from bot.cli_index import held_by, open_for_chat
    from bot.console import ConsoleChannel, chat_loop
    from bot.dispatch import Dispatcher
    from retrieval.errors import IndexBusy

    store = store_from_env()
    console = Console(soft_wrap=True)
    retriever = None
    try:
        _require_staff(store, staff_id)
        try:
            retriever = open_for_chat(store)
        except IndexBusy:
            print(
                f"questions over notes are off here: the note index is held by {held_by(store)}"
                " (bankbot serve); look-ups and notes work",
                file=sys.stderr,
            )
        console.print(f"bankbot console — {staff_id}. 发送“帮助”查看用法，/quit 退出。")
        dispatcher = Dispatcher(store, retriever=retriever)
        asyncio.run(chat_loop(dispatcher, staff_id, lambda: input("> "), ConsoleChannel(console)))
    finally:
        if retriever is not None:
            retriever.close()
        store.close()


@app.command()
@one_line_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    telegram_polling: Annotated[
        bool, typer.Option("--telegram-polling", help="Poll Telegram instead of a webhook.")
    ] = False,
) -> None:
    """Run the web app: WeCom callbacks, Telegram webhook, /healthz, /metrics, reminders."""
    from bot.shared_metrics import share_with_answer_processes

    store = store_from_env()
    share_with_answer_processes(store.settings.home)  # before bot.serve imports the counters
    from bot.serve import serve as run_server

    try:
        run_server(store, host=host, port=port, telegram_polling=telegram_polling)
    except (ValueError, RuntimeError) as exc:  # a platform's settings are incomplete or wrong
        raise fail(str(exc)) from None
    finally:
        store.close()


@app.command()
@one_line_errors
def scheduler() -> None:
    """Run the reminder timer alone (08:30 business time, catch-up on start, retries)."""
    from bot.cli_reminders import run_scheduler

    run_scheduler()


@audit_app.command("tail")
@one_line_errors
def audit_tail(
    lines: Annotated[int, typer.Option("-n", help="How many rows (0 or more).")] = 20,
    staff_id: Annotated[str | None, typer.Option("--staff", help="Only this actor.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per row.")] = False,
) -> None:
    """Show the newest audit rows (masked text, control characters escaped)."""
    from bot.audit_view import row_json, row_line
    from crm_store.audit import tail

    if lines < 0:
        raise fail(f"-n must be 0 or more, not {lines}", 2)
    store = store_from_env()
    try:
        with store.db.read() as session:
            rows = tail(session, limit=lines, staff_id=staff_id)
    finally:
        store.close()
    for r in rows:
        print(row_json(r, store.settings.tz) if as_json else row_line(r, store.settings.tz))


@app.command("reindex")
def reindex(
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress lines.")] = False,
) -> None:
    """Drop the note index and rebuild it from SQL (safe to run at any time)."""
    from bot.cli_index import reindex_command

    reindex_command(quiet=quiet)


def main() -> None:
    """Entry point for `python -m bot.cli`."""
    app()


if __name__ == "__main__":
    main()
