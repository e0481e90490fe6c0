"""Turning store results into the text a relationship manager reads on a phone.

Every word comes from handlers/texts.py; `lang` is "zh" (default) or "en".
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo

from crm_store.agenda import BirthdayLine, MaturityLine
from crm_store.cards import CustomerCard, FollowUpLine
from crm_store.customers import CustomerSummary
from handlers.retention_text import reasons_text
from handlers.texts import day_text, has_text, money_text, t

PRODUCT_TYPES = ("time_deposit", "large_cd", "wealth_management", "fund", "insurance", "loan")


def product_text(product_type: str, lang: str = "zh") -> str:
    """定期存款 / time deposit; an unknown product type is shown as stored."""
    key = f"product_{product_type}"
    return t(key, lang) if has_text(key) else product_type


# Chinese names by product type, kept for callers that read the mapping directly.
PRODUCT_NAMES = {p: product_text(p) for p in PRODUCT_TYPES}


def segment_text(segment: str, lang: str = "zh") -> str:
    """VIP / 普通客户 / 潜在客户 (VIP / regular / prospect)."""
    return t(f"segment_{segment}", lang)


def summary_line(index: int, c: CustomerSummary, lang: str = "zh") -> str:
    """One numbered choice: enough to tell two 王芳 apart, no full personal number."""
    return t(
        "summary_line",
        lang,
        index=index,
        name=c.name,
        segment=segment_text(c.segment, lang),
        phone=c.phone_masked or t("none", lang),
        branch=c.branch_name,
        owner=c.owner_name,
    )


def _birthday_line(card: CustomerCard, today: date, lang: str = "zh") -> str | None:
    if card.next_birthday is None:
        return None
    calendar = t(f"calendar_{card.birthday_calendar}", lang)
    days = (card.next_birthday - today).days
    if days == 0:
        return t("card_birthday_today", lang, calendar=calendar)
    return t(
        "card_birthday_one_day" if days == 1 else "card_birthday",
        lang,
        on=day_text(card.next_birthday, today, lang),
        calendar=calendar,
        days=days,
    )


def card_text(card: CustomerCard, today: date, lang: str = "zh", *, tz: tzinfo) -> str:
    """The customer card, in the order an RM scans it; notes dated in the bank's time zone
    `tz` (a call at 01:00 Beijing time is stored on the day before in UTC)."""
    unknown = t("unknown_value", lang)
    lines = [
        t(
            "card_head",
            lang,
            name=card.name,
            segment=segment_text(card.segment, lang),
            risk=card.risk_level or unknown,
            aum=money_text(card.aum, lang=lang) if card.aum is not None else unknown,
        ),
        t(
            "card_contact",
            lang,
            phone=card.phone_masked or t("none", lang),
            id_number=card.id_number_masked or t("none", lang),
            branch=card.branch_name,
            owner=card.owner_name,
        ),
    ]
    if card.tags:
        lines.append(t("card_tags", lang, tags=t("tag_separator", lang).join(card.tags.split(";"))))
    birthday = _birthday_line(card, today, lang)
    if birthday:
        lines.append(birthday)
    if card.warning is not None:
        lines.append(t("retention_card", lang, reasons=reasons_text(card.warning, today, lang)))
    lines.append(t("card_maturing", lang) if card.maturing else t("card_no_maturing", lang))
    for h in card.maturing:
        lines.append(
            t(
                "card_holding",
                lang,
                kind=product_text(h.product_type, lang),
                product=h.product_name,
                amount=money_text(h.amount, h.currency, lang),
                due=day_text(h.maturity_date, today, lang) if h.maturity_date else "",
            )
        )
    lines.append(t("card_notes", lang) if card.notes else t("card_no_notes", lang))
    for n in card.notes:
        date_text = business_day(n.occurred_at, tz).isoformat()
        lines.append(t("card_note", lang, date=date_text, staff=n.staff_name, content=n.content))
    if card.followups:
        lines.append(t("card_followups", lang))
        lines.extend(followup_line(None, f, today, lang) for f in card.followups)
    return "\n".join(lines)


def business_day(moment: datetime, tz: tzinfo) -> date:
    """The date of a stored moment (UTC; a naive one is read as UTC) in the time zone `tz`."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(tz).date()


def followup_line(index: int | None, f: FollowUpLine, today: date, lang: str = "zh") -> str:
    """A follow-up as a list line; overdue ones say by how many days."""
    prefix = f"{index}. " if index is not None else "  • "
    late = (today - f.due_on).days
    if late > 0:
        when = t("overdue_one_day" if late == 1 else "overdue_days", lang, days=late)
    else:
        when = day_text(f.due_on, today, lang)
    return t(
        "followup_line", lang, prefix=prefix, name=f.customer_name, summary=f.summary, when=when
    )


def birthday_line(b: BirthdayLine, today: date, lang: str = "zh") -> str:
    """An upcoming birthday as a list line."""
    key = "birthday_line_lunar" if b.calendar == "lunar" else "birthday_line"
    return t(key, lang, name=b.customer_name, on=day_text(b.on, today, lang))


def maturity_line(m: MaturityLine, today: date, lang: str = "zh") -> str:
    """An upcoming maturity as a list line."""
    return t(
        "maturity_line",
        lang,
        name=m.customer_name,
        kind=product_text(m.product_type, lang),
        product=m.product_name,
        amount=money_text(m.amount, m.currency, lang),
        due=day_text(m.maturity_date, today, lang),
    )
