"""WeCom callback crypto: signature, corp id and freshness checks around wechatpy's cipher.

wechatpy raises unrelated exception classes for a bad signature and a wrong corp id, lets
malformed XML or base64 escape as whatever the parser raises, and never looks at the timestamp.
Everything that must refuse a callback becomes one `CallbackRefused(reason)` here.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import struct
import time
from collections.abc import Callable
from xml.etree.ElementTree import ParseError
from xml.parsers.expat import ExpatError

import xmltodict
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import WeChatSigner

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
        return self.open_sealed(self.check_sealed(body, signature, timestamp, nonce))

    def check_sealed(self, body: str | bytes, signature: str, timestamp: str, nonce: str) -> str:
        """The envelope's still encrypted message once its signature and timestamp hold, or
        `CallbackRefused`: what an acknowledgement needs, without the decryption."""
        self._check_fresh(timestamp)
        try:
            sealed = _envelope(body)["Encrypt"]
            if not isinstance(sealed, str) or not sealed:
                raise ValueError("no Encrypt")
            signer = WeChatSigner()
            signer.add_data(self._crypto.token, timestamp, nonce, sealed)
            expected = str(signer.signature)
        except _MALFORMED:
            raise CallbackRefused("malformed body") from None
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise CallbackRefused("bad signature")
        return sealed

    def open_sealed(self, sealed: str) -> str:
        """The inner XML of a message `check_sealed` let through, or `CallbackRefused`."""
        try:
            plain = PrpCrypto(self._crypto.key).decrypt(sealed, self.corp_id)
        except InvalidCorpIdException as exc:
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


def _envelope(body: str | bytes) -> dict[str, object]:
    """The envelope's fields: a flat one read here (bot/wecom_xml.py, faster), anything else
    as wechatpy reads it."""
    fields = flat_fields(body)
    if fields is not None:
        return dict(fields)
    parsed = xmltodict.parse(body)["xml"]
    if not isinstance(parsed, dict):
        raise TypeError("not an envelope")
    return parsed


def _why(exc: Exception) -> str:
    return "wrong corp id" if isinstance(exc, InvalidCorpIdException) else "bad signature"
