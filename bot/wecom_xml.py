"""WeCom's callback XML read with the standard library's C parser, into what wechatpy reads.

wechatpy parses with xmltodict, which builds its dict in Python callbacks: about 15 us for
the envelope and as much again for the message, on the path every callback waits on before
its acknowledgement. A callback is one `<xml>` element of text children, so ElementTree
(expat, as xmltodict) reads it into the same dict: each text stripped of surrounding
whitespace, empty as None (xmltodict's `strip_whitespace`). Anything else, a nested element
(some events' ScanCodeInfo or SendPicsInfo), an attribute or a repeated tag, goes to
wechatpy's own parser unchanged.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from wechatpy.enterprise import parse_message
from wechatpy.enterprise.events import EVENT_TYPES
from wechatpy.enterprise.messages import MESSAGE_TYPES
from wechatpy.messages import UnknownMessage


def flat_fields(xml: str | bytes) -> dict[str, str | None] | None:
    """The text children of a flat `<xml>` element; None when it is not flat. Raises
    `ET.ParseError` for malformed XML."""
    root = ET.fromstring(xml)
    if root.tag != "xml" or root.attrib or (root.text or "").strip():
        return None
    fields: dict[str, str | None] = {}
    for child in root:
        if len(child) or child.attrib or child.tag in fields:
            return None
        fields[child.tag] = (child.text or "").strip() or None
    return fields


def parse_callback_message(xml: str) -> Any:
    """The decrypted message as wechatpy's `parse_message` gives it (a message or event
    object), or None for empty XML."""
    if not xml:
        return None
    fields = flat_fields(xml)
    if fields is None:
        return parse_message(xml)
    kind = str(fields["MsgType"]).lower()  # no MsgType: KeyError, as wechatpy raises
    if kind == "event":
        return EVENT_TYPES.get(str(fields["Event"]).lower(), UnknownMessage)(fields)
    return MESSAGE_TYPES.get(kind, UnknownMessage)(fields)
