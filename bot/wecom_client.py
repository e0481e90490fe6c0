"""Outgoing WeCom API calls (gettoken, message/send) through wechatpy's synchronous client.

Every call, the token fetch included, goes to WECOM_API_BASE_URL with a timeout; wechatpy's
`auto_retry` is off (it recurses on a persistent 40014) and a rejected token is refreshed once
here. Calls run in a worker thread so the event loop that acknowledges callbacks never blocks.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from wechatpy.enterprise import WeChatClient
from wechatpy.exceptions import WeChatClientException

from bot import metrics
from bot.text_split import split_utf8
from bot.token_cache import AccessTokens
from handlers.guard import GuardedReply, require_guarded

log = logging.getLogger(__name__)
T = TypeVar("T")

CHANNEL = "wecom"
TEXT_LIMIT_BYTES = 2048  # WeCom truncates a text message beyond this many UTF-8 bytes
HTTP_TIMEOUT_SECONDS = 10.0
DUPLICATE_CHECK_SECONDS = 1800  # a resend after a crash within 30 min is dropped by WeCom
TOKEN_REJECTED = frozenset({40014, 42001})
MAX_ERROR_BYTES = 4096  # an error answer from media/get is a short JSON object
RATE_LIMITED = frozenset({45009, 45033})


class WeComSendError(Exception):
    """A WeCom call that failed; `retryable` says whether trying later can help."""

    retryable = True

    def __init__(self, message: str, errcode: int | None = None) -> None:
        super().__init__(message)
        self.errcode = errcode


class WeComUnavailable(WeComSendError):
    """The API could not be reached or answered with an HTTP error."""


class WeComMediaTooLarge(WeComSendError):
    """A media file larger than the size cap (VOICE_MAX_BYTES)."""

    retryable = False


class WeComRateLimited(WeComSendError):
    """errcode 45009: too many calls; retry later."""


class WeComTokenRejected(WeComSendError):
    """A freshly fetched token was rejected again (40014/42001)."""


class WeComIpNotAllowed(WeComSendError):
    """errcode 60020: this server's IP is not on the app's trusted IP list."""

    retryable = False


class WeComNoRecipient(WeComSendError):
    """errcode 81013 (or an `invaliduser` answer): the recipient cannot receive messages."""

    retryable = False


HINTS: dict[int, tuple[type[WeComSendError], str]] = {
    60020: (
        WeComIpNotAllowed,
        "WeCom 60020: this server's public IP is not on the app's trusted IP list; add it in "
        "the WeCom admin console (app settings > trusted IPs / 企业可信IP)",
    ),
    81013: (
        WeComNoRecipient,
        "WeCom 81013: no valid recipient; the user id is unknown, has left, or is outside the "
        "app's visible range (可见范围); check the staff member's bound WeCom UserID",
    ),
}


class _Client(WeChatClient):
    """wechatpy's client with every URL on the configured host and tokens from shared storage."""

    def __init__(
        self, corp_id: str, secret: str, base_url: str, tokens: AccessTokens, timeout: float
    ) -> None:
        super().__init__(corp_id, secret, timeout=timeout, auto_retry=False)
        host = base_url.rstrip("/").removesuffix("/cgi-bin")  # accept either form
        self.API_BASE_URL = host + "/cgi-bin/"
        self._tokens = tokens

    def fetch_access_token(self) -> dict[str, Any]:
        """GET gettoken on the configured host (wechatpy hard-codes the public one)."""
        try:
            res = self._http.get(
                self.API_BASE_URL + "gettoken",
                params={"corpid": self.corp_id, "corpsecret": self.secret},
                timeout=self.timeout,
            )
            res.raise_for_status()
            result: dict[str, Any] = res.json()
        except (requests.RequestException, ValueError) as exc:
            raise WeComUnavailable(f"WeCom gettoken failed: {type(exc).__name__}") from None
        errcode = int(result.get("errcode", 0))
        if errcode != 0:
            raise WeChatClientException(errcode, result.get("errmsg", ""), client=self)
        return result

    @property
    def access_token(self) -> str:
        """The shared, cached token (used by any wechatpy API called without one)."""
        return self._tokens.get(self.fetch_token)

    def fetch_token(self) -> tuple[str, int]:
        """A new token and its lifetime in seconds."""
        result = self.fetch_access_token()
        return str(result["access_token"]), int(result.get("expires_in", 7200))


