"""Voice settings, the recognition prompt, and the Telegram audio source against the fake."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from bot.telegram_voice import TelegramVoiceSource
from bot.voice.hear import VoiceFetchError
from bot.voice.settings import VoiceSettings
from bot.voice.transcribe import recognition_prompt
from handlers.contracts import VoiceNote
from tests.telegram.fake_telegram import TOKEN, FakeTelegram
from tests.voice.audio_files import ogg_opus


def _settings(**values: str) -> VoiceSettings:
    return VoiceSettings(_env_file=None, **values)  # type: ignore[call-arg]


def test_settings_default_to_offline_and_cap_wecom_at_60_seconds() -> None:
    settings = _settings()
    assert not settings.configured and settings.transcribe_language == "zh"
    assert (settings.max_seconds("wecom"), settings.max_seconds("telegram")) == (60, 120)
    assert _settings(VOICE_MAX_SECONDS="30").max_seconds("wecom") == 30
    configured = _settings(TRANSCRIBE_BASE_URL="http://127.0.0.1:9000/v1/")
    assert configured.configured and configured.transcribe_base_url == "http://127.0.0.1:9000/v1"
    assert not _settings(TRANSCRIBE_BASE_URL="  ").configured
    with pytest.raises(ValidationError):
        _settings(TRANSCRIBE_BASE_URL="127.0.0.1:9000")


def test_prompt_lists_names_then_product_words() -> None:
    prompt = recognition_prompt(["张伟", "王芳"], ["大额存单", "理财产品"])
    assert prompt == "客户：张伟、王芳。产品：大额存单、理财产品。"
    assert recognition_prompt([], []) == ""


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    fake = FakeTelegram()
    fake.start()
    yield fake
    fake.stop()


def test_telegram_source_downloads_through_the_configured_api(telegram: FakeTelegram) -> None:
    audio = ogg_opus(1.0)
    telegram.files["F1"] = ("voice/f1.oga", audio)
    source = TelegramVoiceSource(TOKEN, telegram.url)
    assert source.fetch(VoiceNote(ref="F1", format="ogg"), 1_000_000) == audio
    assert telegram.downloads == ["voice/f1.oga"]
    with pytest.raises(VoiceFetchError) as large:
        source.fetch(VoiceNote(ref="F1", format="ogg"), 100)
    assert large.value.reason == "too_large" and telegram.downloads == ["voice/f1.oga"]
    with pytest.raises(VoiceFetchError) as missing:
        source.fetch(VoiceNote(ref="NOPE", format="ogg"), 1_000_000)
    assert missing.value.reason == "download"
    with pytest.raises(VoiceFetchError) as refused:  # a wrong token: 401 from the API
        TelegramVoiceSource("1:wrong", telegram.url).fetch(VoiceNote("F1", "ogg"), 1_000_000)
    assert refused.value.reason == "download" and "wrong" not in str(refused.value)
