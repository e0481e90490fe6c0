"""The morning digest as a person reads it, numbered for '完成 N' and '推迟 N 3天'."""

from __future__ import annotations

from datetime import date

from handlers.render import product_text
from handlers.retention_text import digest_section
from handlers.team_report import weekly_text
from handlers.texts import day_text, money_text, t
from scheduler.digest import DigestContent, DigestEntry


def _line(number: int, e: DigestEntry, today: date, lang: str) -> str:
    when = day_text(e.on, today, lang)
    if e.kind == "birthday":
        key = "digest_birthday_lunar" if e.calendar == "lunar" else "digest_birthday"
        return f"{number}. " + t(key, lang, name=e.customer_name, when=when)
    if e.kind == "maturity":
        amount = money_text(e.amount, e.currency, lang) if e.amount is not None else ""
        product = product_text(e.product_type, lang)
        return f"{number}. " + t(
            "digest_maturity",
            lang,
            name=e.customer_name,
            product=product,
            product_name=e.product_name,
            amount=amount,
            when=when,
        )
    if e.kind == "overdue":
        days = (today - e.on).days
        return f"{number}. " + t(
            "digest_overdue", lang, name=e.customer_name, summary=e.summary, days=days
        )
    return f"{number}. " + t("digest_followup", lang, name=e.customer_name, summary=e.summary)


def digest_text(content: DigestContent, channel: str, lang: str = "zh") -> str:
    """Plain text that reads well on a phone in WeCom, Telegram and the console."""
    today = content.business_date
    title = t("digest_title", lang, name=content.recipient_name, today=day_text(today, today, lang))
    lines = [title]
    if content.late:
        lines.append(t("digest_late", lang))
    number = 0
    for key, entries in (("digest_today", content.today), ("digest_coming", content.coming)):
        if entries:
            lines.append(t(key, lang))
        for entry in entries:
            number += 1
            lines.append(_line(number, entry, today, lang))
    if content.overdue:
        lines.append(t("digest_overdue_head", lang, total=content.overdue_total))
        for entry in content.overdue:
            number += 1
            lines.append(_line(number, entry, today, lang))
    warned = [e.warning for e in content.retention if e.warning is not None]
    lines += digest_section(warned, content.retention_total, number + 1, today, lang)
    if content.entries:
        lines.append(t("digest_hint", lang))
    if content.report is not None:
        lines.append(weekly_text(content.report, today, lang))
    return "\n".join(lines)