class WeComApi:
    """The synchronous API calls bankbot makes, with token refresh and typed errors."""

    def __init__(
        self,
        *,
        corp_id: str,
        agent_id: int,
        secret: str,
        base_url: str,
        tokens: AccessTokens,
        timeout: float = HTTP_TIMEOUT_SECONDS,
    ) -> None:
        self.agent_id = agent_id
        self.tokens = tokens
        self.client = _Client(corp_id, secret, base_url, tokens, timeout)
        self.reachable = False

    def warm_up(self) -> None:
        """Make sure a valid token is cached (raises `WeComSendError`)."""
        self._guarded(lambda: self.client.access_token)

    def send_text(self, touser: str, content: str, *, dedupe: bool = False) -> None:
        """message/send one text (at most 2048 bytes) to one member.

        `dedupe` asks WeCom to drop an identical message within 30 minutes: right for a
        digest resent after a crash, wrong for chat replies (the same question asked twice
        must be answered twice), which the inbox already keeps to once per message."""
        payload: dict[str, Any] = {
            "touser": touser,
            "msgtype": "text",
            "agentid": self.agent_id,
            "text": {"content": content},
            "safe": 0,
        }
        if dedupe:
            payload |= {
                "enable_duplicate_check": 1,
                "duplicate_check_interval": DUPLICATE_CHECK_SECONDS,
            }
        result = self._guarded(lambda: self._post_refreshing("message/send", payload))
        if str(result.get("invaliduser") or "").strip():
            raise self._typed(81013)

    def close(self) -> None:
        """Close the HTTP session."""
        self.client._http.close()

    def download_media(self, media_id: str, max_bytes: int) -> bytes:
        """media/get: a temporary media file (a voice message's AMR), at most `max_bytes`.

        The file is read into memory only. WeCom answers JSON instead of the file on an
        error; a rejected token is refreshed once, as for message/send."""
        return self._guarded(
            lambda: self._refreshing(lambda token: self._get_media(token, media_id, max_bytes))
        )

    def _get_media(self, token: str, media_id: str, max_bytes: int) -> bytes:
        params = {"access_token": token, "media_id": media_id}
        url = self.client.API_BASE_URL + "media/get"
        with self.client._http.get(
            url, params=params, timeout=self.client.timeout, stream=True
        ) as res:
            res.raise_for_status()
            if "json" in res.headers.get("content-type", "") or "text/plain" in res.headers.get(
                "content-type", ""
            ):
                result = json.loads(res.raw.read(MAX_ERROR_BYTES, decode_content=True) or b"{}")
                errcode = int(result.get("errcode", 0)) if isinstance(result, dict) else 0
                raise WeChatClientException(errcode or None, "media/get", client=self.client)
            declared = res.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise WeComMediaTooLarge("WeCom media larger than allowed")
            data = bytearray()
            for chunk in res.iter_content(64 * 1024):
                data += chunk
                if len(data) > max_bytes:
                    raise WeComMediaTooLarge("WeCom media larger than allowed")
            return bytes(data)

    def _post_refreshing(self, endpoint: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self._refreshing(lambda token: self._post(endpoint, token, payload))

    def _refreshing(self, call: Callable[[str], T]) -> T:
        """`call(token)`, with a fresh token once more when WeCom rejects the cached one."""
        token = self.tokens.get(self.client.fetch_token)
        try:
            return call(token)
        except WeChatClientException as exc:
            if exc.errcode not in TOKEN_REJECTED:
                raise
            log.info("WeCom rejected the access token (errcode %s); fetching one", exc.errcode)
        token = self.tokens.refresh(token, self.client.fetch_token)
        try:
            return call(token)
        except WeChatClientException as exc:
            if exc.errcode not in TOKEN_REJECTED:
                raise
            raise WeComTokenRejected(
                f"WeCom {exc.errcode}: a freshly fetched access token was rejected; check "
                "WECOM_CORP_ID, WECOM_SECRET and WECOM_API_BASE_URL",
                exc.errcode,
            ) from None

    def _post(self, endpoint: str, token: str, payload: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.client.post(
            endpoint, params={"access_token": token}, data=payload
        )
        return result

    def _guarded(self, call: Callable[[], T]) -> T:
        """Run `call`, turning every wechatpy/requests failure into a typed, logged error."""
        try:
            result = call()
        except WeComSendError as exc:
            log.warning("%s", exc)
            error: WeComSendError = exc
        except WeChatClientException as exc:
            error = self._typed(exc.errcode)
        except requests.RequestException as exc:
            log.warning("WeCom API unreachable: %s", type(exc).__name__)
            error = WeComUnavailable(f"WeCom API unreachable: {type(exc).__name__}")
        else:
            self.reachable = True
            return result
        self.reachable = not isinstance(error, UNREACHABLE)
        raise error

    def _typed(self, errcode: int | None) -> WeComSendError:
        if errcode is None:
            log.warning("WeCom API answered with an HTTP error")
            return WeComUnavailable("WeCom API answered with an HTTP error")
        if errcode in HINTS:
            kind, hint = HINTS[errcode]
            log.error("%s", hint)
            return kind(hint, errcode)
        if errcode in RATE_LIMITED:
            log.warning("WeCom %s: API rate limit reached; the send will be retried", errcode)
            return WeComRateLimited(f"WeCom {errcode}: API rate limit reached", errcode)
        log.warning("WeCom API error %s", errcode)
        return WeComSendError(f"WeCom API error {errcode}", errcode)


UNREACHABLE = (WeComUnavailable, WeComIpNotAllowed, WeComTokenRejected)


class WeComChannel:
    """The `Channel` for WeCom: plain text to one member, split at 2048 UTF-8 bytes."""

    name = CHANNEL

    def __init__(self, api: WeComApi) -> None:
        self.api = api

    async def send(self, recipient: str, reply: GuardedReply) -> None:
        """Send the reply's text in as many messages as it needs (nothing for empty text)."""
        reply = require_guarded(reply)
        if not reply.text.strip():
            return
        try:
            dedupe = any(e.type == "digest" for e in reply.events)
            for chunk in split_utf8(reply.text, TEXT_LIMIT_BYTES):
                await asyncio.to_thread(self.api.send_text, recipient, chunk, dedupe=dedupe)
        except WeComSendError as exc:
            metrics.REPLIES.labels(channel=CHANNEL, result=type(exc).__name__).inc()
            raise
        metrics.REPLIES.labels(channel=CHANNEL, result="sent").inc()
