"""Turning typed phone and ID numbers into the stored columns (ciphertext, mask, last 4)."""

from __future__ import annotations

from typing import Any

from crm_store.crypto import FieldCipher
from crm_store.masking import digits, mask_id_number, mask_phone, phone_digits


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
        "id_number_masked": mask_id_number(d),
        "id_number_last4": d[-4:],
    }
