"""Telegram voice notes end to end: webhook, inbox, getFile and the file download on the fake
Bot API, PyAV decoding, the transcription stub, the dispatcher, replies on sendMessage."""

from __future__ import annotations

import logging
import time
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from bot.logs import quiet_request_logs
from crm_store.models import Interaction
from handlers.texts import t
from tests.telegram.fake_telegram import BOT_USER, TOKEN, payload
from tests.voice.audio_files import ogg_opus
from tests.voice.conftest import TG_USER, TelegramBank, assert_no_audio_under, voice_outcome
from tests.wecom.fakes import wait_until

GROUP = -1001234567890
NOTE = "记录：刚和王芳通话，她想买理财，下周二回访"


def _update(update_id: int, message_id: int, **content: Any) -> dict[str, Any]:
    update = payload("private-text")
    update["update_id"] = update_id
    message = update["message"]
    message["message_id"] = message_id
    del message["text"]
    message.update(content)
    return update


def _voice(file_id: str, seconds: int, size: int) -> dict[str, Any]:
    return {
        "file_id": file_id,
        "file_unique_id": f"u{file_id}",
        "duration": seconds,
        "mime_type": "audio/ogg",
        "file_size": size,
    }


def _text(update_id: int, message_id: int, text: str) -> dict[str, Any]:
    return _update(update_id, message_id, text=text)


def _wait_replies(bank: TelegramBank, count: int, chat_id: int = TG_USER) -> list[str]:
    wait_until(lambda: len(bank.replies(chat_id)) >= count)
    return bank.replies(chat_id)


def _notes(bank: TelegramBank) -> list[Interaction]:
    with bank.store.db.read() as session:
        rows = list(session.scalars(select(Interaction)))
        session.expunge_all()
        return rows


def test_voice_note_for_two_namesakes_asks_and_keeps_the_transcript(
    telegram_bank: TelegramBank, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # as `bankbot serve` logs
    quiet_request_logs()
    audio = ogg_opus(3.0)
    telegram_bank.fake.files["VOICE1"] = ("voice/file_1.oga", audio)
    telegram_bank.asr.transcript = NOTE
    answer = telegram_bank.post(_update(1, 51, voice=_voice("VOICE1", 3, len(audio))))
    assert answer.status_code == 200
    question = _wait_replies(telegram_bank, 1)[0]
    assert question.startswith(f"🎤 识别为：『{NOTE}』\n")
    assert t("clarify_note", "zh", count=2) in question
    assert _notes(telegram_bank) == []
    (heard,) = telegram_bank.asr.heard
    assert (heard.rate, heard.channels) == (16000, 1) and abs(heard.seconds - 3.0) < 0.1
    assert "王芳" in heard.prompt and "李雷" not in heard.prompt
    assert telegram_bank.fake.downloads == ["voice/file_1.oga"]
    # The answer "2" saves the spoken note for the second 王芳.
    telegram_bank.post(_text(2, 52, "2"))
    saved = _wait_replies(telegram_bank, 2)[1]
    assert "已记录 王芳" in saved
    (note,) = _notes(telegram_bank)
    assert note.customer_id in {"c4", "c5"} and "理财" in note.content
    assert note.next_followup_on == date(2026, 12, 1)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert TOKEN not in logged and "王芳" not in logged


def test_an_audio_file_is_transcribed_once_however_often_delivered(
    telegram_bank: TelegramBank,
) -> None:
    audio = ogg_opus(2.0)
    telegram_bank.fake.files["AUDIO1"] = ("music/file_2.ogg", audio)
    telegram_bank.asr.transcript = "记录：刚和张伟通话，他想了解大额存单，下周二回访"
    sound = {**_voice("AUDIO1", 2, len(audio)), "title": "memo"}
    telegram_bank.post(_update(3, 53, audio=sound))
    telegram_bank.post(_update(3, 53, audio=sound))  # Telegram's retry of the same update
    reply = _wait_replies(telegram_bank, 1)[0]
    assert reply.startswith("🎤 识别为：『记录：刚和张伟通话") and "已记录 张伟" in reply
    (note,) = _notes(telegram_bank)
    assert (note.customer_id, note.next_followup_on) == ("c1", date(2026, 12, 1))
    wait_until(lambda: telegram_bank.unfinished() == 0)
    assert len(telegram_bank.asr.heard) == 1 and len(telegram_bank.replies()) == 1
    assert_no_audio_under(telegram_bank.store.settings.home, audio)


def test_voice_naming_a_customer_out_of_scope_finds_nobody(telegram_bank: TelegramBank) -> None:
    audio = ogg_opus(1.0)
    telegram_bank.fake.files["VOICE9"] = ("voice/file_9.oga", audio)
    telegram_bank.asr.transcript = "查一下李雷"
    telegram_bank.post(_update(8, 58, voice=_voice("VOICE9", 1, len(audio))))
    reply = _wait_replies(telegram_bank, 1)[0]
    assert reply == f"🎤 识别为：『查一下李雷』\n{t('not_found', 'zh')}"
    assert "李雷" not in telegram_bank.asr.heard[0].prompt


def test_voice_in_a_group_gets_the_private_chat_offer_only(telegram_bank: TelegramBank) -> None:
    telegram_bank.fake.files["VOICE2"] = ("voice/file_3.oga", ogg_opus(1.0))
    update = _update(4, 54, voice=_voice("VOICE2", 1, 100))
    update["message"]["chat"] = {"id": GROUP, "title": "工作群", "type": "supergroup"}
    update["message"]["reply_to_message"] = {
        "message_id": 50,
        "from": BOT_USER,
        "chat": {"id": GROUP, "type": "supergroup"},
        "date": 1764554400,
        "text": "…",
    }
    telegram_bank.post(update)
    assert _wait_replies(telegram_bank, 1, GROUP) == [t("group_chat", "zh")]
    assert telegram_bank.fake.calls("getFile") == [] and telegram_bank.asr.heard == []


@pytest.mark.voice_env(VOICE_MAX_SECONDS="2")
def test_too_long_and_failing_voice_get_short_replies(telegram_bank: TelegramBank) -> None:
    audio = ogg_opus(1.0)
    telegram_bank.fake.files["LONG"] = ("voice/long.oga", audio)
    telegram_bank.fake.files["OK"] = ("voice/ok.oga", audio)
    too_long, failed = voice_outcome("telegram", "too_long"), voice_outcome("telegram", "empty")
    telegram_bank.post(_update(5, 55, voice=_voice("LONG", 30, len(audio))))
    assert _wait_replies(telegram_bank, 1) == [t("voice_too_long", "zh", seconds=2)]
    assert telegram_bank.fake.calls("getFile") == []  # refused on the declared duration
    telegram_bank.asr.transcript = "   "  # silence: nothing heard
    telegram_bank.post(_update(6, 56, voice=_voice("OK", 1, len(audio))))
    assert _wait_replies(telegram_bank, 2)[1] == t("voice_failed", "zh")
    telegram_bank.post(_update(7, 57, voice=_voice("MISSING", 1, 10)))
    assert _wait_replies(telegram_bank, 3)[2] == t("voice_failed", "zh")
    wait_until(lambda: voice_outcome("telegram", "empty") == failed + 1)
    assert voice_outcome("telegram", "too_long") == too_long + 1
    assert _notes(telegram_bank) == []
    time.sleep(0.1)
    assert len(telegram_bank.replies()) == 3
