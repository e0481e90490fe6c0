"""Splitting long replies for platforms with a per-message size limit (WeCom: 2048 bytes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

Measure = Callable[[str], int]


def utf8_size(text: str) -> int:
    """Length in UTF-8 bytes."""
    return len(text.encode())


def split_utf8(text: str, limit: int) -> list[str]:
    """Chunks of at most `limit` UTF-8 bytes, cut at line breaks where possible and never
    inside a character; joined they equal `text`."""
    return split_text(text, limit, utf8_size)


def split_text(text: str, limit: int, measure: Measure = len) -> list[str]:
    """Chunks whose `measure` is at most `limit`, preferring line breaks; joined, `text`."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.splitlines(keepends=True):
        for piece in _pieces(line, limit, measure):
            length = measure(piece)
            if current and size + length > limit:
                chunks.append("".join(current))
                current, size = [], 0
            current.append(piece)
            size += length
    if current:
        chunks.append("".join(current))
    return chunks


def _pieces(line: str, limit: int, measure: Measure) -> Iterator[str]:
    """A line longer than `limit` cut between characters."""
    if measure(line) <= limit:
        yield line
        return
    piece: list[str] = []
    size = 0
    for char in line:
        length = measure(char)
        if piece and size + length > limit:
            yield "".join(piece)
            piece, size = [], 0
        piece.append(char)
        size += length
    if piece:
        yield "".join(piece)
