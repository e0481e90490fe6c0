"""Churn warnings in words: the reasons with their facts, and a suggested action."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from crm_store.retention import Reason, Warning
from crm_store.text_cut import shorten
from handlers.texts import day_text, has_text, t

SEPARATOR = {"zh": "；", "en": "; "}


def short_money(amount: Decimal | None, lang: str = "zh") -> str:
    """100万 / 35.5万 / 8,000元 in Chinese; CNY 1,000,000 in English."""
    value = Decimal(0) if amount is None else Decimal(amount)
    if lang == "en":
        return f"CNY {value:,.0f}"
    if abs(value) >= 10_000:
        wan = (value / 10_000).quantize(Decimal("0.1"))
        return f"{wan.normalize():f}万" if wan % 1 else f"{int(wan)}万"
    return f"{value:,.0f}元"


def product_text(product_type: str, lang: str = "zh") -> str:
    """定期存款 / time deposit (as the card says it; render.py imports this module)."""
    key = f"product_{product_type}"
    return t(key, lang) if has_text(key) else product_type


def _short_day(day: date | None, lang: str) -> str:
    if day is None:
        return ""
    return f"{day.day} {day.strftime('%b')}" if lang == "en" else f"{day.month}月{day.day}日"


def _quiet(w: Warning, today: date, lang: str) -> str:
    if w.last_note_on is None:
        return t("retention_never", lang)
    return t("retention_quiet_days", lang, days=(today - w.last_note_on).days)


def reason_text(r: Reason, w: Warning, today: date, lang: str = "zh") -> str:
    """One reason with its facts, e.g. 大额存单100万12月8日到期，近45天无沟通记录."""
    product = product_text(r.product_type, lang)
    if r.rule == "maturity":
        amount = short_money(r.figure, lang)
        when = _short_day(r.on, lang)
        return t("retention_maturity", lang, product=product, amount=amount, when=when,
                 quiet=_quiet(w, today, lang))  # fmt: skip
    if r.rule == "aum_drop":
        old = r.figure or Decimal(0)
        new = w.aum or Decimal(0)
        pct = int(((old - new) / old * 100).quantize(Decimal(1))) if old else 0
        return t("retention_aum_drop", lang, old=short_money(old, lang),
                 new=short_money(new, lang), pct=pct, when=_short_day(r.on, lang))  # fmt: skip
    if r.rule == "silence":
        cadence = int(r.figure or 0)
        segment = t(f"segment_{w.segment}", lang)
        return t("retention_silence", lang, segment=segment, quiet=_quiet(w, today, lang),
                 cadence=cadence)  # fmt: skip
    if r.rule == "complaint":
        matched = shorten(r.matched, 13)  # at a clause end, never inside a number or a name
        return t("retention_complaint", lang, when=_short_day(r.on, lang), matched=matched)
    return t("retention_matured", lang, product=product, amount=short_money(r.figure, lang),
             when=_short_day(r.on, lang))  # fmt: skip


def reasons_text(w: Warning, today: date, lang: str = "zh") -> str:
    """Every reason, largest amount at risk first, on one line."""
    return SEPARATOR.get(lang, "；").join(reason_text(r, w, today, lang) for r in w.reasons)


def action_text(w: Warning, lang: str = "zh") -> str:
    """The suggested action for the warning's main (largest) reason."""
    rule = w.reasons[0].rule if w.reasons else "silence"
    return t(f"retention_action_{rule}", lang)


def warning_line(w: Warning, today: date, lang: str = "zh") -> str:
    """⚠️ 张伟（风险金额120万）：…。建议：…"""
    reasons = reasons_text(w, today, lang)
    amount = short_money(w.at_risk, lang)
    action = action_text(w, lang)
    return t("retention_line", lang, name=w.customer_name, amount=amount, reasons=reasons,
             action=action)  # fmt: skip


def due_text(day: date, today: date, lang: str) -> str:
    """A due date as people say it."""
    return day_text(day, today, lang)


def digest_section(
    warnings: list[Warning], total: int, first_number: int, today: date, lang: str = "zh"
) -> list[str]:
    """The digest's 【流失预警】 lines, numbered on from `first_number`; [] if none."""
    if not warnings:
        return []
    lines = [t("digest_retention_head", lang, total=total)]
    for offset, w in enumerate(warnings):
        lines.append(f"{first_number + offset}. " + warning_line(w, today, lang))
    if total > len(warnings):
        lines.append(t("digest_retention_more", lang, more=total - len(warnings)))
    lines.append(t("digest_retention_hint", lang))
    return lines
