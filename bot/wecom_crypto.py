"""WeCom callback crypto: signature, corp id and freshness checks around wechatpy's cipher.

wechatpy raises unrelated exception classes for a bad signature and a wrong corp id, lets
malformed XML or base64 escape as whatever the parser raises, and never looks at the timestamp.
Everything that must refuse a callback becomes one `CallbackRefused(reason)` here.
"""

from __future__ import annotations

import base64
import binascii
import struct
import time
from collections.abc import Callable
from xml.etree.ElementTree import ParseError
from xml.parsers.expat import ExpatError

from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException

from bot.wecom_xml import flat_fields

MAX_SKEW_SECONDS = 300
AES_KEY_LENGTH = 43  # EncodingAESKey: 32 bytes as base64 without its trailing '='

# What wechatpy lets escape for input that is not a well-formed callback.
_MALFORMED = (
    ExpatError,
    ParseError,
    KeyError,
    TypeError,
    IndexError,
    ValueError,  # includes binascii.Error and UnicodeDecodeError
    struct.error,
    AttributeError,
)


class CallbackRefused(Exception):
    """A callback that must be refused (403) and not processed; `reason` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WeComConfigError(ValueError):
    """A WeCom setting that cannot work (e.g. an AES key of the wrong length)."""


def check_aes_key(encoding_aes_key: str) -> None:
    """Raise `WeComConfigError` unless the key is 43 base64 characters decoding to 32 bytes."""
    if len(encoding_aes_key) != AES_KEY_LENGTH:
        raise WeComConfigError("WECOM_AES_KEY must be exactly 43 characters (EncodingAESKey)")
    try:
        raw = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error as exc:
        raise WeComConfigError("WECOM_AES_KEY is not valid base64") from exc
    if len(raw) != 32:
        raise WeComConfigError("WECOM_AES_KEY must decode to 32 bytes")


class CallbackCrypto:
    """Verifies and decrypts WeCom callbacks for one self-built app."""

    def __init__(
        self,
        token: str,
        encoding_aes_key: str,
        corp_id: str,
        *,
        clock: Callable[[], float] = time.time,
        max_skew: int = MAX_SKEW_SECONDS,
    ) -> None:
        check_aes_key(encoding_aes_key)
        self._crypto = WeChatCrypto(token, encoding_aes_key, corp_id)
        self.corp_id = corp_id
        self.clock = clock
        self.max_skew = max_skew

    def verify_url(self, signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """The plaintext of a URL-verification echostr, or `CallbackRefused`."""
        self._check_fresh(timestamp)
        try:
            return str(self._crypto.check_signature(signature, timestamp, nonce, echostr))
        except (InvalidSignatureException, InvalidCorpIdException) as exc:
            raise CallbackRefused(_why(exc)) from None
        except _MALFORMED:
            raise CallbackRefused("malformed echostr") from None

    def decrypt_message(self, body: str | bytes, signature: str, timestamp: str, nonce: str) -> str:
        """The decrypted inner XML of a message callback, or `CallbackRefused`."""
        self._check_fresh(timestamp)
        try:
            # wechatpy takes the envelope's fields as a dict too; a flat envelope is read here,
            # faster (bot/wecom_xml.py), anything else by wechatpy as before.
            envelope = flat_fields(body)
            sealed = body if envelope is None else envelope
            plain = self._crypto.decrypt_message(sealed, signature, timestamp, nonce)
        except (InvalidSignatureException, InvalidCorpIdException) as exc:
            raise CallbackRefused(_why(exc)) from None
        except _MALFORMED:
            raise CallbackRefused("malformed body") from None
        if not isinstance(plain, str) or not plain.strip():
            raise CallbackRefused("empty message")
        return plain

    def _check_fresh(self, timestamp: str) -> None:
        try:
            sent_at = int(timestamp)
        except (TypeError, ValueError):
            raise CallbackRefused("bad timestamp") from None
        if abs(self.clock() - sent_at) > self.max_skew:
            raise CallbackRefused("stale timestamp")


def _why(exc: Exception) -> str:
    return "wrong corp id" if isinstance(exc, InvalidCorpIdException) else "bad signature"
