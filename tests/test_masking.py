"""Masking of personal numbers, in fields and in free text."""

from __future__ import annotations

import pytest

from crm_store.masking import mask_card, mask_id_number, mask_phone, mask_text


def test_field_masks() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+86 138-1234-5678") == "138****5678"
    assert mask_id_number("31010119800101123X") == "310***********123X"
    assert mask_card("6222 0212 3456 7890 123") == "6222***********0123"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("客户手机13812345678请回电", "客户手机138****5678请回电"),
        ("电话 +86 138 1234 5678。", "电话 138****5678。"),
        ("身份证31010119800101123X已核验", "身份证310***********123X已核验"),
        ("身份证号310101198001011234", "身份证号310***********1234"),
        ("卡号6222021234567890123到账", "卡号6222***********0123到账"),
        ("卡号 6222 0212 3456 7890", "卡号 6222********7890"),
        ("金额500000元，利率2.15%", "金额500000元，利率2.15%"),
        ("尾号5678", "尾号5678"),
        ("订单号20261128", "订单号20261128"),
    ],
)
def test_text_masking(text: str, expected: str) -> None:
    assert mask_text(text) == expected


def test_masking_is_idempotent() -> None:
    once = mask_text("13812345678 和 31010119800101123X")
    assert mask_text(once) == once
