"""Transcription through one OpenAI-compatible route: POST {base}/audio/transcriptions.

FunASR/SenseVoice and faster-whisper servers, vLLM serving Whisper and hosted APIs all take a
WAV file there. The `openai` client makes the call (no retries: a voice message that failed
once gets the "please type it" reply at once, rather than after three timeouts).
"""

from __future__ import annotations

import logging

import openai

from bot.voice.settings import VoiceSettings

log = logging.getLogger(__name__)

NO_KEY = "not-needed"  # local servers need no key; the client refuses to start without one
PROMPT_CHARS = 400  # Whisper reads at most 224 prompt tokens; longer prompts are cut anyway


class TranscribeError(Exception):
    """The server could not transcribe; `reason` is a metrics label."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Transcriber:
    """Sends a WAV to the configured server and returns the transcript."""

    def __init__(self, settings: VoiceSettings) -> None:
        if settings.transcribe_base_url is None:
            raise ValueError("TRANSCRIBE_BASE_URL is not set")
        key = settings.transcribe_api_key
        self.model = settings.transcribe_model
        self.language = settings.transcribe_language
        self.client = openai.OpenAI(
            base_url=settings.transcribe_base_url,
            api_key=key.get_secret_value() if key else NO_KEY,
            timeout=settings.transcribe_timeout_seconds,
            max_retries=0,
        )

    def transcribe(self, wav: bytes, prompt: str) -> str:
        """The transcript of `wav` (16 kHz mono WAV), stripped; TranscribeError on failure."""
        try:
            result = self.client.audio.transcriptions.create(
                model=self.model,
                file=("voice.wav", wav, "audio/wav"),
                language=self.language,
                prompt=prompt[:PROMPT_CHARS],
                response_format="json",
            )
        except openai.APITimeoutError:
            raise TranscribeError("timeout") from None
        except openai.APIConnectionError:
            raise TranscribeError("unreachable") from None
        except openai.APIStatusError as exc:
            log.warning("transcription server answered HTTP %s", exc.status_code)
            raise TranscribeError("server_error") from None
        except (openai.OpenAIError, ValueError):
            raise TranscribeError("bad_answer") from None
        text = getattr(result, "text", None)
        if not isinstance(text, str):
            raise TranscribeError("bad_answer")
        return text.strip()

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()


def recognition_prompt(names: list[str], product_words: list[str]) -> str:
    """A short prompt listing customer names and product words, to bias recognition."""
    parts = []
    if names:
        parts.append("客户：" + "、".join(names) + "。")
    if product_words:
        parts.append("产品：" + "、".join(product_words) + "。")
    return "".join(parts)
