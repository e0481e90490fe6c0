"""From a recorded Telegram update to an `IncomingMessage` (or nothing), without a network."""

from __future__ import annotations

from typing import Any

from telegram import Update

from bot.telegram_updates import incoming_from_update
from handlers.contracts import IncomingMessage
from tests.telegram.fake_telegram import payload
from tests.world import NOW

BOT = "bankbot_demo_bot"


def parse(update: dict[str, Any], username: str | None = BOT) -> IncomingMessage | None:
    """What the adapter would hand to the inbox."""
    return incoming_from_update(Update.de_json(update, None), username, NOW)


def test_private_text_uses_the_numeric_user_id_never_the_username() -> None:
    message = parse(payload("private-text"))
    assert message is not None
    assert (message.channel, message.sender_id, message.chat_id) == ("telegram", "1001", "1001")
    assert message.chat_type == "private"
    assert message.text == "张伟最近怎么样"
    assert message.msg_id.startswith("u915031001:")
    assert "wangfang_rm" not in repr(message)


def test_group_command_is_addressed_and_loses_the_bot_name() -> None:
    message = parse(payload("group-command"))
    assert message is not None
    assert message.chat_type == "group"
    assert message.chat_id == "-1001234567890"
    assert message.sender_id == "1001"
    assert message.text == "/c 张伟"


def test_a_mention_addresses_the_bot_in_a_group() -> None:
    update = payload("group-command")
    update["message"]["text"] = "@bankbot_demo_bot 查一下张伟"
    update["message"]["entities"] = [{"offset": 0, "length": 17, "type": "mention"}]
    message = parse(update)
    assert message is not None and message.text == "查一下张伟"


def test_callback_data_becomes_the_text_from_the_pressing_user() -> None:
    update = payload("callback-query")
    update["callback_query"]["data"] = "完成 2"
    message = parse(update)
    assert message is not None
    assert (message.sender_id, message.chat_id, message.chat_type) == ("1001", "1001", "private")
    assert message.text == "完成 2"
    assert message.msg_id == "u915031003:cb4382bfdwdsb323b2d9"


def test_what_is_not_for_the_dispatcher_is_dropped() -> None:
    assert parse(payload("edited-message")) is None  # edits: audited, bot/telegram_screen.py
    chatter = payload("group-command")
    chatter["message"]["text"] = "张伟最近怎么样"
    del chatter["message"]["entities"]
    taken = parse(chatter)  # group chatter: at most one offer to continue in private
    assert taken is not None and taken.chat_type == "group"
    assert taken.raw["addressed"] is False
    from_bot = payload("private-text")
    from_bot["message"]["from"]["is_bot"] = True
    assert parse(from_bot) is None
    sticker = payload("private-text")
    del sticker["message"]["text"]
    assert parse(sticker) is None


def test_before_getme_a_group_command_with_a_bot_name_is_not_taken() -> None:
    assert parse(payload("group-command"), username=None) is None
    bare = payload("group-command")
    bare["message"]["text"] = "/help"
    bare["message"]["entities"][0]["length"] = 5
    message = parse(bare, username=None)
    assert message is not None and message.text == "/help"
