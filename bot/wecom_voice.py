"""Where a WeCom voice message's audio comes from: `media/get`, into memory."""

from __future__ import annotations

from bot.voice.hear import VoiceFetchError
from bot.wecom_client import WeComApi, WeComMediaTooLarge, WeComSendError
from handlers.contracts import VoiceNote


class WeComVoiceSource:
    """Fetches a voice message's AMR file with the shared access token (an `AudioSource`)."""

    def __init__(self, api: WeComApi) -> None:
        self.api = api

    def fetch(self, voice: VoiceNote, max_bytes: int) -> bytes:
        """The AMR bytes; VoiceFetchError when WeCom does not hand them over."""
        try:
            return self.api.download_media(voice.ref, max_bytes)
        except WeComMediaTooLarge:
            raise VoiceFetchError("too_large") from None
        except WeComSendError:  # logged with its errcode by the client
            raise VoiceFetchError("download") from None
