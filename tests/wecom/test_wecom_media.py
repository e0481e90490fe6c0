"""media/get against the fake WeCom API: the file into memory, token refresh, typed errors."""

from __future__ import annotations

import pytest

from bot.voice.hear import VoiceFetchError
from bot.wecom_client import WeComApi, WeComMediaTooLarge, WeComSendError
from bot.wecom_voice import WeComVoiceSource
from handlers.contracts import VoiceNote
from tests.voice.audio_files import amr
from tests.wecom.fakes import FakeWeCom, MemoryTokenStore
from tests.wecom.test_wecom_client import make_api


@pytest.fixture
def api(fake: FakeWeCom) -> WeComApi:
    """A client whose tokens live in memory."""
    return make_api(fake, MemoryTokenStore(), "wecom:token:media")


def test_media_get_returns_the_file_with_the_shared_token(fake: FakeWeCom, api: WeComApi) -> None:
    fake.media["M1"] = amr(1.0)
    assert api.download_media("M1", 1_000_000) == amr(1.0)
    assert api.download_media("M1", 1_000_000) == amr(1.0)
    assert len(fake.calls("gettoken")) == 1  # the cached token serves both
    (first, second) = fake.calls("media/get")
    assert first.query["access_token"] == second.query["access_token"] == "accesstoken000001"


def test_a_rejected_token_is_refreshed_once(fake: FakeWeCom, api: WeComApi) -> None:
    fake.media["M1"] = amr(1.0)
    api.tokens.get(lambda: ("stale-token", 7200))  # cached, but WeCom does not know it
    assert api.download_media("M1", 1_000_000) == amr(1.0)
    tokens = [c.query["access_token"] for c in fake.calls("media/get")]
    assert tokens == ["stale-token", "accesstoken000001"]


def test_errors_are_typed_and_become_download_failures(fake: FakeWeCom, api: WeComApi) -> None:
    fake.media["BIG"] = amr(3.0)
    with pytest.raises(WeComMediaTooLarge):
        api.download_media("BIG", 1_000)
    with pytest.raises(WeComSendError) as unknown:
        api.download_media("NOPE", 1_000_000)
    assert unknown.value.errcode == 40007
    source = WeComVoiceSource(api)
    with pytest.raises(VoiceFetchError) as failed:
        source.fetch(VoiceNote(ref="NOPE", format="amr"), 1_000_000)
    assert failed.value.reason == "download"
    with pytest.raises(VoiceFetchError) as large:
        source.fetch(VoiceNote(ref="BIG", format="amr"), 1_000)
    assert large.value.reason == "too_large"
