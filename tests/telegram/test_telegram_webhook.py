"""POST /telegram/webhook end to end: real PTB bot, real inbox and dispatcher, fake Bot API."""

from __future__ import annotations

import asyncio
import copy
import socket
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from bot.dispatch import Dispatcher
from bot.inbox import Inbox
from bot.telegram_bot import SECRET_HEADER, WEBHOOK_PATH, TelegramAdapter, build_application
from bot.web import build_app
from crm_store.store import Store
from handlers.contracts import Event, Reply
from handlers.texts import t
from tests.guarded import sealed
from tests.telegram.conftest import SECRET, USER, Served, inbox_rows, wait_processed
from tests.telegram.fake_telegram import TOKEN, payload, serving
from tests.world import NOW

GROUP = -1001234567890


def private_text(text: str, update_id: int, sender: int = USER) -> dict[str, Any]:
    """The recorded private-text update with another text, id and sender."""
    update = payload("private-text")
    update["update_id"] = update_id
    update["message"]["message_id"] = update_id % 100_000
    update["message"]["text"] = text
    update["message"]["from"]["id"] = sender
    update["message"]["chat"]["id"] = sender
    return update


def callback(data: str, update_id: int) -> dict[str, Any]:
    """The recorded callback-query update with another button's data."""
    update = payload("callback-query")
    update["update_id"] = update_id
    update["callback_query"]["id"] = f"cbq-{update_id}"
    update["callback_query"]["data"] = data
    return update


def test_private_lookup_sends_the_card(served: Served) -> None:
    response = served.post(private_text("查一下张伟", 915031001))
    assert response.status_code == 200
    assert inbox_rows(served.store) == 1
    [call] = served.fake.wait_for("sendMessage")
    assert int(call.params["chat_id"]) == USER
    assert call.params["text"].startswith("张伟｜VIP")
    assert "138****5678" in call.params["text"]
    assert "parse_mode" not in call.params  # plain text: customer data cannot inject markup
    assert httpx.get(served.url + "/healthz").json()["channels"] == {"telegram": True}


def test_same_name_offers_buttons_and_a_callback_picks_one(served: Served) -> None:
    assert served.post(private_text("查一下王芳", 915031010)).status_code == 200
    [question] = served.fake.wait_for("sendMessage")
    keyboard = question.params["reply_markup"]["inline_keyboard"]
    buttons = [b for row in keyboard for b in row]
    assert [(b["text"], b["callback_data"]) for b in buttons] == [("1", "1"), ("2", "2")]
    wait_processed(served.store, 1)

    assert served.post(callback("2", 915031011)).status_code == 200
    calls = served.fake.wait_for("sendMessage", 2)
    card = calls[1].params["text"]
    assert card.startswith("王芳｜潜在客户") and "135****4444" in card  # c5, the second one
    [answer] = served.fake.wait_for("answerCallbackQuery")
    assert answer.params["callback_query_id"] == "cbq-915031011"
    assert inbox_rows(served.store) == 2


def test_note_offers_undo_and_the_button_undoes_it(served: Served) -> None:
    note = "记录：刚和张伟通话，他想了解大额存单，下周二回访"
    served.post(private_text(note, 915031020))
    [confirmation] = served.fake.wait_for("sendMessage")
    [[button]] = confirmation.params["reply_markup"]["inline_keyboard"]
    assert button == {"text": "撤销", "callback_data": "撤销"}
    wait_processed(served.store, 1)
    served.post(callback("撤销", 915031021))
    calls = served.fake.wait_for("sendMessage", 2)
    assert calls[1].params["text"].startswith("已撤销")


def test_wrong_or_missing_secret_is_refused_and_nothing_is_stored(served: Served) -> None:
    update = private_text("查一下张伟", 915031030)
    for secret in (None, "", "wrong", SECRET[:-1] + "X", SECRET + "x"):
        assert served.post(update, secret=secret).status_code == 403
    assert inbox_rows(served.store) == 0
    assert served.fake.calls("sendMessage") == []


