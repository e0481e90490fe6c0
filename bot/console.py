"""The console channel: the default adapter, driving the same dispatcher as every platform."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from bot.dispatch import Dispatcher
from handlers.contracts import IncomingMessage
from handlers.guard import GuardedReply, require_guarded

if TYPE_CHECKING:
    from rich.console import Console

CHANNEL = "console"


def console_message(staff_id: str, text: str, received_at: datetime) -> IncomingMessage:
    """A console line as an incoming message (each line is a new message id)."""
    return IncomingMessage(
        channel=CHANNEL,
        sender_id=staff_id,
        chat_id=staff_id,
        chat_type="private",
        msg_id=uuid.uuid4().hex,
        text=text,
        received_at=received_at,
    )


class ConsoleChannel:
    """Prints replies to the terminal; implements the `Channel` protocol."""

    name = CHANNEL

    def __init__(self, console: Console | None = None) -> None:
        if console is None:  # rich loads only for the interactive chat, not for `ask`
            from rich.console import Console

            console = Console(soft_wrap=True)
        self.console = console

    async def send(self, recipient: str, reply: GuardedReply) -> None:
        """Show a reply as plain text (no markup interpretation of customer data)."""
        reply = require_guarded(reply)
        self.console.print(reply.text, markup=False, highlight=False)


async def chat_loop(
    dispatcher: Dispatcher, staff_id: str, read_line: Callable[[], str], channel: ConsoleChannel
) -> None:
    """Read lines until EOF or '/quit', answering each through the dispatcher."""
    while True:
        try:
            line = read_line().strip()
        except (EOFError, KeyboardInterrupt):
            return
        if line in {"/quit", "/exit", "退出"}:
            return
        if not line:
            continue
        reply = await dispatcher.handle(console_message(staff_id, line, dispatcher.clock()))
        await channel.send(staff_id, reply)
