"""A voice message's way to a reply: refuse first, fetch, decode, transcribe, then the text path.

Strangers, group chats and staff who may not ask about customers get the same refusal as a
typed message, before any audio is fetched. Otherwise the audio is fetched from its platform,
decoded in memory and sent to the speech-recognition server with a prompt of the asker's own
visible customer names; the transcript then goes through the dispatcher exactly as typed text,
and the reply starts with what was heard. Audio and transcripts are never logged or stored
(the transcript is audited like typed text: masked).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from bot import metrics
from bot.audit_rows import audit_message
from bot.gate import bind_request
from bot.identity import resolve_actor
from bot.voice.audio import AudioError, AudioTooLong, to_wav
from bot.voice.detail import voice_detail
from bot.voice.settings import VoiceSettings
from bot.voice.transcribe import TranscribeError, Transcriber, recognition_prompt
from crm_store.permissions import may_use_customer_chat
from crm_store.prompt_names import names_for_prompt
from crm_store.redaction import clean_text
from handlers.contracts import Event, IncomingMessage, Reply, VoiceNote
from handlers.guard import GuardedReply
from handlers.texts import t

if TYPE_CHECKING:
    from bot.dispatch import Dispatcher

log = logging.getLogger(__name__)


class VoiceFetchError(Exception):
    """The platform did not hand over the audio; `reason` is a metrics label."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AudioSource(Protocol):
    """Fetches a voice message's audio from its platform, into memory."""

    def fetch(self, voice: VoiceNote, max_bytes: int) -> bytes:
        """The audio bytes; VoiceFetchError when it cannot be had or exceeds `max_bytes`."""
        ...


@dataclass(frozen=True)
class Heard:
    """A transcript and the audio's duration in whole seconds."""

    text: str
    seconds: int


