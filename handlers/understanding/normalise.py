"""A normalised copy of a message for reading; the message itself is kept as typed."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Any

from handlers.dates import _jio

# Zero-width and other format characters (Cf) that hide inside names and numbers.
_SPACE_BETWEEN_CJK = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
_SPACES = re.compile(r"\s+")


def _drop_format_chars(text: str) -> str:
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


@cache
def _tra2sim() -> Any:
    return _jio().tra2sim


def simplified(text: str) -> str:
    """Traditional characters as simplified ones (張偉 -> 张伟), character by character."""
    if all(ord(ch) < 0x3400 for ch in text):
        return text
    try:
        return str(_tra2sim()(text, mode="char"))
    except Exception:  # a conversion table problem must never stop a message
        return text


def clean(text: str) -> str:
    """NFKC (full-width to half-width), no format characters, simplified Chinese, no spaces
    between Chinese characters ("张 伟" -> "张伟"), other whitespace collapsed."""
    text = unicodedata.normalize("NFKC", _drop_format_chars(text))
    text = simplified(text)
    text = _SPACE_BETWEEN_CJK.sub("", text)
    return _SPACES.sub(" ", text).strip()
