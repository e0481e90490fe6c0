"""Masking of phone, ID and bank card numbers, in fields and in free text."""

from __future__ import annotations

import re

# Mainland mobile numbers (optionally +86), 18-digit resident IDs (last may be X), and
# bank card numbers (16-19 digits, optionally grouped by 4). Order matters: IDs before cards.
_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)")
_ID = re.compile(r"(?<![\dA-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![\dA-Za-z])")
_CARD = re.compile(r"(?<!\d)(\d{4})(?:[ -]?\d{4}){2}[ -]?\d{0,3}[ -]?(\d{4})(?!\d)")


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
    """Mask every phone, ID and card number found in free text."""
    text = _ID.sub(lambda m: mask_id_number(m.group(0)), text)
    text = _PHONE.sub(lambda m: mask_phone(m.group(1) + m.group(2) + m.group(3)), text)
    return _CARD.sub(lambda m: mask_card(m.group(0)), text)