class VoiceNotes:
    """Turns voice messages into text for the dispatcher; offline without a server."""

    def __init__(
        self,
        settings: VoiceSettings,
        sources: Mapping[str, AudioSource],
        transcriber: Transcriber | None = None,
    ) -> None:
        self.settings = settings
        self.sources = dict(sources)
        self.transcriber = transcriber

    @classmethod
    def from_settings(cls, sources: Mapping[str, AudioSource]) -> VoiceNotes:
        """Voice notes as configured by TRANSCRIBE_* and VOICE_* (offline when unset)."""
        settings = VoiceSettings()
        transcriber = Transcriber(settings) if settings.configured else None
        return cls(settings, sources, transcriber)

    @classmethod
    def offline(cls) -> VoiceNotes:
        """No speech recognition: every voice message gets the polite offline reply."""
        return cls(VoiceSettings.model_construct(), {})

    def add_source(self, channel: str, source: AudioSource) -> None:
        """Where `channel`'s audio comes from (adapters register themselves at wiring)."""
        self.sources[channel] = source

    async def answer(
        self, dispatcher: Dispatcher, message: IncomingMessage
    ) -> Reply | GuardedReply:
        """The reply to one voice message (never raises: failures are short replies)."""
        try:
            return await self._answer(dispatcher, message)
        except Exception:
            log.exception("voice message failed (channel=%s)", message.channel)
            metrics.VOICE.labels(channel=message.channel, outcome="error").inc()
            return Reply(t("error", dispatcher.lang), (Event("refused", {"reason": "error"}),))

    async def _answer(
        self, dispatcher: Dispatcher, message: IncomingMessage
    ) -> Reply | GuardedReply:
        voice = message.voice
        assert voice is not None
        now = dispatcher.now()
        if not self._may_transcribe(dispatcher, message):
            return await dispatcher.handle_text(message)  # the typed path refuses it alike
        if self.transcriber is None:
            text = t("voice_offline", dispatcher.lang)
            return self._not_transcribed(dispatcher, message, now, "offline", text)
        try:
            heard = await asyncio.to_thread(self._hear, dispatcher, message, voice, now)
        except AudioTooLong as exc:
            text = t("voice_too_long", dispatcher.lang, seconds=exc.limit)
            return self._not_transcribed(dispatcher, message, now, "too_long", text)
        except (VoiceFetchError, AudioError, TranscribeError) as exc:
            text = t("voice_failed", dispatcher.lang)
            return self._not_transcribed(dispatcher, message, now, exc.reason, text)
        metrics.VOICE.labels(channel=message.channel, outcome="transcribed").inc()
        spoken = replace(message, text=heard.text, voice=replace(voice, seconds=heard.seconds))
        reply = await dispatcher.handle_text(spoken)
        event = Event("voice_transcribed", {"seconds": heard.seconds})
        if _too_long(reply):  # the size cap keeps nothing of the text: no echo either
            return replace(reply, events=(event, *reply.events))
        # Echoed as typed text is: secrets redacted and numbers masked, as the note keeps it.
        echo = t("voice_heard", dispatcher.lang, text=clean_text(heard.text))
        return replace(reply, text=f"{echo}\n{reply.text}", events=(event, *reply.events))

    def _may_transcribe(self, dispatcher: Dispatcher, message: IncomingMessage) -> bool:
        """Only an active staff member who may ask about customers, in a private chat."""
        if message.chat_type != "private" or bind_request(message) is not None:
            return False
        with dispatcher.store.db.read() as session:
            actor = resolve_actor(session, channel=message.channel, sender_id=message.sender_id)
            return may_use_customer_chat(actor)

    def _hear(
        self, dispatcher: Dispatcher, message: IncomingMessage, voice: VoiceNote, now: datetime
    ) -> Heard:
        """Fetch, decode and transcribe (blocking: runs in a worker thread)."""
        assert self.transcriber is not None
        limit = self.settings.max_seconds(message.channel)
        max_bytes = self.settings.voice_max_bytes
        if voice.seconds is not None and voice.seconds > limit:
            raise AudioTooLong(limit)
        if voice.size is not None and voice.size > max_bytes:
            raise VoiceFetchError("too_large")
        source = self.sources.get(message.channel)
        if source is None:
            raise VoiceFetchError("no_source")
        audio = source.fetch(voice, max_bytes)
        wav = to_wav(audio, max_seconds=limit)
        del audio  # in memory for the request only
        prompt = recognition_prompt(self._names(dispatcher, message, now), self._products())
        text = self.transcriber.transcribe(wav.data, prompt)
        if not text:
            raise TranscribeError("empty")
        return Heard(text, max(1, round(wav.seconds)))

    def _names(self, dispatcher: Dispatcher, message: IncomingMessage, now: datetime) -> list[str]:
        with dispatcher.store.db.read() as session:
            actor = resolve_actor(session, channel=message.channel, sender_id=message.sender_id)
            return names_for_prompt(session, actor=actor, today=now.date())

    def _products(self) -> list[str]:
        return self.settings.product_words

    def _not_transcribed(
        self,
        dispatcher: Dispatcher,
        message: IncomingMessage,
        now: datetime,
        reason: str,
        text: str,
    ) -> Reply:
        """The short reply, the metric and the audit row of a voice message not transcribed."""
        log.warning("voice message not transcribed (channel=%s): %s", message.channel, reason)
        metrics.VOICE.labels(channel=message.channel, outcome=reason).inc()
        with dispatcher.store.db.write() as session:
            actor = resolve_actor(session, channel=message.channel, sender_id=message.sender_id)
            audit_message(
                session,
                message,
                at=now,
                actor=actor,
                intent="voice",
                decision="not_transcribed",
                text_masked="",
                detail=f"{voice_detail(message)} not_transcribed={reason}",
            )
        event = Event("voice_not_transcribed", {"reason": reason})
        return Reply(text, (event,))


def _too_long(reply: Reply | GuardedReply) -> bool:
    return any(e.type == "refused" and e.data.get("reason") == "too_long" for e in reply.events)
