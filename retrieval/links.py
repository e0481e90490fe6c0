"""Link and image stripping for outgoing text: only allow-listed hosts survive.

A reply written by an LLM (or quoting a planted note) could carry a tracking image or a
phishing link; WeCom and Telegram render markdown and auto-link bare URLs. Everything that
points elsewhere than an allow-listed host (`LLM_ALLOWED_LINK_HOSTS`) is removed.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# URL characters stop at whitespace, brackets, quotes and any non-ASCII character, so
# "http://x.example点击" ends before the Chinese text.
_URL_CHARS = r"[^\s<>\"'`()\[\]{}\u0080-\U0010ffff]"
_TARGET = r"\(\s*<?((?:[^()\s<>]|\([^()\s<>]*\))*)>?(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'))?\s*\)"
_MD_IMAGE = re.compile(r"!\[([^\[\]\n]*)\]" + _TARGET)
_MD_LINK = re.compile(r"\[([^\[\]\n]*)\]" + _TARGET)
_HTML = re.compile(
    r"<\s*/?\s*(?:a|img|image|iframe|script|svg|object|embed|video|audio|source)\b[^>]*>", re.I
)
_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.\-]*:[^<>\s]*)>")
_SCHEME_URL = re.compile(r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]*://" + _URL_CHARS + "*")
_WWW = re.compile(r"(?<![A-Za-z0-9.\-@/])www\." + _URL_CHARS + "+", re.I)
# Bare "host.tld/path" that chat apps auto-link: common top-level domains only, so
# "3.5%" or "v1.2" are left alone.
_TLDS = (
    "com|cn|net|org|io|co|me|info|biz|xyz|top|cc|tv|app|dev|ly|gl|to|link|site|online|vip|"
    "shop|club|store|ru|uk|de|jp|hk|tw|sg|us|example"
)
_BARE_HOST = re.compile(
    r"(?<![A-Za-z0-9.\-@/])(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+"
    rf"(?:{_TLDS})(?::\d{{1,5}})?(?![A-Za-z0-9\-])(?:/{_URL_CHARS}*)?",
    re.I,
)
_HOSTNAME = re.compile(r"[a-z0-9](?:[a-z0-9.\-]*[a-z0-9])?")


def host_allowed(url: str, allowed_hosts: frozenset[str]) -> bool:
    """An http(s) URL whose host is an allowed host or one of its subdomains."""
    if not allowed_hosts:
        return False
    if "://" not in url:
        url = f"http://{url}"
    if "\\" in url:  # browsers read a backslash as "/", so "evil<backslash>@bank.com" is evil
        return False
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return False
    if parts.scheme.lower() not in {"http", "https"} or "@" in parts.netloc:
        return False
    if not _HOSTNAME.fullmatch(host):
        return False
    allowed = {h.lower().rstrip(".") for h in allowed_hosts}
    return any(host == h or host.endswith(f".{h}") for h in allowed if h)


def strip_links(text: str, allowed_hosts: frozenset[str] = frozenset()) -> str:
    """`text` without markdown links/images, HTML links and bare URLs to other hosts."""

    def image(m: re.Match[str]) -> str:
        return m.group(0) if _target_allowed(m.group(2), allowed_hosts) else ""

    def link(m: re.Match[str]) -> str:
        return m.group(0) if _target_allowed(m.group(2), allowed_hosts) else m.group(1)

    def bare(m: re.Match[str]) -> str:
        return m.group(0) if host_allowed(m.group(0), allowed_hosts) else ""

    def autolink(m: re.Match[str]) -> str:
        return m.group(0) if host_allowed(m.group(1), allowed_hosts) else ""

    text = _MD_IMAGE.sub(image, text)
    text = _MD_LINK.sub(link, text)
    text = _HTML.sub("", text)
    text = _AUTOLINK.sub(autolink, text)
    # Links to allowed hosts kept above are checked again here and kept again.
    text = _SCHEME_URL.sub(bare, text)
    text = _WWW.sub(bare, text)
    return _BARE_HOST.sub(bare, text)


def _target_allowed(target: str, allowed_hosts: frozenset[str]) -> bool:
    return "://" in target and host_allowed(target, allowed_hosts)
