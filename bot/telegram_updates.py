"""From a Telegram update to an `IncomingMessage`, or None when it is not for the dispatcher.

Private text messages, voice notes and audio files, and inline-button presses are taken; group
text too (a command or a mention is `addressed` in `raw`; plain chatter gets at most one offer
to continue in private, see bot/telegram_screen.py), group voice notes only when they answer the
bot (the dispatcher answers those with its group refusal or help).
Edits, channel posts and private updates from someone else's chat are screened out before this
(bot/telegram_screen.py): audited, never handled.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import replace
from datetime import datetime, timedelta

from telegram import Audio, Message, MessageEntity, Update, Voice
from telegram.constants import ChatType
from telegram.warnings import PTBDeprecationWarning

from bot.telegram_channel import CHANNEL
from handlers.contracts import ChatType as OurChatType
from handlers.contracts import IncomingMessage, VoiceNote


def _addressed_text(message: Message, username: str | None) -> tuple[bool, str]:
    """(whether the bot is addressed, the text with '@botname' removed)."""
    text = message.text or ""
    addressed = False
    found = message.parse_entities([MessageEntity.BOT_COMMAND, MessageEntity.MENTION])
    for entity, value in found.items():
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            target = value.partition("@")[2]
            if target and (username is None or target.lower() != username.lower()):
                return False, text  # a command for another bot in the same group
            addressed = True
        elif username and value.lower() == f"@{username.lower()}":
            addressed = True
    if username:
        text = re.sub(rf"@{re.escape(username)}\b", "", text, flags=re.IGNORECASE)
    return addressed, text.strip()


def incoming_from_update(
    update: Update, username: str | None, now: datetime
) -> IncomingMessage | None:
    """The message an update carries for the dispatcher, or None when it is not for us."""
    query = update.callback_query
    if query is not None:
        if not query.data:
            return None
        chat = query.message.chat if query.message is not None else None
        chat_id = chat.id if chat is not None else query.from_user.id
        private = chat is None or chat.type == ChatType.PRIVATE
        key = f"cb{query.id}"
        return _incoming(update, query.from_user.id, chat_id, private, key, query.data, now)
    message = update.message  # edited messages and channel posts are ignored on purpose
    if message is None or message.from_user is None or message.from_user.is_bot:
        return None
    if message.voice is not None or message.audio is not None:
        return _incoming_voice(update, message, username, now)
    if not message.text:
        return None
    private = message.chat.type == ChatType.PRIVATE
    addressed, text = _addressed_text(message, username)
    if not text or (not (private or addressed) and text.startswith("/")):
        return None  # a command for another bot, or one we cannot tell is ours yet
    key = f"m{message.chat.id}:{message.message_id}"
    incoming = _incoming(update, message.from_user.id, message.chat.id, private, key, text, now)
    return replace(incoming, raw={**incoming.raw, "addressed": private or addressed})


def _incoming_voice(
    update: Update, message: Message, username: str | None, now: datetime
) -> IncomingMessage | None:
    """A voice note (OGG/Opus) or audio file; in a group only when it answers the bot or its
    caption mentions it (it then gets the group refusal, never a transcription)."""
    private = message.chat.type == ChatType.PRIVATE
    if not private and not _voice_addressed(message, username):
        return None
    sound = message.voice or message.audio
    assert sound is not None and message.from_user is not None
    mime = sound.mime_type or ("audio/ogg" if message.voice else "audio/mpeg")
    voice = VoiceNote(
        ref=sound.file_id,
        format=mime.partition("/")[2] or "ogg",
        seconds=_whole_seconds(sound),
        size=sound.file_size,
    )
    key = f"m{message.chat.id}:{message.message_id}"
    plain = _incoming(update, message.from_user.id, message.chat.id, private, key, "", now)
    return replace(plain, voice=voice)


def _whole_seconds(sound: Voice | Audio) -> int | None:
    """The declared duration: PTB 22 gives an int or a timedelta (and warns about the int)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        duration = sound.duration
    if isinstance(duration, timedelta):
        return int(duration.total_seconds())
    return int(duration) if duration is not None else None


def _voice_addressed(message: Message, username: str | None) -> bool:
    if not username:
        return False
    answered = message.reply_to_message
    replier = answered.from_user if answered is not None else None
    if replier is not None and (replier.username or "").lower() == username.lower():
        return True
    return f"@{username.lower()}" in (message.caption or "").lower()


def _incoming(
    update: Update,
    sender: int,
    chat_id: int,
    private: bool,
    key: str,
    text: str,
    now: datetime,
) -> IncomingMessage:
    chat_type: OurChatType = "private" if private else "group"
    return IncomingMessage(
        channel=CHANNEL,
        sender_id=str(sender),  # identity is the numeric user id, never the username
        chat_id=str(chat_id),
        chat_type=chat_type,
        # update_id is the dedupe key; the message part guards against Telegram restarting
        # its update_id sequence after a quiet week.
        msg_id=f"u{update.update_id}:{key}",
        text=text,
        received_at=now,
        raw={"update_id": update.update_id},
    )