def test_four_deliveries_two_concurrent_make_one_row_and_one_reply(served: Served) -> None:
    update = private_text("查一下张伟", 915031040)

    async def deliver() -> list[int]:
        url = served.url + WEBHOOK_PATH
        headers = {SECRET_HEADER: SECRET}
        async with httpx.AsyncClient(timeout=10) as client:
            first = await asyncio.gather(
                client.post(url, json=update, headers=headers),
                client.post(url, json=copy.deepcopy(update), headers=headers),
            )
            later = [await client.post(url, json=update, headers=headers) for _ in range(2)]
        return [r.status_code for r in (*first, *later)]

    assert asyncio.run(deliver()) == [200, 200, 200, 200]
    wait_processed(served.store, 1)
    assert inbox_rows(served.store) == 1
    assert len(served.fake.calls("sendMessage")) == 1


def test_group_command_gets_only_the_private_chat_offer(served: Served) -> None:
    update = payload("group-command")  # "/c@bankbot_demo_bot 张伟" from the bound user
    assert served.post(update).status_code == 200
    [call] = served.fake.wait_for("sendMessage")
    assert int(call.params["chat_id"]) == GROUP
    text = call.params["text"]
    assert text == t("group_chat", "zh")
    assert "张伟" not in text and "****" not in text and "李娜" not in text
    assert "reply_markup" not in call.params


def test_a_command_for_another_bot_is_not_stored(served: Served) -> None:
    other_bot = payload("group-command")
    other_bot["message"]["text"] = "/c@some_other_bot 张伟"
    other_bot["message"]["entities"][0]["length"] = len("/c@some_other_bot")
    assert served.post(other_bot).status_code == 200
    assert inbox_rows(served.store) == 0


def test_unknown_sender_gets_the_generic_reply(served: Served) -> None:
    served.post(private_text("查一下张伟", 915031050, sender=424242))
    [call] = served.fake.wait_for("sendMessage")
    assert int(call.params["chat_id"]) == 424242
    assert call.params["text"] == t("unknown_sender", "zh")


def test_edited_messages_are_ignored(served: Served) -> None:
    assert served.post(payload("edited-message")).status_code == 200
    assert inbox_rows(served.store) == 0


def test_malformed_body_with_the_right_secret_is_a_bad_request(served: Served) -> None:
    response = httpx.post(
        served.url + WEBHOOK_PATH, content=b"not json", headers={SECRET_HEADER: SECRET}
    )
    assert response.status_code == 400
    assert inbox_rows(served.store) == 0


def test_updates_are_stored_while_telegram_is_unreachable(world: Store) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    application = build_application(TOKEN, dead, ZoneInfo("Asia/Shanghai"))
    adapter = TelegramAdapter(application, secret=SECRET, lang="zh")
    inbox = Inbox(world, Dispatcher(world, clock=lambda: NOW), {adapter.name: adapter.channel})
    with serving(build_app(world, inbox, [adapter])) as url:
        health = httpx.get(url + "/healthz").json()
        assert health["channels"] == {"telegram": False}
        update = private_text("查一下张伟", 915031060)
        headers = {SECRET_HEADER: SECRET}
        assert httpx.post(url + WEBHOOK_PATH, json=update, headers=headers).status_code == 200
        wait_processed(world, 1)
    assert inbox_rows(world) == 1  # durable before the 200, whatever Telegram's state


def test_a_digest_sent_from_the_timer_thread_gets_done_buttons(served: Served) -> None:
    # The reminder timer runs its own event loop in a worker thread, as this test does.
    digest = Reply("今日提醒\n1. 张伟生日\n2. 跟进王芳", (Event("digest", {"items": 2}),))
    asyncio.run(served.adapter.channel.send(str(USER), sealed(digest)))
    [call] = served.fake.calls("sendMessage")
    keyboard = call.params["reply_markup"]["inline_keyboard"]
    assert [b["callback_data"] for row in keyboard for b in row] == ["完成 1", "完成 2"]
