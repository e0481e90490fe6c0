"""Callback crypto: WeCom's public known-answer vectors, and every way a callback is refused."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from wechatpy.crypto import _get_signature

from bot.wecom_crypto import CallbackCrypto, CallbackRefused, WeComConfigError
from tests.wecom.fakes import AES_KEY, CORP_ID, PAYLOADS, TOKEN, envelope, payload, text_xml

KAT: dict[str, Any] = json.loads((PAYLOADS / "crypto-known-answers.json").read_text())


def kat_crypto(timestamp: str, corp_id: str | None = None) -> CallbackCrypto:
    """The vectors' crypto with a clock standing at `timestamp`."""
    now = float(timestamp)
    corp = corp_id or KAT["corp_id"]
    return CallbackCrypto(KAT["token"], KAT["encoding_aes_key"], corp, clock=lambda: now)


def test_url_verification_known_answer() -> None:
    v = KAT["url_verification"]
    crypto = kat_crypto(v["timestamp"])
    plain = crypto.verify_url(v["msg_signature"], v["timestamp"], v["nonce"], v["echostr"])
    assert plain == v["expected_plaintext"]


def test_message_decryption_known_answer() -> None:
    m = KAT["message"]
    crypto = kat_crypto(m["timestamp"])
    plain = crypto.decrypt_message(m["body"], m["msg_signature"], m["timestamp"], m["nonce"])
    assert plain == m["expected_plaintext"]


def test_tampered_signature_is_refused() -> None:
    t = KAT["tampered_signature_must_fail"]
    with pytest.raises(CallbackRefused) as refused:
        kat_crypto(t["timestamp"]).verify_url(
            t["msg_signature"], t["timestamp"], t["nonce"], t["echostr"]
        )
    assert refused.value.reason == "bad signature"


def test_tampered_message_signature_is_refused() -> None:
    m = KAT["message"]
    bad = "0" * 40
    with pytest.raises(CallbackRefused, match="bad signature"):
        kat_crypto(m["timestamp"]).decrypt_message(m["body"], bad, m["timestamp"], m["nonce"])


def test_wrong_corp_id_is_refused_like_a_bad_signature() -> None:
    m = KAT["message"]
    crypto = kat_crypto(m["timestamp"], corp_id="ww0000000000000000")
    with pytest.raises(CallbackRefused) as refused:
        crypto.decrypt_message(m["body"], m["msg_signature"], m["timestamp"], m["nonce"])
    assert refused.value.reason == "wrong corp id"
    v = KAT["url_verification"]
    with pytest.raises(CallbackRefused, match="wrong corp id"):
        kat_crypto(v["timestamp"], corp_id="ww0000000000000000").verify_url(
            v["msg_signature"], v["timestamp"], v["nonce"], v["echostr"]
        )


@pytest.mark.parametrize("skew", [-301, 301, 86_400])
def test_timestamp_more_than_300_s_off_is_refused(skew: int) -> None:
    m = KAT["message"]
    crypto = kat_crypto(str(int(m["timestamp"]) - skew))
    with pytest.raises(CallbackRefused, match="stale timestamp"):
        crypto.decrypt_message(m["body"], m["msg_signature"], m["timestamp"], m["nonce"])


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_timestamp_within_300_s_is_accepted(skew: int) -> None:
    m = KAT["message"]
    crypto = kat_crypto(str(int(m["timestamp"]) - skew))
    assert "messense" in crypto.decrypt_message(
        m["body"], m["msg_signature"], m["timestamp"], m["nonce"]
    )


def test_round_trip_with_the_recorded_text_message() -> None:
    inner = text_xml("wangfang", "查一下张伟", "7434873429347234234", 1764554400)
    params, body = envelope(inner, timestamp=1764554400)
    crypto = CallbackCrypto(TOKEN, AES_KEY, CORP_ID, clock=lambda: 1764554400.0)
    plain = crypto.decrypt_message(body, params["msg_signature"], params["timestamp"], "1372623149")
    assert plain == inner and "<ToUserName><![CDATA[ww1234567890abcdef]]>" in body.decode()


def signed(encrypt: str, timestamp: str = "1411525903", nonce: str = "1") -> tuple[str, bytes]:
    """A correctly signed envelope around an arbitrary Encrypt value."""
    body = (
        f"<xml><ToUserName><![CDATA[x]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    )
    return _get_signature(KAT["token"], timestamp, nonce, encrypt), body.encode()


@pytest.mark.parametrize(
    "encrypt",
    [
        "not base64 at all!",
        base64.b64encode(b"short").decode(),  # not a whole AES block
        base64.b64encode(b"\x00" * 32).decode(),  # decrypts to garbage
    ],
)
def test_malformed_ciphertext_with_a_valid_signature_is_refused(encrypt: str) -> None:
    signature, body = signed(encrypt)
    with pytest.raises(CallbackRefused):
        kat_crypto("1411525903").decrypt_message(body, signature, "1411525903", "1")
    # Sealed (serve's journal): the signature lets it through the door; opening refuses it.
    crypto = kat_crypto("1411525903")
    assert crypto.check_sealed(body, signature, "1411525903", "1") == encrypt
    with pytest.raises(CallbackRefused):
        crypto.open_sealed(encrypt)


def test_the_door_checks_without_decrypting_and_opening_gives_the_known_answer() -> None:
    m = KAT["message"]
    crypto = kat_crypto(m["timestamp"])
    sealed = crypto.check_sealed(m["body"], m["msg_signature"], m["timestamp"], m["nonce"])
    assert "<xml" not in sealed and crypto.open_sealed(sealed) == m["expected_plaintext"]
    with pytest.raises(CallbackRefused) as refused:
        crypto.check_sealed(m["body"], "0" * 40, m["timestamp"], m["nonce"])
    assert refused.value.reason == "bad signature"


@pytest.mark.parametrize(
    "body", [b"", b"not xml", b"<xml><Other>1</Other></xml>", b"<a><xml/></a>", b"\xff\xfe"]
)
def test_malformed_xml_is_refused(body: bytes) -> None:
    m = KAT["message"]
    with pytest.raises(CallbackRefused):
        kat_crypto(m["timestamp"]).decrypt_message(body, m["msg_signature"], m["timestamp"], "1")


@pytest.mark.parametrize("timestamp", ["", "abc", "1411525903.5"])
def test_unreadable_timestamp_is_refused(timestamp: str) -> None:
    m = KAT["message"]
    with pytest.raises(CallbackRefused, match="bad timestamp"):
        kat_crypto(m["timestamp"]).decrypt_message(m["body"], m["msg_signature"], timestamp, "1")


@pytest.mark.parametrize("key", ["short", AES_KEY + "A", "!" * 43])
def test_unusable_aes_key_is_a_clear_configuration_error(key: str) -> None:
    with pytest.raises(WeComConfigError, match="WECOM_AES_KEY"):
        CallbackCrypto(TOKEN, key, CORP_ID)


def test_recorded_payload_shapes_are_present() -> None:
    assert "<MsgId>" not in payload("event-enter-agent.xml")  # events dedupe by sender + time
    assert "<Encrypt>" in payload("outer-envelope.xml")
