"""Text cut for length ends where a reader expects it."""

from __future__ import annotations

from crm_store.text_cut import shorten


def test_text_that_fits_is_left_alone() -> None:
    assert shorten("客户想了解大额存单", 20) == "客户想了解大额存单"


def test_a_cut_ends_at_a_clause_end() -> None:
    assert shorten("刚和赵敏通话，她想了解大额存单和国债，下周二回访", 12) == "刚和赵敏通话…"


def test_a_cut_never_ends_inside_a_number() -> None:
    cut = shorten("客户房贷利率3.85%想转按揭后再说", 10)
    assert cut == "客户房贷利率…"


def test_a_cut_never_ends_inside_a_latin_word() -> None:
    cut = shorten("刚和赵敏通话HEJUNJIE也在", 13)
    assert cut == "刚和赵敏通话…"
