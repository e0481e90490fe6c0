"""A normalised copy of a message for reading; the message itself is kept as typed."""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from functools import cache
from pathlib import Path

# Zero-width and other format characters (Cf) that hide inside names and numbers.
_SPACE_BETWEEN_CJK = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
_SPACES = re.compile(r"\s+")


def _drop_format_chars(text: str) -> str:
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


@cache
def _tra2sim() -> dict[str, str]:
    """jionlp's character table (what `jio.tra2sim(mode="char")` uses), read from its file:
    importing jionlp would cost every message read in a fresh process 0.3-0.5 s."""
    spec = importlib.util.find_spec("jionlp")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / "dictionary" / "tra2sim_char.txt"
    pairs = (line.strip().split("\t") for line in path.read_text(encoding="utf-8").splitlines())
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2}


def simplified(text: str) -> str:
    """Traditional characters as simplified ones (張偉 -> 张伟), character by character."""
    if all(ord(ch) < 0x3400 for ch in text):
        return text
    try:
        table = _tra2sim()
    except Exception:  # a conversion table problem must never stop a message
        return text
    return "".join(table.get(ch, ch) for ch in text)


def clean(text: str) -> str:
    """NFKC (full-width to half-width), no format characters, simplified Chinese, no spaces
    between Chinese characters ("张 伟" -> "张伟"), other whitespace collapsed."""
    text = unicodedata.normalize("NFKC", _drop_format_chars(text))
    text = simplified(text)
    text = _SPACE_BETWEEN_CJK.sub("", text)
    return _SPACES.sub(" ", text).strip()
