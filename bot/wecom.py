"""The WeCom (企业微信) self-built app adapter: callback verification, parsing, acknowledgement.

GET answers URL verification with the decrypted echostr; POST verifies and decrypts (refused:
403, nothing stored). A text message goes into the inbox (UNIQUE on MsgId) before the empty 200
and is answered in the background; so is a voice message (its MediaId only: the audio is
fetched and transcribed by the answer, see bot/voice/). Events (no MsgId) are only
acknowledged: nothing reacts to them, so they are neither stored nor dispatched. Image and
other messages get one short "text only" reply after the acknowledgement; a retried MsgId is
dropped in this process, and WeCom's duplicate check drops a repeat from another process
within 30 minutes.

Serve stores a callback only verified (signature, timestamp), still encrypted, before its 200:
in its intake journal on SQLite, whose move decrypts and parses it (`open_sealed`), elsewhere
in the inbox, whose claim does (bot/inbox.py); then the rest is as above. A callback that is
signed but does not open is then logged and dropped, never answered; its signature shows it
came from WeCom. Its outcome (accepted, event, unsupported, refused) is counted by the
process that opens it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot import metrics
from bot.inbox import Inbox
from bot.token_cache import AccessTokens, DatabaseTokenStore, RedisTokenStore, TokenStore
from bot.wecom_client import CHANNEL, WeComApi, WeComChannel
from bot.wecom_crypto import CallbackCrypto, CallbackRefused, WeComConfigError
from bot.wecom_voice import WeComVoiceSource
from bot.wecom_xml import parse_callback_message
from crm_store.settings import Settings
from crm_store.store import Store
from handlers.contracts import Channel, IncomingMessage, Reply, VoiceNote
from handlers.guard import fixed_reply

log = logging.getLogger(__name__)

CALLBACK_PATH = "/wecom/callback"
MAX_BODY_BYTES = 64 * 1024  # a callback envelope is a few KB
UNSUPPORTED = {
    "zh": "暂只支持文字和语音消息",
    "en": "Only text and voice messages are supported for now.",
}
Clock = Callable[[], datetime]


class RecentKeys:
    """A bounded set of recently seen keys (per process), oldest forgotten first."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._keys: OrderedDict[str, None] = OrderedDict()

    def add(self, key: str) -> bool:
        """Remember `key`; False if it was already there."""
        if key in self._keys:
            return False
        self._keys[key] = None
        if len(self._keys) > self.size:
            self._keys.popitem(last=False)
        return True


