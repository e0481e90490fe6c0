"""Masking of phone, ID and bank card numbers, in fields and in free text."""

from __future__ import annotations

import re

from crm_store.number_spans import NumberSpan, find_numbers


def digits(value: str) -> str:
    """Only the digits (and a trailing X of an ID) of a typed number."""
    return re.sub(r"[^\dXx]", "", value).upper()


def phone_digits(phone: str) -> str:
    """A mobile number's 11 digits, without a +86 / 0086 country prefix."""
    d = re.sub(r"\D", "", phone)
    for prefix in ("0086", "86"):
        if len(d) == 11 + len(prefix) and d.startswith(prefix):
            return d[len(prefix) :]
    return d


def mask_phone(phone: str) -> str:
    """138****5678: first 3 and last 4 digits."""
    d = phone_digits(phone)
    if len(d) < 7:
        return "*" * len(d)
    return f"{d[:3]}{'*' * (len(d) - 7)}{d[-4:]}"


def mask_id_number(id_number: str) -> str:
    """ID numbers keep their first 3 and last 4 characters."""
    d = digits(id_number)
    if len(d) < 8:
        return "*" * len(d)
    return f"{d[:3]}{'*' * (len(d) - 7)}{d[-4:]}"


def mask_card(card: str) -> str:
    """Bank cards keep their first 4 and last 4 digits."""
    d = digits(card)
    return f"{d[:4]}{'*' * (len(d) - 8)}{d[-4:]}"


def mask_text(text: str) -> str:
    """Mask every phone, ID and card number found in free text, however it is typed
    (full-width, separated, with zero-width characters or in Chinese numerals)."""
    spans = find_numbers(text)
    for span in reversed(spans):
        text = text[: span.start] + _masked(span) + text[span.end :]
    return text


def _masked(span: NumberSpan) -> str:
    if span.kind == "phone":
        return mask_phone(span.value)
    if span.kind == "id":
        return mask_id_number(span.value)
    return mask_card(span.value)
