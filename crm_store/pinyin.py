"""Pinyin of customer names, for matching typed names and pinyin input."""

from __future__ import annotations

from functools import lru_cache

from pypinyin import Style, lazy_pinyin


@lru_cache(maxsize=65_536)
def name_pinyin(name: str) -> str:
    """Tone-less pinyin without spaces, lower case: 张伟 -> zhangwei."""
    return "".join(lazy_pinyin(name, style=Style.NORMAL, errors="default")).lower().replace(" ", "")
