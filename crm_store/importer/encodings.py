"""Which text encoding an import file is in: what Chinese offices' spreadsheets save.

Deterministic, without guessing from statistics: a byte-order mark decides (UTF-8, or
UTF-16 as in Excel's "Unicode text"); otherwise strict UTF-8, then strict GB18030 (a superset
of GBK and GB2312, what Excel writes as "CSV" in a Chinese locale). Chinese text in GB18030
is almost never valid UTF-8, while GB18030 accepts most byte strings, so UTF-8 goes first.
"""

from __future__ import annotations

import codecs

UTF8 = "UTF-8"
UTF8_BOM = "UTF-8 (BOM)"
UTF16_LE = "UTF-16LE (BOM)"
UTF16_BE = "UTF-16BE (BOM)"
GB18030 = "GB18030"

# (byte-order mark, codec, name shown to the user); UTF-32 is not offered by Excel.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig", UTF8_BOM),
    (codecs.BOM_UTF16_LE, "utf-16", UTF16_LE),
    (codecs.BOM_UTF16_BE, "utf-16", UTF16_BE),
)
_WITHOUT_BOM = (("utf-8", UTF8), ("gb18030", GB18030))


def decode_text(data: bytes) -> tuple[str, str] | None:
    """(encoding name, text) of a file's bytes, or None when no supported encoding fits."""
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            try:
                return name, data.decode(codec)
            except UnicodeDecodeError:
                return None  # a mark that lies: refuse rather than guess
    for codec, name in _WITHOUT_BOM:
        try:
            return name, data.decode(codec)
        except UnicodeDecodeError:
            continue
    return None
