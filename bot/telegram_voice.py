"""Where a Telegram voice message's audio comes from: getFile, then the file download.

Both URLs carry the bot token, so neither is ever logged: errors are reported by type only,
and httpx's own request log is kept quiet (bot/logs.py).
"""

from __future__ import annotations

import httpx

from bot.voice.hear import VoiceFetchError
from handlers.contracts import VoiceNote

PUBLIC_API = "https://api.telegram.org"
HTTP_TIMEOUT_SECONDS = 10.0


class TelegramVoiceSource:
    """Fetches a voice or audio file through the configured Bot API (an `AudioSource`)."""

    def __init__(
        self, token: str, base_url: str | None, timeout: float = HTTP_TIMEOUT_SECONDS
    ) -> None:
        self._token = token
        self._base = (base_url or PUBLIC_API).rstrip("/")
        self.timeout = timeout

    def fetch(self, voice: VoiceNote, max_bytes: int) -> bytes:
        """The file's bytes, at most `max_bytes`; VoiceFetchError otherwise."""
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
                path = self._file_path(client, voice.ref, max_bytes)
                return _download(client, f"{self._base}/file/bot{self._token}/{path}", max_bytes)
        except httpx.HTTPError:
            raise VoiceFetchError("download") from None

    def _file_path(self, client: httpx.Client, file_id: str, max_bytes: int) -> str:
        answer = client.post(f"{self._base}/bot{self._token}/getFile", json={"file_id": file_id})
        try:
            body = answer.json()
        except ValueError:
            raise VoiceFetchError("download") from None
        result = body.get("result") if isinstance(body, dict) and body.get("ok") else None
        if not isinstance(result, dict) or not result.get("file_path"):
            raise VoiceFetchError("download")
        size = result.get("file_size")
        if isinstance(size, int) and size > max_bytes:
            raise VoiceFetchError("too_large")
        return str(result["file_path"])


def _download(client: httpx.Client, url: str, max_bytes: int) -> bytes:
    with client.stream("GET", url) as answer:
        if answer.status_code != 200:
            raise VoiceFetchError("download")
        data = bytearray()
        for chunk in answer.iter_bytes():
            data += chunk
            if len(data) > max_bytes:
                raise VoiceFetchError("too_large")
    return bytes(data)
