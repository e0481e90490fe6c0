"""TelegramChannel: 4096-character splitting, inline keyboards from events, the group lock."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

import pytest

from bot.telegram_bot import build_application
from bot.telegram_channel import TelegramChannel, keyboard_for, split_text
from handlers.contracts import Event, Reply
from handlers.texts import t
from tests.guarded import sealed
from tests.telegram.fake_telegram import TOKEN, Call, FakeTelegram


def send(fake: FakeTelegram, recipient: str, reply: Reply) -> list[Call]:
    """Send one reply through the real PTB bot to the fake server; the sendMessage calls."""

    async def run() -> None:
        application = build_application(TOKEN, fake.url, ZoneInfo("Asia/Shanghai"))
        await application.initialize()
        try:
            await TelegramChannel(application.bot).send(recipient, sealed(reply))
        finally:
            await application.shutdown()

    asyncio.run(run())
    return fake.calls("sendMessage")


def buttons(reply: Reply) -> list[str]:
    """Button data of a reply's keyboard, row by row flattened."""
    markup = keyboard_for(reply)
    if markup is None:
        return []
    return [str(b.callback_data) for row in markup.inline_keyboard for b in row]


def test_a_9000_character_reply_is_split_at_line_breaks(fake_telegram: FakeTelegram) -> None:
    line = "王芳｜普通客户｜手机136****3333｜陆家嘴支行｜客户经理李娜\n"
    text = (line * 400)[:9000]
    assert len(text) == 9000
    reply = Reply(text, (Event("clarification_requested", {"candidates": ["c4", "c5"]}),))
    calls = send(fake_telegram, "1001", reply)
    parts = [c.params["text"] for c in calls]
    assert len(parts) == 3
    assert all(len(p) <= 4096 for p in parts)
    assert "".join(parts) == text
    assert all(p.endswith("\n") for p in parts[:-1])  # cut after a line break, not mid-line
    assert [("reply_markup" in c.params) for c in calls] == [False, False, True]
    assert all(int(c.params["chat_id"]) == 1001 for c in calls)


def test_split_without_line_breaks_or_with_emoji_keeps_every_character() -> None:
    assert split_text("") == []
    assert split_text("短") == ["短"]
    plain = "字" * 9000
    assert [len(p) for p in split_text(plain)] == [4096, 4096, 808]
    emoji = "😀" * 3000  # two UTF-16 units each: Telegram's count
    parts = split_text(emoji)
    assert "".join(parts) == emoji
    assert all(len(p.encode("utf-16-le")) // 2 <= 4096 for p in parts)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (Event("clarification_requested", {"candidates": ["a", "b", "c"]}), ["1", "2", "3"]),
        (Event("note_recorded", {"interaction_id": "N1", "customer_id": "c1"}), ["撤销"]),
        (Event("intent_choice", {"options": ["note", "lookup"]}), ["1", "2"]),
        (Event("followup_created", {"customer_id": "c1", "followup_id": 3}), ["撤销"]),
        (
            Event("agenda_shown", {"customer_ids": ["c1"], "items": 3}),
            ["完成 1", "完成 2", "完成 3"],
        ),
        (Event("digest", {"customer_ids": [], "items": [{}, {}]}), ["完成 1", "完成 2"]),
        (Event("digest", {"customer_ids": [], "items": 9}), []),  # too many for buttons
        (Event("agenda_shown", {"customer_ids": ["c1"]}), []),  # count unknown: no buttons
        (Event("customer_shown", {"customer_id": "c1"}), []),
    ],
)
def test_keyboards_follow_the_reply_events(event: Event, expected: list[str]) -> None:
    assert buttons(Reply("text", (event,))) == expected


def test_customer_data_never_reaches_a_group_even_if_asked(fake_telegram: FakeTelegram) -> None:
    card = Reply("张伟｜VIP\n手机：138****5678", (Event("customer_shown", {"customer_id": "c1"}),))
    [call] = send(fake_telegram, "-1001234567890", card)
    assert call.params["text"] == t("group_chat", "zh")
    assert "reply_markup" not in call.params


def test_refusals_reach_a_group_unchanged_and_without_buttons(fake_telegram: FakeTelegram) -> None:
    refusal = Reply(t("group_chat", "zh"), (Event("refused", {"reason": "group_chat"}),))
    [call] = send(fake_telegram, "-1001234567890", refusal)
    assert call.params["text"] == refusal.text


def test_an_empty_reply_sends_nothing(fake_telegram: FakeTelegram) -> None:
    assert send(fake_telegram, "1001", Reply("")) == []
