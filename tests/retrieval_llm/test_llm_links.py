"""Link and image stripping: only allow-listed hosts survive, whatever the markup."""

from __future__ import annotations

import pytest

from retrieval.answer import strip_links
from retrieval.links import host_allowed

BANK = frozenset({"bank.example.com"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("点击 ![x](http://evil.example/p.png) [这里](http://evil.example)", "点击  这里"),
        ("看http://evil.example/a?b=1点击", "看点击"),
        ("访问evil.com/path，或 www.evil.cn。", "访问，或 。"),
        ('<img src="http://evil/p.png"><a href="http://e">t</a>', "t"),
        ("<https://evil.example/x> [x](javascript:alert(1)) [y](evil.com)", " x y"),
        ("http://bank.example.com@evil.com", ""),
        ("http://evil.com\\@bank.example.com", ""),
        ("http://bank.example.com.evil.io/x", ""),
        ("邮箱 a@b.com，版本v1.2，收益3.5%", "邮箱 a@b.com，版本v1.2，收益3.5%"),
        ("[手册](https://docs.bank.example.com/a)", "[手册](https://docs.bank.example.com/a)"),
        ("见 https://bank.example.com/x。", "见 https://bank.example.com/x。"),
        ("![logo](https://bank.example.com/l.png)", "![logo](https://bank.example.com/l.png)"),
    ],
)
def test_strip_links(text: str, expected: str) -> None:
    assert strip_links(text, BANK) == expected
    assert strip_links(expected, BANK) == expected  # idempotent: the guard may run it again


def test_nothing_is_allowed_by_default() -> None:
    assert strip_links("[手册](https://bank.example.com/a) https://bank.example.com") == "手册 "


def test_host_allowed_needs_http_and_an_exact_host_or_subdomain() -> None:
    assert host_allowed("https://BANK.example.com./x", BANK)
    assert host_allowed("https://a.bank.example.com", BANK)
    assert not host_allowed("https://notbank.example.com", BANK)
    assert not host_allowed("ftp://bank.example.com", BANK)
    assert not host_allowed("https://bank.example.com", frozenset())
