"""Pinyin of customer names, for matching typed names and pinyin input."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=65_536)
def name_pinyin(name: str) -> str:
    """Tone-less pinyin without spaces, lower case: 张伟 -> zhangwei."""
    # pypinyin loads its phrase dictionary on import (0.3 s): only a name miss or an import
    # needs it, never a CLI start.
    from pypinyin import Style, lazy_pinyin

    return "".join(lazy_pinyin(name, style=Style.NORMAL, errors="default")).lower().replace(" ", "")