class WeComAdapter:
    """WeCom callbacks in, `message/send` out; implements `PlatformAdapter`."""

    name = CHANNEL

    def __init__(
        self, crypto: CallbackCrypto, api: WeComApi, *, lang: str = "zh", clock: Clock | None = None
    ) -> None:
        self.crypto = crypto
        self.api = api
        self.channel: Channel = WeComChannel(api)
        self.voice_source = WeComVoiceSource(api)
        self.lang = lang
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self._seen = RecentKeys()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None  # serve's, for `_reply_soon`

    @classmethod
    def from_settings(cls, store: Store) -> WeComAdapter:
        """Everything built from WECOM_* settings (and REDIS_URL for the token cache)."""
        settings = store.settings
        corp_id, _, _, token, aes_key = _required(settings)
        crypto = CallbackCrypto(token, aes_key, corp_id)
        return cls(crypto, wecom_api(store), lang=settings.bankbot_lang)

    def routes(self, inbox: Inbox) -> list[BaseRoute]:
        """URL verification (GET) and message callbacks (POST) on one path; in serve the
        callbacks are stored sealed, and the move or the claim opens them here."""
        if inbox.seals:
            inbox.open_sealed_with(CHANNEL, self.open_sealed)

        async def receive(request: Request) -> Response:
            return await self._on_post(inbox, request)

        return [
            Route(CALLBACK_PATH, self._on_get, methods=["GET"]),
            Route(CALLBACK_PATH, receive, methods=["POST"]),
        ]

    async def start(self) -> None:
        """Cache an access token; an unreachable API is logged, never fatal."""
        self._loop = asyncio.get_running_loop()
        try:
            await asyncio.to_thread(self.api.warm_up)
        except Exception as exc:
            log.warning("WeCom API not ready at start-up (%s); will retry on first send", exc)

    async def stop(self) -> None:
        """Let pending 'text only' replies finish, then close connections."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        self.api.close()
        close = getattr(self.api.tokens.store, "close", None)
        if callable(close):
            close()

    def ready(self) -> bool:
        """Whether the last WeCom API call reached WeCom and was accepted."""
        return self.api.reachable

    async def _on_get(self, request: Request) -> Response:
        params = request.query_params
        echostr = params.get("echostr", "").replace(" ", "+")  # a '+' decoded as a space
        try:
            plain = self.crypto.verify_url(
                params.get("msg_signature", ""),
                params.get("timestamp", ""),
                params.get("nonce", ""),
                echostr,
            )
        except CallbackRefused as exc:
            log.warning("WeCom URL verification refused: %s", exc.reason)
            metrics.CALLBACKS.labels(channel=CHANNEL, outcome="refused").inc()
            return Response(status_code=403)
        metrics.CALLBACKS.labels(channel=CHANNEL, outcome="verified").inc()
        return PlainTextResponse(plain)

    async def _on_post(self, inbox: Inbox, request: Request) -> Response:
        started = time.perf_counter()
        handle = self._seal if inbox.seals else self._handle
        outcome = await handle(inbox, request)
        metrics.CALLBACKS.labels(channel=CHANNEL, outcome=outcome).inc()
        metrics.ACK_SECONDS.labels(channel=CHANNEL).observe(time.perf_counter() - started)
        # 403: refused, nothing stored. 503: not stored, so WeCom should deliver it again.
        return Response(status_code={"refused": 403, "error": 503}.get(outcome, 200))

    async def _handle(self, inbox: Inbox, request: Request) -> str:
        """Verify, parse and hand on one callback; the outcome label for the metrics."""
        params = request.query_params
        try:
            body = await _read_body(request)
            xml = self.crypto.decrypt_message(
                body,
                params.get("msg_signature", ""),
                params.get("timestamp", ""),
                params.get("nonce", ""),
            )
            message = _parse(xml)
        except CallbackRefused as exc:
            log.warning("WeCom callback refused: %s", exc.reason)
            return "refused"
        outcome, incoming = self._classify(message, self.clock())
        if incoming is None:
            return outcome
        try:
            accepted = await inbox.intake(incoming)
        except Exception:
            log.exception("WeCom message could not be stored; asking WeCom to deliver it again")
            return "error"
        return "accepted" if accepted else "duplicate"

    async def _seal(self, inbox: Inbox, request: Request) -> str:
        """Verify one callback and store it still encrypted (serve); the journal's move or
        the inbox's claim opens it (`open_sealed`). bench/bench_ack_cpu.py: the decryption
        and the two XML parses were most of an acknowledgement's CPU, which a burst of
        callbacks queues on."""
        params = request.query_params
        signature = params.get("msg_signature", "")
        try:
            body = await _read_body(request)
            sealed = self.crypto.check_sealed(
                body, signature, params.get("timestamp", ""), params.get("nonce", "")
            )
        except CallbackRefused as exc:
            log.warning("WeCom callback refused: %s", exc.reason)
            return "refused"
        try:
            # Keyed by its signature: a delivery repeated byte for byte is stored once here,
            # one encrypted afresh has the same MsgId, which the inbox drops once opened.
            accepted = await inbox.intake_sealed(CHANNEL, signature, sealed)
        except Exception:
            log.exception("WeCom message could not be stored; asking WeCom to deliver it again")
            return "error"
        return "sealed" if accepted else "duplicate"

    def open_sealed(self, sealed: str, received_at: datetime) -> IncomingMessage | None:
        """A sealed callback as the message to answer (in the move's or the claim's thread),
        or None: an event, a message only told 'text only', or one that does not open."""
        try:
            message = _parse(self.crypto.open_sealed(sealed))
        except CallbackRefused as exc:
            log.warning("WeCom callback refused when opened: %s", exc.reason)
            outcome, incoming = "refused", None
        else:
            outcome, incoming = self._classify(message, received_at)
        metrics.CALLBACKS.labels(channel=CHANNEL, outcome=outcome).inc()
        return incoming

    def _classify(self, message: Any, received_at: datetime) -> tuple[str, IncomingMessage | None]:
        """What a verified message is: a text or voice message to store, or the outcome of
        one only acknowledged (an event, a repeat) or told 'text only'."""
        kind = str(getattr(message, "type", "unknown"))
        if kind == "text":
            return "accepted", self._text(message, received_at)
        if kind == "voice" and message.id and getattr(message, "media_id", None):
            return "accepted", self._voice(message, received_at)
        if kind == "event":
            key = f"{message.source}:{message.time}:{getattr(message, 'event', '')}"
            return ("event" if self._seen.add(key) else "duplicate"), None
        if not message.id:
            return "ignored", None  # e.g. template_card_event, which wechatpy cannot classify
        if not self._seen.add(f"msg:{message.id}"):
            return "duplicate", None
        self._reply_soon(str(message.source), UNSUPPORTED.get(self.lang, UNSUPPORTED["zh"]))
        return "unsupported", None

    def _voice(self, message: Any, received_at: datetime) -> IncomingMessage:
        # Only the MediaId is stored: the audio is fetched (at once, it expires in 3 days)
        # by the answer in the background, and held in memory only.
        voice = VoiceNote(ref=str(message.media_id), format=str(message.format or "amr"))
        return IncomingMessage(
            channel=CHANNEL,
            sender_id=str(message.source),
            chat_id=str(message.source),
            chat_type="private",
            msg_id=str(message.id),
            text="",
            received_at=received_at,
            raw={"msg_type": "voice", "create_time": message.time},
            voice=voice,
        )

    def _text(self, message: Any, received_at: datetime) -> IncomingMessage:
        return IncomingMessage(
            channel=CHANNEL,
            sender_id=str(message.source),
            chat_id=str(message.source),
            chat_type="private",
            msg_id=str(message.id) if message.id else f"{message.source}:{message.time}:text",
            text=str(message.content or ""),
            received_at=received_at,
            raw={"msg_type": "text", "create_time": message.time},
        )

    def _reply_soon(self, userid: str, text: str) -> None:
        """`_reply_later` on the loop the adapter started on (serve's, or an answer
        process's), from the move's thread or an answering thread's loop alike: the channel's
        connections belong to that loop."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        home = self._loop or running
        if home is None or home.is_closed():
            log.warning("'text only' reply not sent: no event loop")
        elif home is running:
            self._reply_later(userid, text)
        else:
            home.call_soon_threadsafe(self._reply_later, userid, text)

    def _reply_later(self, userid: str, text: str) -> None:
        task = asyncio.create_task(self._send_quietly(userid, text))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_quietly(self, userid: str, text: str) -> None:
        try:
            await self.channel.send(userid, fixed_reply(Reply(text)))
        except Exception as exc:
            log.warning("'text only' reply not sent: %s", exc)


async def _read_body(request: Request) -> bytes:
    """The request body, refused beyond `MAX_BODY_BYTES`."""
    declared = request.headers.get("content-length", "0")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise CallbackRefused("body too large")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            raise CallbackRefused("body too large")
    return bytes(body)


def _parse(xml: str) -> Any:
    """The decrypted inner XML as a wechatpy message (signed by WeCom, so rarely malformed)."""
    try:
        message = parse_callback_message(xml)
    except Exception:
        raise CallbackRefused("malformed message") from None
    if message is None or not getattr(message, "source", None):
        raise CallbackRefused("message without a sender")
    return message


def wecom_api(store: Store) -> WeComApi:
    """The outgoing API client from WECOM_* settings, its token shared through REDIS_URL or
    the database (every process that sends uses the same cached token)."""
    settings = store.settings
    corp_id, agent_id, secret, _, _ = _required(settings)
    redis_url = settings.redis_url
    token_store: TokenStore = (
        RedisTokenStore(redis_url) if redis_url else DatabaseTokenStore(store.db)
    )
    tokens = AccessTokens(token_store, f"wecom:token:{corp_id}:{agent_id}", store.cipher)
    return WeComApi(
        corp_id=corp_id,
        agent_id=agent_id,
        secret=secret,
        base_url=settings.wecom_api_base_url,
        tokens=tokens,
    )


def _required(settings: Settings) -> tuple[str, int, str, str, str]:
    """The five WeCom values, or a clear error naming every missing one."""
    corp_id, agent_id = settings.wecom_corp_id, settings.wecom_agent_id
    secret, token, aes_key = settings.wecom_secret, settings.wecom_token, settings.wecom_aes_key
    if corp_id is None or agent_id is None or secret is None or token is None or aes_key is None:
        values = {
            "WECOM_CORP_ID": corp_id,
            "WECOM_AGENT_ID": agent_id,
            "WECOM_SECRET": secret,
            "WECOM_TOKEN": token,
            "WECOM_AES_KEY": aes_key,
        }
        missing = ", ".join(name for name, value in values.items() if value is None)
        raise WeComConfigError(f"WeCom is not configured: set {missing}")
    return (
        corp_id,
        agent_id,
        secret.get_secret_value(),
        token.get_secret_value(),
        aes_key.get_secret_value(),
    )
