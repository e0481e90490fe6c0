"""Turning typed phone and ID numbers into the stored columns (ciphertext, mask, last 4)."""

from __future__ import annotations

from typing import Any

from crm_store.crypto import FieldCipher
from crm_store.masking import digits, mask_phone, phone_digits


def phone_columns(cipher: FieldCipher, phone: str | None) -> dict[str, Any]:
    """Stored columns for a phone number; all None when not given."""
    if not phone:
        return {"phone_enc": None, "phone_masked": None, "phone_last4": None}
    d = phone_digits(phone)
    return {"phone_enc": cipher.encrypt(d), "phone_masked": mask_phone(d), "phone_last4": d[-4:]}


def id_number_columns(cipher: FieldCipher, id_number: str | None) -> dict[str, Any]:
    """Stored columns for an ID number; all None when not given."""
    if not id_number:
        return {"id_number_enc": None, "id_number_masked": None, "id_number_last4": None}
    d = digits(id_number)
    return {
        "id_number_enc": cipher.encrypt(d),
        "id_number_masked": id_number_shown(d),
        "id_number_last4": d[-4:],
    }


def id_number_shown(id_number: str) -> str:
    """The stored and displayed form of an ID number: its last 4 characters only.

    The first 3 digits (the province and city) with the last 4 (sequence and check digit) and
    the birthday narrowed a Shanghai ID to about 2 candidates; the last 4 alone with a birth
    month and day leave hundreds.
    """
    d = digits(id_number)
    return "*" * max(len(d) - 4, 0) + d[-4:]
