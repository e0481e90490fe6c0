"""The callback XML read with ElementTree gives what wechatpy's own parser gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from wechatpy.enterprise import parse_message

from bot.wecom_crypto import CallbackCrypto, CallbackRefused
from bot.wecom_xml import flat_fields, parse_callback_message
from tests.wecom.fakes import AES_KEY, CORP_ID, TOKEN, envelope, text_xml

PAYLOADS = Path(__file__).parents[1] / "payloads" / "wecom"
RECORDED = ["text-message.xml", "voice-message.xml", "event-enter-agent.xml"]
SHAPES = [
    # whitespace around and inside a text, an empty and a blank element
    "<xml><FromUserName>wangfang</FromUserName><MsgType>text</MsgType>"
    "<Content><![CDATA[  刚和张伟通话\n下周二回访  ]]></Content><MsgId>1</MsgId>"
    "<AgentID></AgentID><ToUserName>  </ToUserName></xml>",
    # an unknown message type and an unknown event
    "<xml><FromUserName>u</FromUserName><MsgType>hologram</MsgType></xml>",
    "<xml><FromUserName>u</FromUserName><MsgType>event</MsgType><Event>NEW_THING</Event></xml>",
    # nested (a scan-code event): wechatpy's parser, unchanged
    "<xml><FromUserName>u</FromUserName><MsgType>event</MsgType><Event>scancode_push</Event>"
    "<ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult>1</ScanResult></ScanCodeInfo></xml>",
    # a repeated tag: xmltodict makes a list, so wechatpy's parser
    "<xml><FromUserName>u</FromUserName><MsgType>text</MsgType><Content>a</Content>"
    "<Content>b</Content></xml>",
]


@pytest.mark.parametrize(
    "xml", [(PAYLOADS / name).read_text(encoding="utf-8") for name in RECORDED] + SHAPES
)
def test_a_message_reads_as_wechatpy_reads_it(xml: str) -> None:
    ours, theirs = parse_callback_message(xml), parse_message(xml)
    assert type(ours) is type(theirs)
    assert dict(ours._data) == dict(theirs._data)
    assert (ours.source, ours.id, ours.time) == (theirs.source, theirs.id, theirs.time)


def test_only_a_flat_xml_element_is_read_here() -> None:
    assert flat_fields("<xml><a>1</a></xml>") == {"a": "1"}
    assert flat_fields("<xml><a><b>1</b></a></xml>") is None
    assert flat_fields('<xml><a kind="x">1</a></xml>') is None
    assert flat_fields("<other><a>1</a></other>") is None
    assert flat_fields("<xml>stray text<a>1</a></xml>") is None


def test_a_message_without_a_type_fails_as_wechatpy_fails() -> None:
    with pytest.raises(KeyError):
        parse_callback_message("<xml><FromUserName>u</FromUserName></xml>")


def test_an_envelope_is_read_here_or_by_wechatpy_and_malformed_ones_are_refused() -> None:
    crypto = CallbackCrypto(TOKEN, AES_KEY, CORP_ID)
    inner = text_xml("wangfang", "你好", "42", 1764554401)
    params, body = envelope(inner)
    sign = (params["msg_signature"], params["timestamp"], params["nonce"])
    crypto.clock = lambda: float(params["timestamp"])
    assert crypto.decrypt_message(body, *sign) == inner
    # an envelope with a nested element goes to wechatpy's parser, with the same answer
    nested = body.replace(b"</xml>", b"<Extra><A>1</A></Extra></xml>")
    assert crypto.decrypt_message(nested, *sign) == inner
    for bad in (b"<xml><Encrypt>", b"not xml", b"<xml><ToUserName>x</ToUserName></xml>"):
        with pytest.raises(CallbackRefused):
            crypto.decrypt_message(bad, *sign)
