"""Telegram replies: plain text split at 4096 characters, inline keyboards from reply events.

Text goes out without `parse_mode`, so a customer's name or a note can never inject markup;
the one exception is a team report, sent as HTML built by escaping every line of the guarded
text (bot/telegram_html.py).
Buttons carry the words a person would type ("1", "撤销", "完成 2"): pressing one is the same as
typing it, and the dispatcher checks permissions again for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup

from bot import metrics
from bot.telegram_html import carries_report, report_html
from handlers.guard import GuardedReply, require_guarded
from handlers.texts import t

log = logging.getLogger(__name__)

CHANNEL = "telegram"
MAX_MESSAGE = 4096  # Telegram counts UTF-16 code units; staying under that also bounds chars
MAX_DONE_BUTTONS = 8
ROW_WIDTH = 4
UNDO = "撤销"
DONE = "完成"
# Events a reply to a group may carry: refusals (group, stranger, bind) and the fixed help text.
GROUP_SAFE_EVENTS = frozenset({"refused", "help_shown"})


def _units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def split_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Chunks of at most `limit` UTF-16 units whose concatenation is exactly `text`.

    A chunk ends after the last line break that fits, else at the limit; a character outside
    the BMP (an emoji) is never cut in half.
    """
    chunks: list[str] = []
    start = 0
    while start < len(text):
        used = 0
        end = start
        last_break = -1
        while end < len(text) and used + _units(text[end]) <= limit:
            used += _units(text[end])
            if text[end] == "\n":
                last_break = end + 1
            end += 1
        if end < len(text) and last_break > start:
            end = last_break
        chunks.append(text[start:end])
        start = end
    return chunks


def _rows(labels: Sequence[tuple[str, str]]) -> list[list[InlineKeyboardButton]]:
    buttons = [InlineKeyboardButton(label, callback_data=data) for label, data in labels]
    return [buttons[i : i + ROW_WIDTH] for i in range(0, len(buttons), ROW_WIDTH)]


def _item_count(data: dict[str, Any]) -> int | None:
    """How many numbered items a list event announces, if it says so."""
    items = data.get("items")
    if isinstance(items, bool):
        return None
    if isinstance(items, int):
        return items
    if isinstance(items, list):
        return len(items)
    return None


def keyboard_for(reply: GuardedReply) -> InlineKeyboardMarkup | None:
    """The buttons a reply's events call for, or None."""
    labels: list[tuple[str, str]] = []
    for event in reply.events:
        if event.type == "clarification_requested":
            choices = len(event.data.get("candidates") or [])
            labels += [(str(n), str(n)) for n in range(1, choices + 1)]
        elif event.type == "intent_choice":  # "记录跟进，还是查看资料？": one button per reading
            choices = len(event.data.get("options") or [])
            labels += [(str(n), str(n)) for n in range(1, choices + 1)]
        elif event.type in {"note_recorded", "followup_created"}:
            labels.append((UNDO, UNDO))
        elif event.type in {"agenda_shown", "digest"}:
            items = _item_count(event.data)
            if items is not None and 1 <= items <= MAX_DONE_BUTTONS:
                labels += [(f"{DONE} {n}", f"{DONE} {n}") for n in range(1, items + 1)]
    return InlineKeyboardMarkup(_rows(labels)) if labels else None


def is_group_chat(chat_id: str) -> bool:
    """Telegram groups, supergroups and channels have negative ids; people have positive ones."""
    return chat_id.strip().startswith("-")


def group_safe(reply: GuardedReply) -> bool:
    """Whether a reply may be posted to a group: no customer, only refusals or help."""
    if reply.customer_ids():
        return False
    return all(event.type in GROUP_SAFE_EVENTS for event in reply.events)


def _formatted(text: str, reply: GuardedReply) -> tuple[list[str], str | None]:
    """The chunks to send and their parse mode: HTML for a report that fits one message
    (a cut could split a tag), plain text otherwise."""
    if text == reply.text and carries_report(reply.events):
        marked = report_html(text)
        if marked is not None and len(split_text(marked)) == 1:
            return [marked], "HTML"
    return split_text(text), None


class TelegramChannel:
    """Sends replies and reminder digests to a Telegram chat; implements `Channel`."""

    name = CHANNEL

    def __init__(self, bot: Bot, lang: str = "zh") -> None:
        self.bot = bot
        self.lang = lang
        # The loop the bot's HTTP connections live on (the web app's); None outside `serve`.
        self.home_loop: asyncio.AbstractEventLoop | None = None

    async def send(self, recipient: str, reply: GuardedReply) -> None:
        """Deliver `reply` as one or more plain-text messages, buttons on the last one."""
        reply = require_guarded(reply)
        home = self.home_loop
        if home is not None and home.is_running() and home is not asyncio.get_running_loop():
            # The reminder timer sends from its own thread and loop; pooled connections
            # belong to the web app's loop, so the sending happens there.
            future = asyncio.run_coroutine_threadsafe(self._send(recipient, reply), home)
            await asyncio.wrap_future(future)
            return
        await self._send(recipient, reply)

    async def _send(self, recipient: str, reply: GuardedReply) -> None:
        if not reply.text:
            return
        text = reply.text
        markup = keyboard_for(reply)
        if is_group_chat(recipient):
            markup = None
            if not group_safe(reply):
                # The dispatcher already refuses; this is the second lock on the same door.
                log.warning("blocked a reply with customer data bound for a group chat")
                metrics.REPLIES.labels(channel=CHANNEL, result="blocked_group").inc()
                text = t("group_chat", self.lang)
        chunks, parse_mode = _formatted(text, reply)
        try:
            for number, chunk in enumerate(chunks, 1):
                await self.bot.send_message(
                    chat_id=int(recipient),
                    text=chunk,
                    parse_mode=parse_mode,
                    reply_markup=markup if number == len(chunks) else None,
                )
        except Exception:
            metrics.REPLIES.labels(channel=CHANNEL, result="failed").inc()
            raise
        metrics.REPLIES.labels(channel=CHANNEL, result="sent").inc()
