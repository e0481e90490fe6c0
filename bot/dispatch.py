"""The dispatcher: one path for every channel, from a message to a guarded, audited reply.

Order matters and fails closed: resolve the actor, refuse unknown or deactivated senders and
group chats before any parsing, then parse, handle, guard and audit in one transaction. Only a
message the rules cannot read is shown to the LLM (when one is configured), before that
transaction opens; its proposal is handler input, never a decision about access.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from bot.audit_rows import audit_message
from bot.door import admit, is_oversize
from bot.gate import StrangerLimit, bind_account, bind_request, stranger_reply
from bot.identity import TRUSTED_LOCAL_CHANNELS, resolve_actor
from bot.voice.detail import voice_detail
from crm_store import index_outbox
from crm_store.masking import mask_text
from crm_store.permissions import Actor, may_use_customer_chat
from crm_store.redaction import clean_text
from crm_store.store import Store
from handlers import intents
from handlers.clarify import forget, remember_choice
from handlers.context import Context
from handlers.contracts import Event, IncomingMessage, Reply
from handlers.guard import GuardedReply, fixed_reply, guard_reply
from handlers.lists import remember_more
from handlers.llm_intent import mark_proposed, merge_proposal, proposed_intent
from handlers.router import chosen_question, read, respond
from handlers.texts import t
from handlers.understanding.decide import Reading

if TYPE_CHECKING:  # chromadb and langchain load only where an index is opened
    from bot.voice.hear import VoiceNotes
    from retrieval.search import Retriever

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
GROUP_SAFE_INTENTS = frozenset({intents.HELP})
# Rows queued by another process (an import) reach the index within this many seconds of the
# next request; rows a request queues itself, right after it.
OUTBOX_LOOK_SECONDS = 5.0


class Dispatcher:
    """Handles one incoming message at a time for any channel."""

    def __init__(
        self,
        store: Store,
        clock: Clock | None = None,
        retriever: Retriever | None = None,
        voice: VoiceNotes | None = None,
    ) -> None:
        self.store = store
        self.retriever = retriever
        self.voice = voice  # None: voice messages get the offline reply
        self.clock = clock or (lambda: datetime.now(store.settings.tz))
        self.lang = store.settings.bankbot_lang
        self.strangers = StrangerLimit()
        self._outbox_looked = -OUTBOX_LOOK_SECONDS  # the first request always looks

    def _now(self) -> datetime:
        return self.clock().astimezone(self.store.settings.tz)

    def now(self) -> datetime:
        """The current time in the business time zone (from the injected clock)."""
        return self._now()

    async def handle(self, message: IncomingMessage) -> GuardedReply:
        """Answer one message; a voice message is transcribed first (bot/voice/hear.py)."""
        if message.voice is not None and not message.text:
            from bot.voice.hear import VoiceNotes

            voice = self.voice or VoiceNotes.offline()
            return self._guarded(message, await voice.answer(self, message))
        return await self.handle_text(message)

    async def handle_text(self, message: IncomingMessage) -> GuardedReply:
        """Answer one message; any failure becomes a short apology and an 'error' audit row."""
        # Redacted once, here, as a note is stored: no echo, audit row, index entry, log line
        # or LLM prompt downstream ever sees the secrets or full numbers the person typed.
        message = admit(message, self.store.settings.max_message_chars)  # console and `ask` too
        message = replace(message, text=clean_text(message.text))
        now = self._now()
        queued = index_outbox.queued_here.set(False)
        try:
            reply = await self._handle(message, now)
        except Exception:
            log.exception("request failed (channel=%s msg=%s)", message.channel, message.msg_id)
            self._audit_failure(message, now)
            return fixed_reply(_refusal(t("error", self.lang), "error"))
        finally:
            wrote = index_outbox.queued_here.get()
            index_outbox.queued_here.reset(queued)
        self._sync_index(wrote)
        return reply

    def _guarded(self, message: IncomingMessage, reply: Reply | GuardedReply) -> GuardedReply:
        """A reply the voice path made itself ("not transcribed"), through the same guard."""
        if isinstance(reply, GuardedReply):
            return reply
        with self.store.db.read() as session:
            actor = resolve_actor(session, channel=message.channel, sender_id=message.sender_id)
            return guard_reply(session, actor, self._now().date(), reply)

    def _sync_index(self, wrote: bool) -> None:
        """Bring what the request committed to the index at once; rows queued elsewhere (an
        import) at the first request after OUTBOX_LOOK_SECONDS. A failure waits for the next
        try. Looking after every request cost 0.35-1.2 ms of each question."""
        if self.retriever is None:
            return
        now = time.monotonic()
        if not wrote and now - self._outbox_looked < OUTBOX_LOOK_SECONDS:
            return
        self._outbox_looked = now
        from retrieval.sync import process_outbox

        try:
            process_outbox(self.store, self.retriever.index)
        except Exception:  # the reply is already decided: the outbox keeps the rows
            log.exception("could not apply the index outbox")

    async def _handle(self, message: IncomingMessage, now: datetime) -> GuardedReply:
        reading = await self._read(message, now)
        if reading is not None and reading.intent.name == intents.QUESTION:
            # A question may wait seconds for an LLM: answer it under a read session (on SQLite
            # readers block no writer), then guard and audit in a short write transaction.
            # The guard reads too: only the bookkeeping and the audit row hold the write lock,
            # which on SQLite the acknowledgements of new callbacks wait for.
            with self.store.db.read() as session:
                actor, intent, reply = await self._answer(session, message, now, reading)
                guarded = self._guard(session, message, now, actor, reply)
            with self.store.db.write() as session:
                if reading.settles_choice:
                    self._forget_choice(session, message, now, actor)
                self._keep_state(session, message, now, actor, reply)
                self._audit(session, message, now, actor, intent, guarded)
                return guarded
        with self.store.db.write() as session:
            actor, intent, reply = await self._answer(session, message, now, reading)
            return self._guard_and_audit(session, message, now, actor, intent, reply)

    async def _read(self, message: IncomingMessage, now: datetime) -> Reading | None:
        """What the message asks, read under a read session; None for a message that gets a
        refusal (strangers, group chats, admins, oversize: nothing of theirs is parsed here).
        Only an unsure reading is shown to the LLM (when one is configured), outside any
        transaction; `_decide` checks sender, chat and role again in the answering one."""
        if bind_request(message) is not None or message.chat_type != "private":
            return None
        if is_oversize(message):
            return None
        with self.store.db.read() as session:
            actor = resolve_actor(session, channel=message.channel, sender_id=message.sender_id)
            if actor is None or not may_use_customer_chat(actor):
                return None
            settings = self.store.settings
            ctx = Context(session, actor, message, now, self.lang, self.retriever, settings)
            reading = chosen_question(ctx, read(ctx))
        retriever = self.retriever
        if reading.sure or retriever is None or retriever.model is None:
            return reading
        proposed = await proposed_intent(
            retriever.model, message.text, timeout=retriever.timeout, now=now, gate=retriever.gate
        )
        return merge_proposal(reading, proposed)

    async def _answer(
        self,
        session: Session,
        message: IncomingMessage,
        now: datetime,
        reading: Reading | None = None,
    ) -> tuple[Actor | None, str, Reply]:
        actor = resolve_actor(session, channel=message.channel, sender_id=message.sender_id)
        ctx = None
        if actor:
            ctx = Context(
                session, actor, message, now, self.lang, self.retriever, self.store.settings
            )
        intent, reply = await self._decide(session, ctx, actor, message, reading)
        return actor, intent, reply

    def _guard_and_audit(
        self,
        session: Session,
        message: IncomingMessage,
        now: datetime,
        actor: Actor | None,
        intent: str,
        reply: Reply,
    ) -> GuardedReply:
        self._keep_state(session, message, now, actor, reply)
        guarded = self._guard(session, message, now, actor, reply)
        self._audit(session, message, now, actor, intent, guarded)
        return guarded

    def _guard(
        self,
        session: Session,
        message: IncomingMessage,
        now: datetime,
        actor: Actor | None,
        reply: Reply,
    ) -> GuardedReply:
        hosts = self.retriever.allowed_link_hosts if self.retriever else frozenset()
        return guard_reply(session, actor, now.date(), reply, hosts, asked=message.text)

    @staticmethod
    def _audit(
        session: Session,
        message: IncomingMessage,
        now: datetime,
        actor: Actor | None,
        intent: str,
        guarded: GuardedReply,
    ) -> None:
        audit_message(
            session,
            message,
            at=now,
            actor=actor,
            intent=intent,
            customer_ids=guarded.customer_ids(),
            decision=_decision(guarded),
            text_masked=mask_text(message.text),
            detail=" ".join(filter(None, (_detail(guarded), voice_detail(message)))),
        )

    def _forget_choice(
        self, session: Session, message: IncomingMessage, now: datetime, actor: Actor | None
    ) -> None:
        """The "which did you mean?" a chosen question answered is settled, in the transaction
        that audits the answer."""
        if actor is not None:
            settings = self.store.settings
            forget(Context(session, actor, message, now, self.lang, self.retriever, settings))

    def _keep_state(
        self,
        session: Session,
        message: IncomingMessage,
        now: datetime,
        actor: Actor | None,
        reply: Reply,
    ) -> None:
        """An answer read under a read session may have more to show, or may ask which of two
        namesakes was meant: where '更多' goes on from, or the open question, is written here,
        in the transaction that audits it."""
        more = next((e.data["more"] for e in reply.events if e.data.get("more")), None)
        ask = next((e.data for e in reply.events if e.data.get("pending")), None)
        if (more is None and ask is None) or actor is None:
            return
        settings = self.store.settings
        ctx = Context(session, actor, message, now, self.lang, self.retriever, settings)
        if more is not None:
            remember_more(ctx, more)
        if ask is not None:
            remember_choice(ctx, ask["candidates"], ask["pending"])

    async def _decide(
        self,
        session: Session,
        ctx: Context | None,
        actor: Actor | None,
        message: IncomingMessage,
        reading: Reading | None = None,
    ) -> tuple[str, Reply]:
        code = bind_request(message)
        if code is not None and message.channel not in TRUSTED_LOCAL_CHANNELS:
            now = self._now()
            reply = bind_account(session, message, code, now, self.lang, self.store.cipher)
            return "bind", reply
        if ctx is None or actor is None or not actor.active:
            # Unknown senders get one generic reply; a departed staff member's bound account
            # is told it is deactivated (see stranger_reply), never anything about customers.
            deactivated = actor is not None and not actor.active
            reply = stranger_reply(self.strangers, message, self.lang, deactivated=deactivated)
            return "refused", reply
        if is_oversize(message):
            limit = self.store.settings.max_message_chars
            return "too_long", _refusal(t("too_long", self.lang, max=limit), "too_long")
        # The reading was made for this sender moments ago (an LLM proposal only where it was
        # unsure); it is mere handler input, and the handlers check access themselves.
        reading = reading if reading is not None else read(ctx)
        intent = reading.intent
        if message.chat_type != "private" and intent.name not in GROUP_SAFE_INTENTS:
            return intent.name, _refusal(t("group_chat", self.lang), "group_chat")
        if intent.name not in GROUP_SAFE_INTENTS and not may_use_customer_chat(actor):
            return intent.name, _refusal(t("admin_no_customers", self.lang), "role")
        reply = await respond(ctx, reading)
        if reading.proposed:
            reply = mark_proposed(reply, intent, self.retriever.model if self.retriever else None)
        return intent.name, reply

    def _audit_failure(self, message: IncomingMessage, now: datetime) -> None:
        try:
            with self.store.db.write() as session:
                audit_message(
                    session,
                    message,
                    at=now,
                    actor=None,
                    intent="error",
                    decision="error",
                    text_masked=mask_text(message.text),
                    detail=voice_detail(message),
                )
        except Exception:
            log.exception("could not write the audit row for a failed request")


def _refusal(text: str, reason: str) -> Reply:
    return Reply(text, (Event("refused", {"reason": reason}),))


def _detail(reply: Reply | GuardedReply) -> str:
    """Event types, plus the prompt hash and model of an LLM prompt when one was sent."""
    parts = [",".join(e.type for e in reply.events)]
    for event in reply.events:
        for key in ("prompt_hash", "model"):
            if event.data.get(key):
                parts.append(f"{key}={event.data[key]}")
    return " ".join(dict.fromkeys(parts))  # one model may both read and answer a question


def _decision(reply: Reply | GuardedReply) -> str:
    types = {e.type for e in reply.events}
    if "refused" in types:
        return "refused"
    if "not_found" in types:
        return "not_found"
    return "allowed"
